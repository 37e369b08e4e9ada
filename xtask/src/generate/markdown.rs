//! The README's configuration table of one function.

use shared::config::{Required, Setting};

pub fn table(settings: &[Setting]) -> String {
    let mut out = String::from(
        "| Variable | Required | Default | Example | Meaning |\n|---|---|---|---|---|\n",
    );
    for s in settings {
        let required = match s.required {
            Required::Yes => "yes",
            Required::No => "no",
            Required::OneOf(words) => words,
        };
        let default = s.default.map_or_else(|| "—".to_owned(), code);
        // A setting that must stay unset has no example to show.
        let example = Some(s.example)
            .filter(|e| !e.is_empty())
            .map_or_else(|| "—".to_owned(), code);
        out.push_str(&format!(
            "| `{}` | {required} | {default} | {example} | {} |\n",
            s.name,
            cell(s.description)
        ));
    }
    out
}

/// A value as inline code; a bar would end the cell.
fn code(value: &str) -> String {
    format!("`{}`", cell(value))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting with no example (one that must stay unset) shows a dash,
    /// not an empty pair of backticks.
    #[test]
    fn a_setting_without_an_example_shows_a_dash() {
        let refused = hub_collector::config::REFUSED_RESULT_EVENT_BUS;
        let row = table(&[refused]);
        let row = row.lines().last().unwrap();
        assert!(
            row.starts_with("| `RESULT_EVENT_BUS` | no | — | — |"),
            "{row}"
        );
    }
}
