//! For plugin authors: `smsdesk plugin new` scaffolds a crate that builds
//! with one command and passes its own cases; `smsdesk plugin test` runs a
//! cases file (the first-party plugins' own cases run here on every test run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn smsdesk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsdesk")).args(args).output().unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_first_party_plugins_pass_their_own_cases() {
    for plugin in ["faq-responder", "keyword-intents", "demo-crm"] {
        let cases = repo().join("plugins").join(plugin).join("cases.yaml");
        let out = smsdesk(&["plugin", "test", &format!("builtin:{plugin}"), "--cases", cases.to_str().unwrap()]);
        assert!(out.status.success(), "{plugin}:\n{}{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        let last = text.lines().last().unwrap();
        let (passed, total) = last.split_once(" of ").unwrap();
        assert!(last.ends_with("cases passed") && total.starts_with(passed), "{plugin}: {text}");
    }
}

#[test]
fn failing_and_malformed_cases_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        "cases:\n  - name: wrong on purpose\n    text: \"where is my order\"\n    intents: { order-status: 0.95 }\n    expect:\n      action: handoff\n      reply_contains: \"refund\"\n  - name: right\n    text: \"what are your hours\"\n    intents: { store-hours: 0.9 }\n    expect:\n      action: reply-and-resolve\n",
    )
    .unwrap();
    let out = smsdesk(&["plugin", "test", "builtin:faq-responder", "--cases", cases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL   wrong on purpose"), "{text}");
    assert!(
        text.contains("- action should be `handoff`") && text.contains("- reply should contain \"refund\""),
        "{text}"
    );
    assert!(text.contains("pass   right") && text.contains("1 of 2 cases passed"), "{text}");
    let json = smsdesk(&["plugin", "test", "builtin:faq-responder", "--cases", cases.to_str().unwrap(), "--json"]);
    let results: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(results[0]["passed"], false);
    assert_eq!(results[1]["passed"], true);

    std::fs::write(&cases, "cases:\n  - name: typo\n    expect:\n      actoin: reply\n").unwrap();
    let out = smsdesk(&["plugin", "test", "builtin:faq-responder", "--cases", cases.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown field `actoin`") && stderr(&out).contains("line"), "{}", stderr(&out));
}

#[test]
fn a_scaffolded_plugin_builds_with_one_command_and_passes_its_cases() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("order-bot");
    let out = smsdesk(&["plugin", "new", "order-bot", "--role", "responder", "--dir", crate_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cargo build --release"));
    for bad in [["plugin", "new", "Order Bot", "--role", "responder"], ["plugin", "new", "x-", "--role", "crm"]] {
        let out = smsdesk(&bad);
        assert!(!out.status.success() && stderr(&out).contains("kebab-case"), "{}", stderr(&out));
    }
    let again = smsdesk(&["plugin", "new", "order-bot", "--role", "responder", "--dir", crate_dir.to_str().unwrap()]);
    assert!(stderr(&again).contains("not empty"));

    // The one command, in a target directory kept between test runs.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scaffold-target");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(&crate_dir).args(["build", "--release", "--offline"]).env("CARGO_TARGET_DIR", &target);
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER"] {
        cargo.env_remove(var);
    }
    let built = cargo.output().unwrap();
    assert!(built.status.success(), "cargo build failed:\n{}", stderr(&built));
    let wasm = target.join("wasm32-wasip2/release/order_bot.wasm");
    assert!(wasm.exists());

    let cases = crate_dir.join("cases.yaml");
    let out = smsdesk(&["plugin", "test", wasm.to_str().unwrap(), "--cases", cases.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2 of 2 cases passed"));
    let inspect = smsdesk(&["plugin", "inspect", wasm.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["name"], "order-bot");
    assert_eq!(info["roles"], serde_json::json!(["responder"]));
}

#[test]
fn plugin_test_shows_a_plugin_the_senders_number_masked_as_a_host_does() {
    // echo-from answers with the number it was given; it does not ask for
    // `raw-phone-numbers`, so the harness (like the host) masks it.
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        "cases:\n  - name: masked\n    text: hi\n    from: \"+15551234567\"\n    expect:\n      reply_contains: \"+*******4567\"\n  - name: raw\n    text: hi\n    from: \"+15551234567\"\n    expect:\n      reply_contains: \"5551234567\"\n",
    )
    .unwrap();
    let echo = smsdesk_artifacts::test_guests::ECHO_FROM.path;
    let out = smsdesk(&["plugin", "test", echo, "--cases", cases.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("pass   masked") && text.contains("FAIL   raw"), "{text}");
    assert!(!text.contains("you are +15551234567"), "{text}");
}
