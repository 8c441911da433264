//! The code shown beside each live widget, cut from the real files so that
//! it cannot drift from what runs.
//!
//! A region is marked in any language whose comments fit on one line:
//!
//! ```text
//! // region: search            {# region: widget #}
//! ...                          ...
//! // endregion                 {# endregion #}
//! ```
//!
//! Regions may nest; marker lines of inner regions are left out of the cut.

/// What a marker line says, once its comment syntax is stripped.
enum Marker<'a> {
    Start(&'a str),
    End,
}

fn marker(line: &str) -> Option<Marker<'_>> {
    let mut text = line.trim();
    for (open, close) in [
        ("//", ""),
        ("{#", "#}"),
        ("<!--", "-->"),
        ("/*", "*/"),
        ("#", ""),
    ] {
        if let Some(rest) = text.strip_prefix(open) {
            text = rest.strip_suffix(close).unwrap_or(rest).trim();
            break;
        }
    }
    if text == "endregion" {
        Some(Marker::End)
    } else {
        text.strip_prefix("region:")
            .map(|name| Marker::Start(name.trim()))
    }
}

/// The lines between `region: {name}` and its `endregion`, without marker
/// lines and with their common indentation removed; `None` when the file
/// has no such region.
pub fn region(source: &str, name: &str) -> Option<String> {
    let mut lines = source.lines();
    lines.find(|line| matches!(marker(line), Some(Marker::Start(n)) if n == name))?;
    let mut depth = 0usize;
    let mut body = Vec::new();
    for line in lines {
        match marker(line) {
            Some(Marker::Start(_)) => depth += 1,
            Some(Marker::End) if depth == 0 => return Some(dedent(&body)),
            Some(Marker::End) => depth -= 1,
            None => body.push(line),
        }
    }
    None
}

/// The whole file, minus region marker lines.
pub fn without_markers(source: &str) -> String {
    let lines: Vec<&str> = source
        .lines()
        .filter(|line| marker(line).is_none())
        .collect();
    dedent(&lines)
}

fn dedent(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in lines {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    let trimmed = out.trim_matches('\n');
    let mut text = trimmed.to_owned();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUST: &str = "fn a() {}\n// region: search\n#[x]\nasync fn search() {\n    // region: inner\n    body();\n    // endregion\n}\n// endregion\nfn b() {}\n";

    #[test]
    fn cuts_a_rust_region_without_inner_markers() {
        assert_eq!(
            region(RUST, "search").unwrap(),
            "#[x]\nasync fn search() {\n    body();\n}\n"
        );
        assert_eq!(region(RUST, "inner").unwrap(), "body();\n");
        assert!(region(RUST, "missing").is_none());
    }

    #[test]
    fn cuts_a_template_region_and_dedents() {
        let html = "<main>\n  {# region: widget #}\n  <div id=\"content\">\n    x\n  </div>\n  {# endregion #}\n</main>\n";
        assert_eq!(
            region(html, "widget").unwrap(),
            "<div id=\"content\">\n  x\n</div>\n"
        );
        assert_eq!(
            without_markers(html),
            "<main>\n  <div id=\"content\">\n    x\n  </div>\n</main>\n"
        );
    }

    #[test]
    fn an_unclosed_region_is_none() {
        assert!(region("// region: a\nx\n", "a").is_none());
    }
}
