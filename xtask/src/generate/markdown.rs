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
        let example = if s.example.is_empty() {
            "—".to_owned()
        } else {
            code(s.example)
        };
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
