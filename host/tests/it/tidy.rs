//! Architecture rules, checked like any other behaviour (see ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each framework stays in its one module: wasmtime in plugins/, axum in http/, SQL in store/.
#[test]
fn frameworks_stay_in_their_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "found the sources");
    let rules = [("wasmtime", "plugins"), ("axum", "http"), ("sqlx", "store")];
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        for (krate, home) in rules {
            let inside = rel == format!("{home}.rs") || rel.starts_with(&format!("{home}/"));
            if !inside && text.contains(&format!("{krate}::")) {
                violations.push(format!("{rel} uses {krate} (only {home}/ may)"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}
