//! Writing values as YAML and HCL text, the way a person (and
//! `terraform fmt`) would.

/// A YAML scalar: plain when YAML reads it back as the same string, else
/// double-quoted (a JSON string is a valid YAML double-quoted scalar).
/// `flow`: inside `[...]`, where commas and brackets end a plain scalar.
pub fn yaml(value: &str, flow: bool) -> String {
    if plain_is_safe(value, flow) {
        value.to_owned()
    } else {
        serde_json::to_string(value).expect("a string serializes")
    }
}

fn plain_is_safe(value: &str, flow: bool) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let reserved_word = matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    );
    let number = value.parse::<f64>().is_ok()
        || value.starts_with("0x")
        || value.starts_with("0o")
        || value.starts_with('.');
    !reserved_word
        && !number
        && !"-?:,[]{}#&*!|>'\"%@`".contains(first)
        && value.trim() == value
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.ends_with(':')
        && value.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        && !(flow && value.contains([',', '[', ']', '{', '}']))
}

/// An HCL quoted string: `"` and `\` escaped, and `${`/`%{` doubled so they
/// stay literal instead of starting a template.
pub fn hcl(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace("${", "$${")
        .replace("%{", "%%{");
    format!("\"{escaped}\"")
}

/// HCL attribute lines as `terraform fmt` lays them out: the `=` of each run
/// of one-line attributes aligned, a multi-line value ending its run.
/// Each line of `attributes` is indented by `indent`.
pub fn hcl_attributes(indent: &str, attributes: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut run: Vec<&(String, String)> = Vec::new();
    let flush = |run: &mut Vec<&(String, String)>, out: &mut String| {
        let width = run.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in run.drain(..) {
            out.push_str(&format!("{indent}{key:width$} = {value}\n"));
        }
    };
    for attribute in attributes {
        let (key, value) = attribute;
        if value.contains('\n') {
            flush(&mut run, &mut out);
            let value = value.replace('\n', &format!("\n{indent}"));
            out.push_str(&format!("{indent}{key} = {value}\n"));
        } else {
            run.push(attribute);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quotes_only_what_would_read_back_differently() {
        for plain in [
            "rate(5 minutes)",
            "toilkit:keep",
            "ALLOW,BLOCK",
            "owner",
            r"^[\x20-\x7E]*$",
        ] {
            assert_eq!(yaml(plain, false), plain);
        }
        for (value, quoted) in [
            ("", r#""""#),
            ("false", r#""false""#),
            ("503", r#""503""#),
            ("a: b", r#""a: b""#),
            ("[1]", r#""[1]""#),
            ("# not a comment", r##""# not a comment""##),
            ("é", r#""é""#),
        ] {
            assert_eq!(yaml(value, false), quoted);
        }
        assert_eq!(yaml("a,b", true), r#""a,b""#);
    }

    #[test]
    fn hcl_keeps_template_sequences_literal() {
        assert_eq!(hcl(r#"a "${b}" \ c"#), r#""a \"$${b}\" \\ c""#);
    }

    #[test]
    fn hcl_attributes_align_runs_of_one_line_values() {
        let text = hcl_attributes(
            "  ",
            &[
                ("a".to_owned(), "1".to_owned()),
                ("long".to_owned(), "2".to_owned()),
                ("m".to_owned(), "x({\n  y = 1\n})".to_owned()),
                ("bb".to_owned(), "3".to_owned()),
            ],
        );
        assert_eq!(
            text,
            "  a    = 1\n  long = 2\n  m = x({\n    y = 1\n  })\n  bb = 3\n"
        );
    }
}
