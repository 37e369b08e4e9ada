//! A small SQL lexer: enough to know where string literals, quoted names and
//! comments start and end in both dialects, so classification reads the
//! right words and redaction masks exactly the literal that holds a secret.
//!
//! It never fails: text it cannot make sense of comes out as punctuation,
//! and an unterminated literal or comment runs to the end.

use std::ops::Range;

use crate::dialect::SqlDialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword or a bare name (`@var` included).
    Word,
    /// A string literal; `inner` is its content between the quotes.
    Str {
        terminated: bool,
    },
    /// `` `name` `` or PostgreSQL `"name"`.
    QuotedName,
    /// `?`, `$1`.
    Param,
    Comment,
    Punct(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub span: Range<usize>,
    /// For literals and comments: the content without delimiters.
    pub inner: Range<usize>,
}

pub struct Lexer<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    dialect: SqlDialect,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, dialect: SqlDialect) -> Self {
        Self {
            text,
            b: text.as_bytes(),
            pos: 0,
            dialect,
        }
    }

    fn is_word_byte(&self, c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
    }

    /// A quoted run from `open` (the quote's index); backslash escapes when
    /// `backslash`, doubled quotes always.
    fn quoted(&mut self, open: usize, quote: u8, backslash: bool) -> (Range<usize>, bool) {
        let mut i = open + 1;
        while i < self.b.len() {
            let c = self.b[i];
            if backslash && c == b'\\' {
                i += 2;
                continue;
            }
            if c == quote {
                if self.b.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return (open + 1..i, true);
            }
            i += 1;
        }
        self.pos = self.b.len();
        (open + 1..self.b.len(), false)
    }

    fn token(&self, kind: Kind, start: usize, inner: Range<usize>) -> Token {
        Token {
            kind,
            span: start..self.pos,
            inner,
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        while self.pos < self.b.len() && self.b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let c = *self.b.get(start)?;
        let next = self.b.get(start + 1).copied();
        let mysql = self.dialect == SqlDialect::MySql;

        // Comments.
        // MySQL needs whitespace after `--` (`1--'x'` is `1 - -'x'`).
        let dash_comment = c == b'-'
            && next == Some(b'-')
            && (!mysql
                || self
                    .b
                    .get(start + 2)
                    .is_none_or(|d| d.is_ascii_whitespace() || d.is_ascii_control()));
        if dash_comment || (c == b'#' && mysql) {
            let body = if c == b'#' { start + 1 } else { start + 2 };
            let end = memchr_newline(self.b, start).unwrap_or(self.b.len());
            self.pos = end;
            return Some(self.token(Kind::Comment, start, body..end));
        }
        if c == b'/' && next == Some(b'*') {
            let end = if mysql {
                self.text[start + 2..].find("*/").map(|i| start + 2 + i)
            } else {
                nested_comment_end(self.b, start + 2)
            };
            self.pos = end.map_or(self.b.len(), |e| e + 2);
            return Some(self.token(Kind::Comment, start, start + 2..end.unwrap_or(self.b.len())));
        }

        match c {
            b'\'' => {
                let (inner, terminated) = self.quoted(start, b'\'', mysql);
                Some(self.token(Kind::Str { terminated }, start, inner))
            }
            b'"' if mysql => {
                let (inner, terminated) = self.quoted(start, b'"', true);
                Some(self.token(Kind::Str { terminated }, start, inner))
            }
            b'"' | b'`' => {
                let (inner, _) = self.quoted(start, c, false);
                Some(self.token(Kind::QuotedName, start, inner))
            }
            b'?' => {
                self.pos += 1;
                Some(self.token(Kind::Param, start, start..start))
            }
            b'$' if !mysql => {
                let digits = self.b[start + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                if digits > 0 {
                    self.pos = start + 1 + digits;
                    return Some(self.token(Kind::Param, start, start..start));
                }
                // Dollar quoting: $tag$ ... $tag$; a tag may hold any
                // non-ASCII letter (`$é$`), as a PostgreSQL identifier may.
                let tag_len = self.b[start + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_alphanumeric() || **d == b'_' || **d >= 0x80)
                    .count();
                if self.b.get(start + 1 + tag_len) == Some(&b'$') {
                    let tag = &self.text[start..start + tag_len + 2];
                    let body = start + tag.len();
                    return Some(match self.text[body..].find(tag) {
                        Some(i) => {
                            self.pos = body + i + tag.len();
                            self.token(Kind::Str { terminated: true }, start, body..body + i)
                        }
                        None => {
                            self.pos = self.b.len();
                            self.token(Kind::Str { terminated: false }, start, body..self.b.len())
                        }
                    });
                }
                self.pos += 1;
                Some(self.token(Kind::Punct(b'$'), start, start..start))
            }
            b'@' if next.is_some_and(|n| self.is_word_byte(n) || n == b'@') => {
                self.pos += 1;
                while self.pos < self.b.len()
                    && (self.is_word_byte(self.b[self.pos])
                        || matches!(self.b[self.pos], b'@' | b'.'))
                {
                    self.pos += 1;
                }
                Some(self.token(Kind::Word, start, start..self.pos))
            }
            c if self.is_word_byte(c) && c != b'$' => {
                while self.pos < self.b.len() && self.is_word_byte(self.b[self.pos]) {
                    self.pos += 1;
                }
                // A prefix glued to a literal: E'..', N'..', X'..', _utf8mb4'..'.
                if self.b.get(self.pos) == Some(&b'\'') {
                    let word = &self.text[start..self.pos];
                    let escapes = mysql || word.eq_ignore_ascii_case("e");
                    let prefixed = word.len() == 1 || word.starts_with('_');
                    if prefixed {
                        let (inner, terminated) = self.quoted(self.pos, b'\'', escapes);
                        return Some(self.token(Kind::Str { terminated }, start, inner));
                    }
                }
                Some(self.token(Kind::Word, start, start..self.pos))
            }
            _ => {
                // One whole character, so spans stay on char boundaries.
                let len = self.text[start..].chars().next().map_or(1, char::len_utf8);
                self.pos += len;
                Some(self.token(Kind::Punct(c), start, start..start))
            }
        }
    }
}

/// Where a PostgreSQL block comment opened just before `from` closes:
/// they nest (`/* a /* b */ still a comment */`), so text after the first
/// `*/` may still be comment, a quote in it opening nothing.
fn nested_comment_end(b: &[u8], from: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    None
}

fn memchr_newline(b: &[u8], from: usize) -> Option<usize> {
    b[from..].iter().position(|&c| c == b'\n').map(|i| from + i)
}

/// At most this many leading words are read.
pub const MAX_WORDS: usize = 4;

/// The first words of a statement, without allocating (it runs per event).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Words<'a> {
    words: [&'a str; MAX_WORDS],
    len: usize,
}

impl<'a> std::ops::Deref for Words<'a> {
    type Target = [&'a str];

    fn deref(&self) -> &[&'a str] {
        &self.words[..self.len]
    }
}

/// The first `n` (at most [`MAX_WORDS`]) words of a statement, skipping
/// comments and opening parentheses; used to name and classify it.
pub fn leading_words(text: &str, dialect: SqlDialect, n: usize) -> Words<'_> {
    let n = n.min(MAX_WORDS);
    let mut out = Words::default();
    for token in Lexer::new(text, dialect) {
        match token.kind {
            Kind::Comment => continue,
            Kind::Punct(b'(') if out.len == 0 => continue,
            Kind::Word => {
                out.words[out.len] = &text[token.span];
                out.len += 1;
                if out.len == n {
                    break;
                }
            }
            // `DEFINER=`x`@`%``: names and punctuation between keywords.
            Kind::QuotedName | Kind::Punct(_) | Kind::Str { .. } if out.len > 0 => continue,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, dialect: SqlDialect) -> Vec<(Kind, &str)> {
        Lexer::new(text, dialect)
            .map(|t| (t.kind, &text[t.inner.clone()]))
            .collect()
    }

    #[test]
    fn mysql_strings_escape_with_backslashes_and_doubling() {
        let toks = kinds(r#"x 'a\'b''c' "d\"e" `n``m` # tail"#, SqlDialect::MySql);
        assert_eq!(toks[1], (Kind::Str { terminated: true }, r"a\'b''c"));
        assert_eq!(toks[2], (Kind::Str { terminated: true }, r#"d\"e"#));
        assert_eq!(toks[3], (Kind::QuotedName, "n``m"));
        assert_eq!(toks[4], (Kind::Comment, " tail"));
    }

    #[test]
    fn postgres_strings_dollar_quotes_and_e_strings() {
        let toks = kinds(
            r#"'a\' x $$b'c$$ $t$d$$e$t$ E'f\'g' "Name" $1 'open"#,
            SqlDialect::Postgres,
        );
        assert_eq!(toks[0], (Kind::Str { terminated: true }, r"a\"));
        assert_eq!(toks[1].0, Kind::Word);
        assert_eq!(toks[2], (Kind::Str { terminated: true }, "b'c"));
        assert_eq!(toks[3], (Kind::Str { terminated: true }, "d$$e"));
        assert_eq!(toks[4], (Kind::Str { terminated: true }, r"f\'g"));
        assert_eq!(toks[5], (Kind::QuotedName, "Name"));
        assert_eq!(toks[6].0, Kind::Param);
        assert_eq!(toks[7], (Kind::Str { terminated: false }, "open"));
    }

    #[test]
    fn lexes_as_the_server_does() {
        // PostgreSQL comments nest; a quote in one opens nothing.
        let toks = kinds("/* a /* b */ ' */ 'x'", SqlDialect::Postgres);
        assert_eq!(toks.len(), 2, "{toks:?}");
        assert_eq!(toks[1], (Kind::Str { terminated: true }, "x"));
        // A non-ASCII dollar-quote tag.
        let toks = kinds("$é$don't$é$ 'x'", SqlDialect::Postgres);
        assert_eq!(toks[0], (Kind::Str { terminated: true }, "don't"));
        // MySQL `--` without a space is not a comment.
        let toks = kinds("n--'a' 'b' -- c", SqlDialect::MySql);
        assert_eq!(toks[3], (Kind::Str { terminated: true }, "a"));
        assert_eq!(toks[5], (Kind::Comment, " c"));
    }

    #[test]
    fn leading_words_skip_comments_and_definers() {
        assert_eq!(
            *leading_words("/* x */ -- y\n (SELECT 1)", SqlDialect::MySql, 2),
            ["SELECT", "1"]
        );
        assert_eq!(
            *leading_words("CREATE DEFINER=`a`@`%` PROCEDURE p()", SqlDialect::MySql, 3),
            ["CREATE", "DEFINER", "PROCEDURE"]
        );
    }
}
