//! Where a line's JSON structure is, one bit per byte: the quotes that open
//! or close strings, and the brackets outside strings.
//!
//! Built once per line with vector compares (the approach of simdjson's first
//! stage), it turns "where does this string end" and "where does this array
//! end" into bit searches, instead of a byte-by-byte walk through the request
//! headers that make up most of a WAF record. Decompression sets the pace of
//! the whole scan, and this keeps the extractor behind it.

use memchr::memchr;

/// The structure of one line; reused from line to line.
#[derive(Debug, Clone, Default)]
pub(super) struct Structure {
    /// `"` that open or close a string: not escaped by an odd run of
    /// backslashes.
    quotes: Vec<u64>,
    /// `{` and `[` outside strings.
    opens: Vec<u64>,
    /// `}` and `]` outside strings.
    closes: Vec<u64>,
    has_backslash: bool,
}

impl Structure {
    /// Indexes `line`, replacing the previous line's index.
    pub(super) fn index(&mut self, line: &[u8]) {
        let words = line.len() / 64 + 1;
        for bits in [&mut self.quotes, &mut self.opens, &mut self.closes] {
            bits.clear();
            bits.resize(words, 0);
        }
        self.has_backslash = memchr(b'\\', line).is_some();
        if self.has_backslash {
            // Escapes are rare in WAF logs: the exact byte-by-byte rule then.
            self.index_escaped(line);
            return;
        }
        let mut in_string = 0u64;
        let mut blocks = line.chunks_exact(64);
        for (word, block) in (&mut blocks).enumerate() {
            let block = block.try_into().expect("chunks_exact gives 64 bytes");
            self.index_block(word, block, &mut in_string);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut tail = [b' '; 64];
            tail[..rest.len()].copy_from_slice(rest);
            self.index_block(line.len() / 64, &tail, &mut in_string);
        }
    }

    /// Whether the line holds a backslash anywhere (so some strings may hold
    /// escapes).
    pub(super) fn has_backslash(&self) -> bool {
        self.has_backslash
    }

    /// The first string quote at or after `from`.
    pub(super) fn next_quote(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        let mut bits = self.quotes.get(word)? & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            bits = *self.quotes.get(word)?;
        }
    }

    /// Just past the bracket that closes the one at `open`; `None` when
    /// `open` is not an opening bracket outside a string, or it never closes.
    pub(super) fn container_end(&self, open: usize) -> Option<usize> {
        let mut word = open / 64;
        let from = !0u64 << (open % 64);
        let mut opens = self.opens.get(word)? & from;
        let mut closes = self.closes[word] & from;
        if opens.trailing_zeros() as usize != open % 64 {
            return None;
        }
        let mut depth = 0usize;
        loop {
            let mut both = opens | closes;
            while both != 0 {
                let bit = both & both.wrapping_neg();
                if opens & bit != 0 {
                    depth += 1;
                } else {
                    depth -= 1;
                    if depth == 0 {
                        return Some(word * 64 + bit.trailing_zeros() as usize + 1);
                    }
                }
                both ^= bit;
            }
            word += 1;
            opens = *self.opens.get(word)?;
            closes = self.closes[word];
        }
    }

    /// One 64-byte block of a line without backslashes: every quote counts.
    fn index_block(&mut self, word: usize, block: &[u8; 64], in_string: &mut u64) {
        let found = Masks::of(block);
        // Bit k is set when byte k is inside a string: from its opening
        // quote up to, not including, its closing quote. `in_string` carries
        // a string that runs on into the next block.
        let strings = prefix_xor(found.quotes) ^ *in_string;
        *in_string = 0u64.wrapping_sub(strings >> 63);
        self.quotes[word] = found.quotes;
        self.opens[word] = found.opens & !strings;
        self.closes[word] = found.closes & !strings;
    }

    fn index_escaped(&mut self, line: &[u8]) {
        let mut backslashes = 0usize;
        let mut in_string = false;
        for (at, &byte) in line.iter().enumerate() {
            let (word, bit) = (at / 64, 1u64 << (at % 64));
            match byte {
                b'\\' => {
                    backslashes += 1;
                    continue;
                }
                b'"' if backslashes.is_multiple_of(2) => {
                    self.quotes[word] |= bit;
                    in_string = !in_string;
                }
                b'{' | b'[' if !in_string => self.opens[word] |= bit,
                b'}' | b']' if !in_string => self.closes[word] |= bit,
                _ => {}
            }
            backslashes = 0;
        }
    }
}

/// Bit k of each mask says whether byte k of a block is that character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Masks {
    quotes: u64,
    opens: u64,
    closes: u64,
}

impl Masks {
    /// SSE2 is part of every x86-64 CPU, so no runtime detection is needed.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn of(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut masks = Self {
            quotes: 0,
            opens: 0,
            closes: 0,
        };
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: `lane` is 16 readable bytes and `_mm_loadu_si128` has no
            // alignment requirement; the other intrinsics only need SSE2,
            // which this function is compiled for (see the `cfg`).
            let (quotes, opens, closes) = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
                // `[` and `]` differ from `{` and `}` only in bit 5.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let mask = |x, c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)));
                (mask(v, b'"'), mask(folded, b'{'), mask(folded, b'}'))
            };
            let shift = 16 * k;
            masks.quotes |= u64::from(quotes as u16) << shift;
            masks.opens |= u64::from(opens as u16) << shift;
            masks.closes |= u64::from(closes as u16) << shift;
        }
        masks
    }

    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    fn of(block: &[u8; 64]) -> Self {
        Self::bytewise(block)
    }

    /// The reference: one byte at a time.
    #[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
    fn bytewise(block: &[u8; 64]) -> Self {
        let mut masks = Self {
            quotes: 0,
            opens: 0,
            closes: 0,
        };
        for (k, &byte) in block.iter().enumerate() {
            let bit = 1u64 << k;
            match byte {
                b'"' => masks.quotes |= bit,
                b'{' | b'[' => masks.opens |= bit,
                b'}' | b']' => masks.closes |= bit,
                _ => {}
            }
        }
        masks
    }
}

/// Bit k of the result is the parity of bits 0..=k of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every position the index reports, as (quotes, opens, closes).
    fn positions(line: &[u8]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let mut s = Structure::default();
        s.index(line);
        let ones = |bits: &[u64]| -> Vec<usize> {
            (0..line.len())
                .filter(|&i| bits[i / 64] & (1 << (i % 64)) != 0)
                .collect()
        };
        (ones(&s.quotes), ones(&s.opens), ones(&s.closes))
    }

    #[test]
    fn vector_masks_equal_the_bytewise_reference() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet = b"\"{}[]:,ab \\\x7b\x5b\x5d\x7d\xfb\xdb\x02";
        for _ in 0..2_000 {
            let block: [u8; 64] = std::array::from_fn(|_| {
                if rng.bool() {
                    alphabet[rng.usize(..alphabet.len())]
                } else {
                    rng.u8(..)
                }
            });
            assert_eq!(Masks::of(&block), Masks::bytewise(&block), "{block:?}");
        }
    }

    #[test]
    fn strings_running_across_blocks_hide_their_brackets() {
        // The string value crosses two block edges.
        let mut line = br#"{"#.to_vec();
        line.extend(br#""k":""#);
        line.extend(std::iter::repeat_n(b'{', 60));
        line.extend(std::iter::repeat_n(b']', 80));
        line.extend(br#"","l":[{}]}"#);
        assert!(!line.contains(&b'\\'));
        let (quotes, opens, closes) = positions(&line);
        let close_of_value = line.len() - 11;
        assert_eq!(
            quotes,
            [
                1,
                3,
                5,
                close_of_value,
                close_of_value + 2,
                close_of_value + 4
            ]
        );
        assert_eq!(opens, [0, line.len() - 5, line.len() - 4]);
        assert_eq!(closes, [line.len() - 3, line.len() - 2, line.len() - 1]);
        let mut s = Structure::default();
        s.index(&line);
        assert_eq!(s.container_end(0), Some(line.len()));
        assert_eq!(s.container_end(line.len() - 5), Some(line.len() - 1));
    }

    #[test]
    fn escaped_quotes_are_string_text_and_backslash_runs_pair_up() {
        // `\"` stays inside; `\\"` ends the string (the backslash is escaped).
        let line = br#"{"a":"x\"[","b":"y\\","c":[1]}"#;
        let (quotes, opens, closes) = positions(line);
        let at = |needle: &str| {
            let text = std::str::from_utf8(line).unwrap();
            text.find(needle).unwrap()
        };
        assert!(
            !quotes.contains(&(at(r#"\""#) + 1)),
            "an escaped quote is text"
        );
        assert!(
            quotes.contains(&(at(r#"\\""#) + 2)),
            "after an escaped backslash, a quote ends the string"
        );
        assert_eq!(
            opens,
            [0, at("[1")],
            "the [ inside a string is not structure"
        );
        assert_eq!(closes, [at("1]") + 1, line.len() - 1]);
    }

    #[test]
    fn a_position_that_is_not_an_open_bracket_has_no_end() {
        let line = br#"{"a":"[x]"}"#;
        let mut s = Structure::default();
        s.index(line);
        assert_eq!(s.container_end(6), None, "a bracket inside a string");
        assert_eq!(s.container_end(1), None, "a quote");
        assert_eq!(s.container_end(0), Some(line.len()));
        s.index(br#"{"a":[1,2"#);
        assert_eq!(s.container_end(5), None, "never closed");
    }
}
