//! Block Kit messages built from findings, split to stay under Slack's limits.

use serde::Serialize;

/// Slack rejects more than 50 blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Slack rejects section text over 3000 characters.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Slack truncates a header over 150 characters.
pub const MAX_HEADER_CHARS: usize = 150;
/// A conservative budget per message for all text together: Slack's documented
/// ceilings are per block, and very long messages are collapsed or refused.
pub const MAX_MESSAGE_CHARS: usize = 12_000;

/// One thing to tell people about: a blocked IP, a DDL statement, a violation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finding {
    /// The first, bold line.
    pub title: String,
    /// `label: value` pairs (who, where, when...). Values are escaped.
    pub fields: Vec<(String, String)>,
    /// Longer text (a statement), shown as a code block and truncated to fit.
    pub body: Option<String>,
}

/// One webhook message. Its fields are private: a message is only made by
/// [`build_messages`], which escapes every piece of outside text, so a
/// function cannot put raw markup (`<!channel>`, `<https://evil|click>`) in
/// front of people by forgetting to escape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The notification text Slack shows where blocks cannot be shown (push
    /// notifications, the channel list); Slack parses it as mrkdwn.
    text: String,
    blocks: Vec<Block>,
}

impl Message {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Header { text: Text },
    Section { text: Text },
    Context { elements: Vec<Text> },
    Divider,
}

/// A Block Kit text object. It can only be made from escaped text (see
/// [`Text::plain`]) or by the builder's own formatting around escaped text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    #[serde(rename = "type")]
    kind: TextKind,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum TextKind {
    PlainText,
    Mrkdwn,
}

impl Block {
    fn chars(&self) -> usize {
        match self {
            Block::Header { text } | Block::Section { text } => text.chars(),
            Block::Context { elements } => elements.iter().map(Text::chars).sum(),
            Block::Divider => 0,
        }
    }
}

impl Text {
    /// Outside text shown as it is, escaped and cut to `max` characters.
    pub fn plain(outside: &str, max: usize) -> Self {
        Self {
            kind: TextKind::PlainText,
            text: truncate(&escape(outside), max),
        }
    }

    /// Outside text in a mrkdwn object: escaped, so it formats nothing but
    /// `*bold*`-style emphasis, and links and mentions stay text.
    pub fn mrkdwn(outside: &str, max: usize) -> Self {
        Self::markup(escape(outside), max)
    }

    /// mrkdwn the builder composed from escaped parts.
    fn markup(escaped: String, max: usize) -> Self {
        Self {
            kind: TextKind::Mrkdwn,
            text: truncate(&escaped, max),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn chars(&self) -> usize {
        self.text.chars().count()
    }
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    // One pass and one allocation: it runs on every field of every finding,
    // and three chained `replace`s copied each field three times.
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1);
    let mut out: String = text.chars().take(keep).collect();
    out.push('…');
    out
}

/// Builds the messages for `findings` under a header `title`, with an optional
/// context line (`summary`) after the header. Messages after the first say
/// which part they are, so a reader knows nothing is missing.
pub fn build_messages(title: &str, summary: Option<&str>, findings: &[Finding]) -> Vec<Message> {
    let sections: Vec<Block> = findings.iter().map(finding_section).collect();
    let mut chunks: Vec<Vec<Block>> = Vec::new();
    let mut current: Vec<Block> = Vec::new();
    let mut current_chars = 0;
    // Header and context take two blocks; leave room for them.
    let max_sections = MAX_BLOCKS - 2;
    for section in sections {
        let chars = section.chars();
        if !current.is_empty()
            && (current.len() >= max_sections || current_chars + chars > MAX_MESSAGE_CHARS - 500)
        {
            chunks.push(std::mem::take(&mut current));
            current_chars = 0;
        }
        current_chars += chars;
        current.push(section);
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    let parts = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, sections)| {
            let heading = if parts > 1 {
                format!("{title} ({}/{parts})", i + 1)
            } else {
                title.to_owned()
            };
            let mut blocks = vec![Block::Header {
                text: Text::plain(&heading, MAX_HEADER_CHARS),
            }];
            if let Some(summary) = summary {
                blocks.push(Block::Context {
                    elements: vec![Text::mrkdwn(summary, MAX_SECTION_CHARS)],
                });
            }
            blocks.extend(sections);
            Message {
                // Slack parses this as mrkdwn: a mention here would notify.
                text: truncate(&escape(&heading), MAX_HEADER_CHARS),
                blocks,
            }
        })
        .collect()
}

fn finding_section(finding: &Finding) -> Block {
    let mut text = format!("*{}*", escape(&finding.title));
    for (label, value) in &finding.fields {
        text.push_str(&format!("\n*{}:* {}", escape(label), escape(value)));
    }
    if let Some(body) = &finding.body {
        let room = MAX_SECTION_CHARS.saturating_sub(text.chars().count() + 8);
        // Backticks inside a code block would end it early.
        let body = escape(&body.replace("```", "'''"));
        text.push_str(&format!("\n```{}```", truncate(&body, room)));
    }
    Block::Section {
        text: Text::markup(text, MAX_SECTION_CHARS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(i: usize, body_len: usize) -> Finding {
        Finding {
            title: format!("event {i}"),
            fields: vec![("who".into(), "admin@10.0.0.1".into())],
            body: Some("x".repeat(body_len)),
        }
    }

    fn assert_within_limits(message: &Message) {
        assert!(message.blocks.len() <= MAX_BLOCKS);
        let total: usize = message.blocks.iter().map(Block::chars).sum();
        assert!(total <= MAX_MESSAGE_CHARS, "{total}");
        for block in &message.blocks {
            if let Block::Section { text } = block {
                assert!(text.chars() <= MAX_SECTION_CHARS);
            }
        }
    }

    #[test]
    fn many_findings_split_into_numbered_messages() {
        let findings: Vec<Finding> = (0..120).map(|i| finding(i, 10)).collect();
        let messages = build_messages("DDL on prod-db", Some("120 events"), &findings);
        assert_eq!(messages.len(), 3);
        messages.iter().for_each(assert_within_limits);
        assert_eq!(messages[0].text, "DDL on prod-db (1/3)");
        let sections: usize = messages.iter().map(|m| m.blocks.len() - 2).sum();
        assert_eq!(sections, 120, "every finding is in exactly one message");
    }

    #[test]
    fn long_bodies_are_truncated_and_split_by_size() {
        let findings: Vec<Finding> = (0..10).map(|i| finding(i, 10_000)).collect();
        let messages = build_messages("big", None, &findings);
        assert!(messages.len() >= 3);
        messages.iter().for_each(assert_within_limits);
    }

    #[test]
    fn escape_agrees_with_replacing_each_character_in_turn() {
        for text in [
            "", "plain", "&", "<>", "a&b<c>d", "&amp;", "&lt;&gt;", "é<ü>&", "<<&&>>",
        ] {
            let chained = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert_eq!(escape(text), chained, "{text:?}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let messages = build_messages(
            "t",
            None,
            &[Finding {
                title: "<!channel> & co".into(),
                fields: vec![],
                body: Some("SELECT 1 WHERE a < b ```".into()),
            }],
        );
        let json = serde_json::to_string(&messages[0]).unwrap();
        assert!(json.contains("&lt;!channel&gt; &amp; co"));
        assert!(json.contains("a &lt; b '''"));
        assert!(json.contains("\"type\":\"section\""));
        assert!(json.contains("\"type\":\"mrkdwn\""));
    }

    #[test]
    fn outside_text_is_escaped_in_the_header_the_notification_and_the_context() {
        let hostile = "<!channel> <https://evil.example|click here> & co";
        let messages = build_messages(
            &format!("Violation on {hostile}"),
            Some(hostile),
            &[Finding {
                title: hostile.into(),
                fields: vec![(hostile.into(), hostile.into())],
                body: Some(hostile.into()),
            }],
        );
        let json = serde_json::to_value(&messages[0]).unwrap();
        let texts: Vec<&str> = std::iter::once(messages[0].text())
            .chain(messages[0].blocks().iter().flat_map(|b| match b {
                Block::Header { text } | Block::Section { text } => vec![text.as_str()],
                Block::Context { elements } => elements.iter().map(Text::as_str).collect(),
                Block::Divider => vec![],
            }))
            .collect();
        assert_eq!(texts.len(), 4, "{json}");
        for text in texts {
            assert!(!text.contains('<') && !text.contains('>'), "{text}");
            assert!(text.contains("&lt;!channel&gt;"), "{text}");
            assert!(text.contains("&amp; co"), "{text}");
        }
        assert_eq!(json["blocks"][0]["type"], "header");
        assert_eq!(json["blocks"][0]["text"]["type"], "plain_text");
        assert_eq!(json["blocks"][1]["elements"][0]["type"], "mrkdwn");
        // The builder's own formatting still works.
        assert!(
            json["blocks"][2]["text"]["text"]
                .as_str()
                .unwrap()
                .starts_with("*&lt;!channel&gt;")
        );
    }
}
