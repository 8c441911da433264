//! The guides cannot rot: every code block in docs/guide.md,
//! docs/from-django-liveview.md and docs/from-htmx.md is either a whole
//! file of the repository (`<!-- file: P -->`, compiled and tested by
//! CI), a part of one (`<!-- part of: P -->`), the dependencies of a
//! manifest (`<!-- deps of: P -->`), shell commands, or the other
//! framework's code quoted for comparison (`<!-- theirs -->`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;

const GUIDES: [&str; 3] = [
    "docs/guide.md",
    "docs/from-django-liveview.md",
    "docs/from-htmx.md",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// (marker line before the block, info string, body), per fenced block.
fn blocks(text: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines();
    let mut last = String::new();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            found.push((
                std::mem::take(&mut last),
                info.trim().to_owned(),
                body.join("\n"),
            ));
        } else if !line.trim().is_empty() {
            last = line.trim().to_owned();
        }
    }
    found
}

fn deps(toml: &str) -> BTreeSet<String> {
    let mut section = "";
    let mut names = BTreeSet::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if let Some((name, _)) = line.split_once('=') {
            if section.ends_with("dependencies]") {
                names.insert(format!("{section} {}", name.trim()));
            }
        }
    }
    names
}

#[test]
fn every_code_block_in_the_guides_is_checked() {
    let mut checked = 0;
    for guide in GUIDES {
        let text =
            std::fs::read_to_string(repo().join(guide)).unwrap_or_else(|e| panic!("{guide}: {e}"));
        for (marker, info, body) in blocks(&text) {
            let marker = marker
                .strip_prefix("<!--")
                .and_then(|m| m.strip_suffix("-->"))
                .map(str::trim);
            let read = |path: &str| {
                std::fs::read_to_string(repo().join(path.trim()))
                    .unwrap_or_else(|e| panic!("{guide}: {path}: {e}"))
            };
            match marker
                .and_then(|m| m.split_once(':'))
                .map(|(k, p)| (k.trim(), p.trim()))
            {
                Some(("file", path)) => assert_eq!(
                    body.trim_end(),
                    read(path).trim_end(),
                    "{guide}: the block of {path}"
                ),
                Some(("part of", path)) => {
                    assert!(
                        read(path).contains(body.trim()),
                        "{guide}: a block is not part of {path}:\n{body}"
                    )
                }
                Some(("deps of", path)) => assert_eq!(
                    deps(&body),
                    deps(&read(path)),
                    "{guide}: dependencies of {path}"
                ),
                _ if marker == Some("theirs") || info == "sh" => {}
                _ => panic!("{guide}: a ```{info} block has no marker of what checks it:\n{body}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} blocks found");
}
