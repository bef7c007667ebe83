//! A schema-driven fuzzer (schemathesis, from PyPI; `cargo xtask test`
//! installs it) against both OpenAPI descriptions of a live host, with valid
//! tokens: no 5xx, no status the description does not list, no response that
//! breaks its schema or content type.

use crate::admin::OPS;
use crate::host::{API_TOKEN, text};
use crate::tickets::{ANA_AGENT, ticket_when};
use smsdesk::server;
use std::path::PathBuf;

/// The `st` program: `SMSDESK_TEST_SCHEMATHESIS`, else on `PATH`.
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SMSDESK_TEST_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("st")).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "schemathesis is not installed: run the README's test command (`cargo xtask test`), which \
                 installs it, or set SMSDESK_TEST_SCHEMATHESIS to its `st` program"
            )
        })
}

/// Run schemathesis against the description at `spec`; the report if it failed.
fn fuzz(st: &std::path::Path, base: &str, spec: &str, token: &str, dir: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new(st)
        // Its caches (`.schemathesis/`, `.hypothesis/`) go to the test's own
        // directory, so runs stay independent and nothing lands in the clone.
        .current_dir(dir)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{base}{spec}"))
        .args(["--url", base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // Bounded and repeatable: a fixed seed and example budget.
        .args(["--max-examples", "30", "--seed", "20261202", "--phases", "examples,coverage,fuzzing"])
        // One worker: schemathesis 4.32's generation is not reliably thread-safe
        // (an internal KeyError seen with two).
        .args(["--workers", "1", "--request-timeout", "10", "--no-color"])
        // An endless event stream; its own tests cover it.
        .args(["--exclude-path", "/api/v1/events"])
        .arg("--report-dir")
        .arg(dir.join("report"))
        // Plugin uploads are raw bytes (`application/wasm`).
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis"))
        .env("SCHEMATHESIS_HOOKS", "smsdesk_hooks")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", st.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(text) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_driven_fuzzer_finds_no_server_error_and_nothing_undescribed() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(crate::admin::config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    // Something to find: a ticket with a customer message and a bot reply.
    assert_eq!(text(&base, "SMfuzz1", crate::host::ANA, "where is my order").await.status(), 200);
    ticket_when(&base, ANA_AGENT, crate::host::ANA, |t| t["messages"].as_array().is_some_and(|m| m.len() >= 2)).await;

    // Real ids for the path parameters, so generated bodies reach a real
    // ticket, conversation and tenant rather than stopping at 404.
    let ticket = ticket_when(&base, ANA_AGENT, crate::host::ANA, |_| true).await;
    let work = dir.path().join("schemathesis");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("schemathesis.toml"),
        format!(
            "[parameters]\n\"path.ticket\" = \"{}\"\n\"path.id\" = {}\n\"path.tenant\" = \"acme\"\n",
            ticket["id"], ticket["id"]
        ),
    )
    .unwrap();
    let mut failures = Vec::new();
    for (spec, token) in [("/api/v1/openapi.json", API_TOKEN), ("/admin/v1/openapi.json", OPS)] {
        let base = base.clone();
        let (st, work) = (st.clone(), work.clone());
        let run = tokio::task::spawn_blocking(move || fuzz(&st, &base, spec, token, &work)).await.unwrap();
        match run {
            Ok(out) => println!(
                "{spec}: {}",
                out.lines().rev().find(|l| l.contains("passed") || l.contains("cases")).unwrap_or("")
            ),
            Err(out) => failures.push(format!("== {spec}\n{out}")),
        }
    }
    host.shutdown().await;
    assert!(failures.is_empty(), "schemathesis found problems:\n{}", failures.join("\n"));
}
