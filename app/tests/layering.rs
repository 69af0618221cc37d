//! The crate's modules import in one direction: pages -> api -> ssr -> types. A reader of `ssr/`
//! or `types/` must never need the layers above to know who owns a type, so an import that points
//! upwards fails here with the file and line that made it.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("source folder is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every `crate::<forbidden>` path in the files under `src/<layer>`, as `file:line: text`.
fn upward_imports(layer: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(layer);
    let mut found = Vec::new();
    for file in rust_files(&root) {
        let text = fs::read_to_string(&file).expect("source file is readable");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for module in forbidden {
                if line.contains(&format!("crate::{module}::"))
                    || line.contains(&format!("crate::{module};"))
                {
                    found.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn types_import_no_layer_above_them() {
    let found = upward_imports("types", &["api", "ssr", "pages", "components", "charts"]);
    assert!(
        found.is_empty(),
        "types/ imports a layer above it:\n{}",
        found.join("\n")
    );
}

#[test]
fn server_bodies_do_not_import_server_functions_or_pages() {
    let found = upward_imports("ssr", &["api", "pages", "components", "charts"]);
    assert!(
        found.is_empty(),
        "ssr/ imports a layer above it:\n{}",
        found.join("\n")
    );
}

#[test]
fn server_functions_do_not_import_pages() {
    let found = upward_imports("api", &["pages", "components", "charts"]);
    assert!(
        found.is_empty(),
        "api/ imports a layer above it:\n{}",
        found.join("\n")
    );
}
