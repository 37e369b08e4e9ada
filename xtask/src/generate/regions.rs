//! Generated regions inside hand-written files: the text between a line
//! holding `BEGIN generated: <id> ` and one holding `END generated: <id>`,
//! whatever comment syntax the file uses around them.

/// `text` with each region's body replaced by its new content (whole lines,
/// each ending in a newline). A region missing from the file is an error:
/// generating nothing would pass every check.
pub fn fill(text: &str, regions: &[(String, String)]) -> Result<String, String> {
    let mut out = text.to_owned();
    for (id, body) in regions {
        let begin_marker = format!("BEGIN generated: {id} ");
        let end_marker = format!("END generated: {id}");
        let begin = out
            .find(&begin_marker)
            .ok_or_else(|| format!("no `BEGIN generated: {id} ...` line"))?;
        let body_start = out[begin..]
            .find('\n')
            .map(|i| begin + i + 1)
            .ok_or_else(|| format!("the BEGIN line of {id} ends the file"))?;
        let end = out[body_start..]
            .lines()
            .scan(body_start, |at, line| {
                let start = *at;
                *at += line.len() + 1;
                Some((start, line))
            })
            .find(|(_, line)| ends_region(line, &end_marker))
            .map(|(start, _)| start)
            .ok_or_else(|| format!("no `END generated: {id}` line after its BEGIN"))?;
        out.replace_range(body_start..end, body);
    }
    Ok(out)
}

/// Whether `line` holds `marker` as a whole: followed by nothing or a space
/// (`END generated: a` does not end region `ab`, and `-->` may follow).
fn ends_region(line: &str, marker: &str) -> bool {
    line.match_indices(marker).any(|(at, _)| {
        line[at + marker.len()..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_region_between_the_markers_changes() {
        let text = "keep\n  # BEGIN generated: a (from x)\n  old\n  # END generated: a\nkeep too\n";
        let filled = fill(text, &[("a".to_owned(), "  new\n  lines\n".to_owned())]).unwrap();
        assert_eq!(
            filled,
            "keep\n  # BEGIN generated: a (from x)\n  new\n  lines\n  # END generated: a\nkeep too\n"
        );
        assert_eq!(
            fill(&filled, &[("a".to_owned(), "  new\n  lines\n".to_owned())]).unwrap(),
            filled
        );
    }

    #[test]
    fn a_region_ends_at_its_own_end_marker_only() {
        let text = "<!-- BEGIN generated: a -->\nx\n<!-- END generated: ab -->\n<!-- END generated: a -->\n";
        let filled = fill(text, &[("a".to_owned(), "y\n".to_owned())]).unwrap();
        assert_eq!(
            filled,
            "<!-- BEGIN generated: a -->\ny\n<!-- END generated: a -->\n"
        );
    }

    #[test]
    fn a_missing_region_is_an_error() {
        let err = fill("nothing here\n", &[("b".to_owned(), String::new())]).unwrap_err();
        assert!(err.contains("BEGIN generated: b"), "{err}");
        let err = fill(
            "<!-- BEGIN generated: b -->\n",
            &[("b".to_owned(), String::new())],
        )
        .unwrap_err();
        assert!(err.contains("END generated: b"), "{err}");
    }
}
