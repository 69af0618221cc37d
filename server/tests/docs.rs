//! The documentation a newcomer reads: every relative link in the README, `docs/` and
//! `models/README.md` leads to a file of this repository, and the README stays short.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pages() -> Vec<PathBuf> {
    let root = repository();
    let mut pages = vec![root.join("README.md"), root.join("models/README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("docs entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    pages
}

/// The targets of the page's Markdown links `[text](target)`, outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_in_the_documentation_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a page");
        for target in link_targets(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
                || target.starts_with('#')
            {
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            checked += 1;
            if !page.parent().unwrap().join(file).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
    assert!(
        checked >= 10,
        "only {checked} relative links found: is the parser right?"
    );
}

#[test]
fn the_readme_is_a_five_minute_read_that_points_to_every_docs_page() {
    let root = repository();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "the README has {lines} lines; details belong in docs/"
    );
    for page in pages() {
        let Ok(relative) = page.strip_prefix(&root) else {
            continue;
        };
        let relative = relative.to_string_lossy();
        if relative.starts_with("docs/") {
            assert!(
                readme.contains(&format!("({relative})")),
                "the README does not link {relative}"
            );
        }
    }
}

#[test]
fn the_link_parser_finds_links_outside_code_only() {
    let text = "see [a](docs/a.md) and [b](#x)\n```\n[c](nope.md)\n```\n[d](../e.md#f)";
    assert_eq!(link_targets(text), ["docs/a.md", "#x", "../e.md#f"]);
}
