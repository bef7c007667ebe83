//! The admin API and `smsdesk plugin …` over real HTTP: upload (and refuse
//! bad uploads, leaving what runs untouched), bind with configuration,
//! upgrade under continuous load without a failed or lost message, roll
//! back, disable and enable, remove unused versions, the audit log, and a
//! restart that keeps the managed bindings.

use crate::host::{first_party_plugins, log_provider, tenant, text};
use crate::tickets::{ANA_AGENT, call, helpdesk_tenant, ticket_when};
use reqwest::Method;
use serde_json::{Value, json};
use smsdesk::config::{Config, UserConfig, UserRole};
use smsdesk::server;
use smsdesk_artifacts::test_guests::{GREETER_V1, GREETER_V2};
use std::time::{Duration, Instant};

pub const OPS: &str = "token-of-host-admin-ops-01";

pub fn config(dir: &std::path::Path) -> Config {
    let _ = (tenant, log_provider, first_party_plugins);
    Config {
        data_dir: dir.to_path_buf(),
        database_url: crate::support::database_url(dir),
        bind: "127.0.0.1:0".parse().unwrap(),
        plugin_cache_dir: Some(crate::support::shared_cache_dir()),
        // Uploads are compiled in a worker process, as `smsdesk serve` does.
        plugin_compile_worker: Some(env!("CARGO_BIN_EXE_smsdesk").into()),
        tenants: vec![helpdesk_tenant()],
        admins: vec![UserConfig {
            id: "ops".into(),
            name: "Ops".into(),
            role: UserRole::Admin,
            teams: vec![],
            token: Some(OPS.into()),
            token_sha256: None,
        }],
        ..Config::default()
    }
}

pub async fn upload(base: &str, bytes: Vec<u8>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/admin/v1/plugins"))
        .bearer_auth(OPS)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The bot replies of `contact`'s ticket.
pub async fn bot_replies(base: &str, contact: &str, n: usize) -> Vec<String> {
    let t = ticket_when(base, ANA_AGENT, contact, |t| {
        t["messages"].as_array().unwrap().iter().filter(|m| m["author"] == "bot").count() >= n
    })
    .await;
    t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == "bot")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `bytes` with `from` replaced by `to` (same length) wherever it follows `after` within 64 bytes.
fn replace_all(bytes: &[u8], after: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(p) = out[i..].windows(after.len()).position(|w| w == after) {
        let start = i + p;
        let window_end = (start + 64).min(out.len());
        if let Some(q) = out[start..window_end].windows(from.len()).position(|w| w == from) {
            out[start + q..start + q + from.len()].copy_from_slice(to);
        }
        i = start + after.len();
    }
    out
}

fn greeter() -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(GREETER_V1.path).unwrap(), std::fs::read(GREETER_V2.path).unwrap())
}

/// The tests' publisher key (one per test process).
pub fn qa_key() -> &'static smsdesk_signing::SecretKey {
    static KEY: std::sync::OnceLock<smsdesk_signing::SecretKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| smsdesk_signing::SecretKey::generate().unwrap())
}

/// `bytes` signed by the tests' publisher `qa`.
pub fn signed(bytes: &[u8]) -> Vec<u8> {
    smsdesk_signing::sign(bytes, qa_key()).unwrap()
}

/// Register the publisher `qa` on a host and make `acme` trust it.
pub async fn trust_qa(base: &str) {
    let key = qa_key().public().to_string();
    let (status, out) = call(base, Method::PUT, "/admin/v1/publishers/qa", OPS, Some(json!({ "key": key }))).await;
    assert!(status == 201 || status == 200, "{out}");
    let (status, out) = call(base, Method::PUT, "/admin/v1/tenants/acme/publishers/qa", OPS, None).await;
    assert_eq!(status, 204, "{out}");
}

/// Let `acme` bind unsigned plugins.
pub async fn allow_unsigned(base: &str) {
    let (status, out) = call(base, Method::PUT, "/admin/v1/tenants/acme/publishers/unsigned", OPS, None).await;
    assert_eq!(status, 204, "{out}");
}

#[tokio::test]
async fn admins_install_bind_upgrade_under_load_roll_back_and_everything_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    trust_qa(&base).await;
    let (v1_unsigned, v2) = greeter();
    let (v1, v2) = (signed(&v1_unsigned), signed(&v2));

    // Only host admins: no token, a tenant agent's token, a wrong one.
    for token in ["", ANA_AGENT, "nope-nope-nope-nope"] {
        let (status, _) = call(&base, Method::GET, "/admin/v1/plugins", token, None).await;
        assert_eq!(status, 401, "{token}");
    }

    // Upload v1; the same bytes again are recognised.
    let (status, up) = upload(&base, v1.clone()).await;
    assert_eq!(status, 201, "{up}");
    let p1 = up["plugin"].clone();
    assert_eq!((p1["name"].as_str(), p1["version"].as_str()), (Some("greeter"), Some("1.0.0")));
    assert_eq!(
        (p1["publisher"].as_str(), p1["publisher_key"].as_str()),
        (Some("qa"), Some(&*qa_key().public().to_string()))
    );
    assert_eq!(p1["roles"], json!(["responder"]));
    assert_eq!(p1["wit_version"], "0.2.0");
    assert_eq!(p1["size"].as_u64(), Some(v1.len() as u64));
    let (status, again) = upload(&base, v1.clone()).await;
    assert_eq!((status, again["created"].as_bool()), (200, Some(false)));

    // Bad uploads are refused with the reason; nothing changes.
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    for (bytes, why) in [
        (b"hello, not wasm".to_vec(), "rejected"),
        (core_module, "core"),
        (v1[..v1.len() / 2].to_vec(), "rejected"),
        (Vec::new(), "empty"),
    ] {
        let (status, out) = upload(&base, bytes).await;
        assert_eq!(status, 400, "{out}");
        assert!(out["error"].as_str().unwrap().to_lowercase().contains(why), "{why}: {out}");
    }
    // The component's bytes under another media type (a bare `curl --data-binary`).
    let r = reqwest::Client::new()
        .post(format!("{base}/admin/v1/plugins"))
        .bearer_auth(OPS)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(v1.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert!(r.text().await.unwrap().contains("application/wasm"));
    // A component for another contract version (v1 with every
    // `smsdesk:plugin/…@0.2.0` name rewritten to @0.9.0, same length).
    let other_contract = signed(&replace_all(&v1_unsigned, b"smsdesk:plugin/", b"@0.2.0", b"@0.9.0"));
    let (status, out) = upload(&base, other_contract).await;
    assert_eq!(status, 400, "{out}");
    let why = out["error"].as_str().unwrap();
    assert!(
        why.contains("built against smsdesk:plugin@0.9.0") && why.contains("runs contract versions 0.1.0, 0.2.0"),
        "{why}"
    );
    let list = call(&base, Method::GET, "/admin/v1/plugins", OPS, None).await.1;
    assert_eq!(list["plugins"].as_array().unwrap().len(), 1);

    // Before binding, the configured faq-responder answers.
    assert_eq!(text(&base, "SMg0", "+15550100000", "what are your store hours").await.status(), 200);
    assert!(bot_replies(&base, "+15550100000", 1).await[0].contains("open"), "faq-responder answers");

    // Bind v1 as the responder, with configuration: hot.
    let bind = |body: Value| {
        let base = base.clone();
        async move {
            call(&base, Method::PUT, "/admin/v1/tenants/acme/bindings/responder/qa/greeter", OPS, Some(body)).await
        }
    };
    let (status, out) = bind(json!({"version": "1.0.0", "config": {"greeting": "hi"}})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(text(&base, "SMg1", "+15550100001", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550100001", 1).await, ["greeter 1.0.0: hi (hello)"]);

    // Mistakes: unknown tenant, version, role; bad configuration.
    let (s1, _) =
        call(&base, Method::PUT, "/admin/v1/tenants/nobody/bindings/responder/qa/greeter", OPS, Some(json!({}))).await;
    let (s2, _) = bind(json!({"version": "9.9.9"})).await;
    let (s3, o3) =
        call(&base, Method::PUT, "/admin/v1/tenants/acme/bindings/crm/qa/greeter", OPS, Some(json!({}))).await;
    let (s4, o4) = bind(json!({"config": "not an object"})).await;
    assert_eq!((s1, s2, s3, s4), (404, 404, 400, 400), "{o3} {o4}");
    assert!(o3["error"].as_str().unwrap().contains("does not export the crm role"));

    // Upgrade to v2 while customers keep texting: every message is answered
    // once, by one version or the other; none fails or goes missing.
    let (status, up2) = upload(&base, v2.clone()).await;
    assert_eq!(status, 201, "{up2}");
    let sender = {
        let base = base.clone();
        tokio::spawn(async move {
            // When each customer's text was sent.
            let mut sent_at = Vec::new();
            for i in 0..120 {
                let from = format!("+1555020{i:04}");
                sent_at.push(Instant::now());
                assert_eq!(text(&base, &format!("SMload{i}"), &from, "hello").await.status(), 200);
                tokio::time::sleep(Duration::from_millis(8)).await;
            }
            sent_at
        })
    };
    // Upgrade once 1.0.0 has answered someone, while texts keep coming.
    bot_replies(&base, "+15550200000", 1).await;
    // 2.0.0 asks for more than 1.0.0 was granted: not activated until approved.
    let (status, out) = bind(json!({"version": "2.0.0", "config": {"greeting": "hey"}})).await;
    assert_eq!(status, 409, "{out}");
    let why = out["error"].as_str().unwrap();
    assert!(why.contains("outbound-http:crm.example.com") && why.contains("more than 1.0.0"), "{why}");
    let (status, out) =
        bind(json!({"version": "2.0.0", "config": {"greeting": "hey"}, "grants": ["outbound-http:crm.example.com"]}))
            .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["binding"]["grants"], json!(["outbound-http:crm.example.com"]));
    let upgraded_at = Instant::now();
    let sent_at = sender.await.unwrap();
    for i in 0..120 {
        bot_replies(&base, &format!("+1555020{i:04}"), 1).await;
    }
    // Everything is processed and sent: a second reply would be here now.
    crate::host::settled(&host.store).await;
    let mut by_version = [0usize; 2];
    for (i, sent) in sent_at.iter().enumerate() {
        let replies = bot_replies(&base, &format!("+1555020{i:04}"), 1).await;
        assert_eq!(replies.len(), 1, "customer {i}: {replies:?}");
        match replies[0].as_str() {
            "greeter 1.0.0: hi (hello)" => by_version[0] += 1,
            "greeter 2.0.0: hey (hello)" => by_version[1] += 1,
            other => panic!("customer {i} got {other:?}"),
        }
        // The swap is immediate: a text sent after the binding changed is
        // answered by the new version.
        if *sent > upgraded_at {
            assert_eq!(replies[0], "greeter 2.0.0: hey (hello)", "customer {i} texted after the upgrade");
        }
    }
    assert!(by_version[0] > 0 && by_version[1] > 0, "both versions served: {by_version:?}");
    let failures = call(&base, Method::GET, "/api/v1/tickets?owner=human&limit=500", ANA_AGENT, None).await.1;
    assert!(failures["tickets"].as_array().unwrap().is_empty(), "no message went to a human: {failures}");
    assert_eq!(text(&base, "SMg2", "+15550100002", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550100002", 1).await, ["greeter 2.0.0: hey (hello)"]);

    // Roll back: v1 again (its configuration stays the binding's).
    let action = |a: &str| {
        let base = base.clone();
        let path = format!("/admin/v1/tenants/acme/bindings/responder/qa/greeter/{a}");
        async move { call(&base, Method::POST, &path, OPS, None).await }
    };
    let (status, out) = action("rollback").await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["binding"]["version_id"], p1["id"]);
    assert_eq!(text(&base, "SMg3", "+15550100003", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550100003", 1).await, ["greeter 1.0.0: hey (hello)"]);
    assert_eq!(action("rollback").await.0, 409, "nothing earlier to roll back to");

    // Disable: the configured responder answers again; enable: greeter is back.
    assert_eq!(action("disable").await.0, 200);
    assert_eq!(text(&base, "SMg4", "+15550100004", "what are your store hours").await.status(), 200);
    assert!(bot_replies(&base, "+15550100004", 1).await[0].contains("open"));
    assert_eq!(action("enable").await.0, 200);
    assert_eq!(action("explode").await.0, 404);

    // The active set, as the admin sees it.
    let b = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
    let responder = b["active"].as_array().unwrap().iter().find(|a| a["role"] == "responder").unwrap().clone();
    assert_eq!((responder["identity"].as_str(), responder["version"].as_str()), (Some("qa/greeter"), Some("1.0.0")));
    assert_eq!(responder["breaker"]["state"], "closed");
    // Its numbers: calls by outcome and latency (at least this test's 120+ calls, no errors).
    assert!(responder["metrics"]["calls"].as_u64().unwrap() >= 120, "{responder}");
    assert_eq!(responder["metrics"]["errors"], 0);
    assert!(responder["metrics"]["latency_seconds"]["p90_at_most"].as_f64().is_some(), "{responder}");

    // v2 is no longer used: it can be removed; v1 cannot.
    let v2_id = up2["plugin"]["id"].as_i64().unwrap();
    assert_eq!(call(&base, Method::DELETE, &format!("/admin/v1/plugins/{v2_id}"), OPS, None).await.0, 204);
    let (status, out) = call(&base, Method::DELETE, &format!("/admin/v1/plugins/{}", p1["id"]), OPS, None).await;
    assert_eq!(status, 409, "{out}");

    // Every action is in the audit log, with who.
    let audit = call(&base, Method::GET, "/admin/v1/audit", OPS, None).await.1;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "publisher.add",
            "publisher.trust",
            "plugin.upload",
            "binding.set",
            "plugin.upload",
            "binding.set",
            "binding.rollback",
            "binding.disable",
            "binding.enable",
            "plugin.remove"
        ]
    );
    assert!(audit["entries"].as_array().unwrap().iter().all(|e| e["actor"] == "ops"));

    // A restart keeps the managed binding (and compiles nothing new).
    host.shutdown().await;
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMg5", "+15550100005", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550100005", 1).await, ["greeter 1.0.0: hey (hello)"]);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_cli_signs_installs_lists_and_rolls_back_over_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.max_plugin_bytes = 1 << 20;
    let host = server::start(c).await.unwrap();
    let base = format!("http://{}", host.addr);
    let run = |args: &[&str], with_server: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"));
        cmd.args(args);
        if with_server {
            cmd.args(["--server", &base]);
        }
        cmd.env("SMSDESK_ADMIN_TOKEN", OPS).output().unwrap()
    };
    let cli = |args: &[&str]| run(args, true);
    let path = |name: &str| dir.path().join(name).display().to_string();

    // The author makes a key and signs two builds.
    let out = run(&["plugin", "keygen", "--out", &path("qa.key")], false);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(public.starts_with("ed25519:") && public.len() == 8 + 64, "{public}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path("qa.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secret key is readable only by its owner");
    }
    let again = run(&["plugin", "keygen", "--out", &path("qa.key")], false);
    assert!(!again.status.success() && stderr(&again).contains("must not exist"), "{}", stderr(&again));
    for (from, to) in [(GREETER_V1.path, "greeter-1.wasm"), (GREETER_V2.path, "greeter-2.wasm")] {
        let out = run(&["plugin", "sign", from, "--key", &path("qa.key"), "--out", &path(to)], false);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = run(&["plugin", "inspect", &path("greeter-1.wasm")], false);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("signed by:    {public} (valid signature)")));
    let out = run(&["plugin", "inspect", GREETER_V1.path], false);
    assert!(String::from_utf8_lossy(&out.stdout).contains("signed by:    unsigned"));

    // Signed by a key the host does not know: refused, saying what to do.
    let out = cli(&["plugin", "install", &path("greeter-1.wasm")]);
    assert!(!out.status.success(), "an unknown publisher's component is refused");
    assert!(stderr(&out).contains("no publisher is registered") && stderr(&out).contains(&public), "{}", stderr(&out));
    // The admin registers the publisher; acme does not trust it yet.
    let out = cli(&["plugin", "publisher", "add", "qa", "--key", &public]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&["plugin", "install", &path("greeter-1.wasm"), "--tenant", "acme", "--role", "responder"]);
    assert!(!out.status.success() && stderr(&out).contains("does not trust publisher `qa`"), "{}", stderr(&out));
    let out = cli(&["plugin", "trust", "add", "--tenant", "acme", "qa"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&["plugin", "trust", "list", "--tenant", "acme"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("smsdesk") && listed.contains(&public) && listed.contains("unsigned plugins: not allowed"));

    let out = cli(&[
        "plugin",
        "install",
        &path("greeter-1.wasm"),
        "--tenant",
        "acme",
        "--role",
        "responder",
        "--config",
        r#"{"greeting":"yo"}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    // (Uploaded by the refused attempt above: binding it is what was refused.)
    assert!(
        said.contains("already uploaded: qa/greeter 1.0.0") && said.contains("bound as responder for acme"),
        "{said}"
    );
    // The unsigned build: no tenant allows unsigned plugins.
    let out = cli(&["plugin", "install", GREETER_V2.path, "--tenant", "acme", "--role", "responder"]);
    assert!(!out.status.success() && stderr(&out).contains("not signed"), "{}", stderr(&out));
    let out = cli(&["plugin", "install", &path("greeter-2.wasm"), "--tenant", "acme", "--role", "responder"]);
    assert!(!out.status.success() && stderr(&out).contains("not granted"), "{}", stderr(&out));
    let grant = ["--grant", "outbound-http:crm.example.com"];
    let out = cli(&[
        &["plugin", "install", &path("greeter-2.wasm"), "--tenant", "acme", "--role", "responder"][..],
        &grant[..],
    ]
    .concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(text(&base, "SMc1", "+15550300001", "hi").await.status(), 200);
    // Upgraded without --config: the binding keeps its configuration.
    assert_eq!(bot_replies(&base, "+15550300001", 1).await, ["greeter 2.0.0: yo (hi)"]);

    let out = cli(&["plugin", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("qa/greeter") && listed.contains("1.0.0") && listed.contains("2.0.0"), "{listed}");
    // Each version with its contract version and what it asks for.
    let v2_line = listed.lines().find(|l| l.contains("greeter") && l.contains("2.0.0")).unwrap();
    assert!(v2_line.contains(" 0.2.0 ") && v2_line.ends_with("outbound-http:crm.example.com"), "{listed}");
    // A plugin is named with its publisher.
    let out = cli(&["plugin", "rollback", "--tenant", "acme", "--role", "responder", "--plugin", "greeter"]);
    assert!(!out.status.success() && stderr(&out).contains("PUBLISHER/NAME"), "{}", stderr(&out));
    let out = cli(&["plugin", "rollback", "--tenant", "acme", "--role", "responder", "--plugin", "qa/greeter"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(text(&base, "SMc2", "+15550300002", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550300002", 1).await, ["greeter 1.0.0: yo (hi)"]);
    let out = cli(&["plugin", "bindings", "--tenant", "acme"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"qa/greeter\""));
    // Errors from the server come through as one line, with a failing exit.
    let out = cli(&["plugin", "rollback", "--tenant", "acme", "--role", "responder", "--plugin", "qa/greeter"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no earlier version"), "{}", stderr(&out));
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"not a component").unwrap();
    let out = cli(&["plugin", "install", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("400"), "{}", stderr(&out));
    // Over the host's upload limit: the server's answer, not "cannot reach".
    let big = dir.path().join("big.wasm");
    std::fs::write(&big, vec![0u8; 48 << 20]).unwrap();
    let out = cli(&["plugin", "install", big.to_str().unwrap()]);
    assert!(!out.status.success());
    let said = stderr(&out);
    assert!(said.contains("413") && said.contains("at most 1048576 bytes") && !said.contains("cannot reach"), "{said}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_watched_plugin_file_is_reloaded_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("greeter.wasm");
    std::fs::copy(GREETER_V1.path, &file).unwrap();
    let mut c = config(dir.path());
    c.watch_plugins = true;
    c.tenants[0].plugins.retain(|b| b.role != smsdesk::domain::Role::Responder);
    c.tenants[0]
        .plugins
        .push(smsdesk::config::PluginBindingConfig::new(smsdesk::domain::Role::Responder, file.display().to_string()));
    let host = server::start(c).await.unwrap();
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMw0", "+15550400000", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550400000", 1).await, ["greeter 1.0.0: hello (hi)"]);

    // A new build lands (written aside, then renamed, as build tools do).
    let tmp = dir.path().join("greeter.wasm.tmp");
    std::fs::copy(GREETER_V2.path, &tmp).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut i = 1;
    loop {
        let from = format!("+155504{i:05}");
        assert_eq!(text(&base, &format!("SMw{i}"), &from, "hi").await.status(), 200);
        let reply = bot_replies(&base, &from, 1).await.remove(0);
        if reply == "greeter 2.0.0: hello (hi)" {
            break;
        }
        assert_eq!(reply, "greeter 1.0.0: hello (hi)");
        assert!(Instant::now() < deadline, "the changed file was never reloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
        i += 1;
    }
    // A broken build is reported and the running version stays.
    std::fs::write(&file, b"\0asm half a build").unwrap();
    // Wait until the watcher has seen it and refused it (its metric says so).
    let seen = format!("smsdesk_plugin_file_reloads_total{{file=\"{}\",result=\"failed\"}} 1", file.display());
    let deadline = Instant::now() + Duration::from_secs(15);
    while !reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap().contains(&seen) {
        assert!(Instant::now() < deadline, "the watcher never looked at the broken build");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text(&base, "SMw-last", "+15550499999", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550499999", 1).await, ["greeter 2.0.0: hello (hi)"]);
    host.shutdown().await;
}

#[tokio::test]
async fn replay_reports_what_a_version_would_have_decided_next_to_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    let ana = crate::host::ANA;
    let texts = [
        (ana, "where is my order"),
        ("+15550500002", "talk to a person"),
        ("+15550500003", "what are your store hours"),
        ("+15550500004", "STOP"),
    ];
    for (i, (from, body)) in texts.iter().enumerate() {
        assert_eq!(text(&base, &format!("SMr{i}"), from, body).await.status(), 200);
    }
    ticket_when(&base, ANA_AGENT, "+15550500004", |t| t["messages"].as_array().unwrap().len() == 2).await;
    for (from, _) in &texts[..3] {
        bot_replies(&base, from, 1).await;
    }
    let sent_before = call(&base, Method::GET, "/api/v1/tickets?limit=50", ANA_AGENT, None).await.1;

    // The plugin that ran, replayed from the CLI: the same decisions.
    let toml = dir.path().join("smsdesk.toml");
    std::fs::write(
        &toml,
        format!(
            "{}data_dir = {:?}\n[[tenants]]\nid = \"acme\"\nname = \"Acme\"\nnumbers = [\"{}\"]\nprovider = {{ kind = \"log\", auth_token = \"x\" }}\n",
            crate::support::database_line(dir.path()),
            dir.path().display().to_string(),
            crate::host::NUMBER
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
        .args(["plugin", "replay", "builtin:faq-responder", "--config", toml.to_str().unwrap(), "--tenant", "acme"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let same: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((same["compared"].as_u64(), same["skipped"].as_u64()), (Some(3), Some(1)), "{same:#}");
    assert_eq!(same["agreement_rate"], 1.0, "{same:#}");
    let kinds: Vec<&str> =
        same["items"].as_array().unwrap().iter().map(|i| i["happened"]["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reply", "handoff", "reply-and-resolve"]);
    assert!(same["items"][0]["replayed"]["text"].as_str().unwrap().contains("1042"), "the CRM profile was given");

    // An uploaded candidate through the API: it always replies.
    allow_unsigned(&base).await;
    let (_, up) = upload(&base, std::fs::read(GREETER_V1.path).unwrap()).await;
    let (status, r) = call(
        &base,
        Method::POST,
        "/admin/v1/tenants/acme/replay",
        OPS,
        Some(json!({"version_id": up["plugin"]["id"], "config": {"greeting": "hi"}})),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["plugin"].as_str(), r["version"].as_str(), r["compared"].as_u64()),
        (Some("greeter"), Some("1.0.0"), Some(3))
    );
    assert!((r["agreement_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{r:#}");
    assert_eq!(r["differences"], 2);
    assert_eq!(r["items"][1]["happened"]["text"], "Customer asked for a person");
    assert_eq!(r["items"][1]["replayed"]["text"], "greeter 1.0.0: hi (talk to a person)");
    assert!(r["latency_median_us"].as_u64().is_some());
    // One conversation only.
    let convo = r["items"][1]["conversation_id"].clone();
    let (_, one) = call(
        &base,
        Method::POST,
        "/admin/v1/tenants/acme/replay",
        OPS,
        Some(json!({"version_id": up["plugin"]["id"], "conversations": [convo]})),
    )
    .await;
    assert_eq!(one["compared"], 1);
    // Offline: nothing was sent or changed.
    let sent_after = call(&base, Method::GET, "/api/v1/tickets?limit=50", ANA_AGENT, None).await.1;
    assert_eq!(sent_before["tickets"], sent_after["tickets"]);
    let (status, _) =
        call(&base, Method::POST, "/admin/v1/tenants/acme/replay", OPS, Some(json!({"version_id": 999}))).await;
    assert_eq!(status, 404);
    host.shutdown().await;
}

/// The statistics of the tenant's newest shadow run, once `ready`.
async fn shadow_when(base: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let runs = call(base, Method::GET, "/admin/v1/tenants/acme/shadow", OPS, None).await.1;
        let newest = runs["runs"][0].clone();
        if ready(&newest) {
            return newest;
        }
        assert!(Instant::now() < deadline, "timed out; last: {newest:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_shadow_run_compares_a_candidate_on_live_traffic_without_acting_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    allow_unsigned(&base).await;
    let (_, up) = upload(&base, std::fs::read(GREETER_V1.path).unwrap()).await;
    let id = up["plugin"]["id"].clone();
    let (status, started) = call(
        &base,
        Method::POST,
        "/admin/v1/tenants/acme/shadow",
        OPS,
        Some(json!({"version_id": id, "config": {"greeting": "hi"}})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let (status, _) =
        call(&base, Method::POST, "/admin/v1/tenants/acme/shadow", OPS, Some(json!({"version_id": id}))).await;
    assert_eq!(status, 409, "one run per role at a time");

    // Live traffic: the configured faq-responder answers; greeter only shadows.
    let texts = [
        (crate::host::ANA, "where is my order"),
        ("+15550600002", "talk to a person"),
        ("+15550600003", "what are your store hours"),
    ];
    for (i, (from, body)) in texts.iter().enumerate() {
        assert_eq!(text(&base, &format!("SMs{i}"), from, body).await.status(), 200);
    }
    for (from, _) in &texts {
        for reply in bot_replies(&base, from, 1).await {
            assert!(!reply.contains("greeter"), "the candidate's decision reached a customer: {reply}");
        }
    }
    let stats = shadow_when(&base, |r| r["messages"] == 3).await;
    assert!((stats["agreement_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9, "{stats:#}");
    assert_eq!(stats["differences"], 2);
    assert!(stats["errors"].as_object().unwrap().is_empty());
    assert!(stats["latency_us"]["candidate"]["median"].as_i64().is_some());
    let diffs = stats["recent_differences"].as_array().unwrap();
    assert!(diffs.iter().any(|d| d["active"][0] == "handoff" && d["candidate"][0] == "reply"), "{diffs:?}");
    assert!(diffs.iter().any(|d| d["candidate"][1] == "greeter 1.0.0: hi (talk to a person)"));

    // Promote: the candidate now answers, with the run's configuration.
    let run = stats["run"]["id"].as_i64().unwrap();
    let (status, out) =
        call(&base, Method::POST, &format!("/admin/v1/tenants/acme/shadow/{run}/promote"), OPS, None).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["run"]["status"], "promoted");
    assert_eq!(text(&base, "SMs9", "+15550600009", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550600009", 1).await, ["greeter 1.0.0: hi (hello)"]);

    // A second candidate, discarded: it stops running and changes nothing.
    let (_, up2) = upload(&base, std::fs::read(GREETER_V2.path).unwrap()).await;
    let shadow2 = |grants: Value| {
        let base = base.clone();
        let body = json!({"version_id": up2["plugin"]["id"], "grants": grants});
        async move { call(&base, Method::POST, "/admin/v1/tenants/acme/shadow", OPS, Some(body)).await }
    };
    assert_eq!(shadow2(json!([])).await.0, 409, "a candidate asking for more needs approval too");
    assert_eq!(shadow2(json!(["outbound-http:crm.example.com"])).await.0, 201);
    assert_eq!(text(&base, "SMs10", "+15550600010", "hello").await.status(), 200);
    let stats = shadow_when(&base, |r| r["messages"] == 1).await;
    assert_eq!(stats["agreement_rate"], 1.0, "both reply: {stats:#}");
    let run2 = stats["run"]["id"].as_i64().unwrap();
    let (status, out) =
        call(&base, Method::POST, &format!("/admin/v1/tenants/acme/shadow/{run2}/discard"), OPS, None).await;
    assert_eq!((status, out["run"]["status"].as_str()), (200, Some("discarded")));
    assert_eq!(text(&base, "SMs11", "+15550600011", "hello").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550600011", 1).await, ["greeter 1.0.0: hi (hello)"]);
    let (status, _) =
        call(&base, Method::POST, &format!("/admin/v1/tenants/acme/shadow/{run2}/promote"), OPS, None).await;
    assert_eq!(status, 404);
    // A third run, and one more message: comparisons are recorded in order,
    // so once the third run has its first, any comparison of the discarded
    // run for the message before would be on record too.
    assert_eq!(shadow2(json!(["outbound-http:crm.example.com"])).await.0, 201);
    assert_eq!(text(&base, "SMs12", "+15550600012", "hello").await.status(), 200);
    let third = shadow_when(&base, |r| r["messages"] == 1).await;
    assert_ne!(third["run"]["id"], run2);
    let after = call(&base, Method::GET, "/admin/v1/tenants/acme/shadow", OPS, None).await.1;
    let discarded =
        after["runs"].as_array().unwrap().iter().find(|r| r["run"]["id"] == run2).expect("the discarded run is listed");
    assert_eq!(discarded["messages"], 1, "a discarded candidate is no longer called: {after:#}");
    let audit = call(&base, Method::GET, "/admin/v1/audit", OPS, None).await.1;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["shadow.start", "shadow.promote", "shadow.discard"] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn secrets_are_write_only_and_reach_only_their_tenants_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    let mut other = helpdesk_tenant();
    other.id = "globex".into();
    other.numbers = vec!["+15557650999".into()];
    other.api_token = Some("globex-api-token".into());
    other.users.clear();
    c.tenants.push(other);
    let host = server::start(c).await.unwrap();
    let base = format!("http://{}", host.addr);
    trust_qa(&base).await;
    assert_eq!(call(&base, Method::PUT, "/admin/v1/tenants/globex/publishers/qa", OPS, None).await.0, 204);
    let (_, up) = upload(&base, signed(&std::fs::read(GREETER_V1.path).unwrap())).await;
    for tenant in ["acme", "globex"] {
        let (status, out) = call(
            &base,
            Method::PUT,
            &format!("/admin/v1/tenants/{tenant}/bindings/responder/qa/greeter"),
            OPS,
            Some(json!({"version_id": up["plugin"]["id"]})),
        )
        .await;
        assert_eq!(status, 200, "{out}");
    }
    const SECRET: &str = "s3cr3t-value-7f1c";
    let path = "/admin/v1/tenants/acme/plugins/qa/greeter/secrets/greeting";
    let (status, _) = call(&base, Method::PUT, path, OPS, Some(json!({"value": SECRET}))).await;
    assert_eq!(status, 204);

    // The tenant's plugin gets it (as a configuration value); the other tenant's does not.
    assert_eq!(text(&base, "SMk1", "+15550700001", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550700001", 1).await, [format!("greeter 1.0.0: {SECRET} (hi)")]);
    let params = {
        let mut p = crate::host::inbound_params("SMk2", "+15550700002", "hi");
        for kv in p.iter_mut().filter(|(k, _)| k == "To") {
            kv.1 = "+15557650999".into();
        }
        p
    };
    let r = crate::host::post_signed(&base, "/webhooks/twilio/sms", &params, crate::host::TOKEN).await;
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = reqwest::Client::new()
            .get(format!("{base}/api/v1/conversations"))
            .bearer_auth("globex-api-token")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if list.contains("greeter 1.0.0") {
            assert!(list.contains("greeter 1.0.0: hello (hi)") && !list.contains(SECRET), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "globex never answered: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Write-only: names, never values, in every admin answer.
    let (_, names) = call(&base, Method::GET, "/admin/v1/tenants/acme/plugins/qa/greeter/secrets", OPS, None).await;
    assert_eq!(names["secrets"][0]["name"], "greeting");
    assert_eq!(names["secrets"][0]["updated_by"], "ops");
    for p in [
        "/admin/v1/tenants/acme/plugins/qa/greeter/secrets",
        "/admin/v1/tenants/acme/bindings",
        "/admin/v1/audit",
        "/admin/v1/plugins",
    ] {
        let (_, body) = call(&base, Method::GET, p, OPS, None).await;
        assert!(!body.to_string().contains(SECRET), "{p} shows the secret: {body}");
    }
    let audit = call(&base, Method::GET, "/admin/v1/audit", OPS, None).await.1;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "secret.set" && e["detail"]["name"] == "greeting")
    );
    // A bad body is refused without being echoed, and so is one of another media type.
    for (content_type, status) in [("application/json", 400), ("text/plain", 415)] {
        let r = reqwest::Client::new()
            .put(format!("{base}{path}"))
            .bearer_auth(OPS)
            .header("content-type", content_type)
            .body(format!("{{\"value\": \"{SECRET}\", oops"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{content_type}");
        assert!(!r.text().await.unwrap().contains(SECRET));
    }
    assert_eq!(
        call(
            &base,
            Method::PUT,
            "/admin/v1/tenants/acme/plugins/qa/greeter/secrets/Bad%20Name",
            OPS,
            Some(json!({"value": "x"}))
        )
        .await
        .0,
        400
    );

    // Deleted: the plugin no longer gets it.
    assert_eq!(call(&base, Method::DELETE, path, OPS, None).await.0, 204);
    assert_eq!(call(&base, Method::DELETE, path, OPS, None).await.0, 404);
    assert_eq!(text(&base, "SMk3", "+15550700003", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550700003", 1).await, ["greeter 1.0.0: hello (hi)"]);
    host.shutdown().await;
}

#[tokio::test]
async fn a_binding_is_activated_only_with_the_capabilities_its_plugin_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    allow_unsigned(&base).await;
    let (_, up) = upload(&base, std::fs::read(smsdesk_artifacts::test_guests::KV_COUNTER.path).unwrap()).await;
    assert_eq!(up["plugin"]["capabilities"], json!(["key-value"]));
    let path = "/admin/v1/tenants/acme/bindings/classifier/unsigned/kv-counter";
    let (status, out) = call(&base, Method::PUT, path, OPS, Some(json!({"version_id": up["plugin"]["id"]}))).await;
    assert_eq!(status, 409, "{out}");
    assert!(out["error"].as_str().unwrap().contains("key-value"), "{out}");
    let active = |base: String| async move {
        let b = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
        b["active"].as_array().unwrap().iter().any(|a| a["plugin"] == "kv-counter")
    };
    assert!(!active(base.clone()).await, "not activated without the grant");
    let (status, out) =
        call(&base, Method::PUT, path, OPS, Some(json!({"version_id": up["plugin"]["id"], "grants": ["key-value"]})))
            .await;
    assert_eq!(status, 200, "{out}");
    assert!(active(base.clone()).await);
    // It runs: its count is in the trace.
    assert_eq!(text(&base, "SMkv1", "+15550800001", "hello").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, "+15550800001", |t| {
        t["traces"].as_array().unwrap().iter().any(|x| x["plugin"] == "kv-counter" && x["outcome"] == "ok")
    })
    .await;
    let traces = t["traces"].as_array().unwrap();
    assert!(traces.iter().any(|x| x["detail"].as_str().is_some_and(|d| d.contains("count-1"))), "{t}");
    host.shutdown().await;
}

#[tokio::test]
async fn phone_numbers_reach_only_plugins_that_ask_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.tenants[0].plugins.retain(|b| b.role != smsdesk::domain::Role::Responder);
    c.tenants[0].plugins.push(smsdesk::config::PluginBindingConfig::new(
        smsdesk::domain::Role::Responder,
        smsdesk_artifacts::test_guests::ECHO_FROM.path,
    ));
    let host = server::start(c).await.unwrap();
    let base = format!("http://{}", host.addr);
    // The responder did not ask: masked. The CRM (demo-crm) asks: it found Ana by her number.
    assert_eq!(text(&base, "SMp1", crate::host::ANA, "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, crate::host::ANA, 1).await, ["you are +*******4567"]);
    let t = ticket_when(&base, ANA_AGENT, crate::host::ANA, |_| true).await;
    assert_eq!(t["profile"]["name"], "Ana");
    host.shutdown().await;
}

#[tokio::test]
async fn shadow_runs_and_replays_show_a_candidate_the_number_masked() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    allow_unsigned(&base).await;
    // echo-from answers with the sender's number as it sees it; it does not
    // ask for `raw-phone-numbers`.
    let (_, up) = upload(&base, std::fs::read(smsdesk_artifacts::test_guests::ECHO_FROM.path).unwrap()).await;
    let body = json!({"version_id": up["plugin"]["id"]});
    let (status, out) = call(&base, Method::POST, "/admin/v1/tenants/acme/shadow", OPS, Some(body.clone())).await;
    assert_eq!(status, 201, "{out}");
    // The active responder hands off; the candidate would have replied: a difference, with its text.
    assert_eq!(text(&base, "SMmask1", crate::host::ANA, "I want to talk to a human").await.status(), 200);
    let stats = shadow_when(&base, |r| r["messages"] == 1).await;
    let candidate = &stats["recent_differences"][0]["candidate"];
    assert_eq!(candidate[1], "you are +*******4567", "{stats:#}");
    assert!(!stats.to_string().contains("5551234567"), "{stats:#}");
    // A replay of the same conversation: masked too.
    let (status, r) = call(&base, Method::POST, "/admin/v1/tenants/acme/replay", OPS, Some(body)).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["compared"], 1, "{r:#}");
    assert_eq!(r["items"][0]["replayed"]["text"], "you are +*******4567", "{r:#}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_shadow_candidate_has_a_key_value_space_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    allow_unsigned(&base).await;
    let (_, up) = upload(&base, std::fs::read(smsdesk_artifacts::test_guests::KV_COUNTER.path).unwrap()).await;
    let body = json!({"version_id": up["plugin"]["id"], "grants": ["key-value"]});
    let path = "/admin/v1/tenants/acme/bindings/classifier/unsigned/kv-counter";
    let (status, out) = call(&base, Method::PUT, path, OPS, Some(body.clone())).await;
    assert_eq!(status, 200, "{out}");
    // The same version in the shadow of the classifier role: were the space
    // shared, each message would count twice and the active version would
    // see the candidate's writes.
    let (status, out) = call(&base, Method::POST, "/admin/v1/tenants/acme/shadow", OPS, Some(body)).await;
    assert_eq!(status, 201, "{out}");
    let active_counts = |from: &'static str| {
        let base = base.clone();
        async move {
            let t = ticket_when(&base, ANA_AGENT, from, |t| {
                t["traces"].as_array().unwrap().iter().any(|x| x["plugin"] == "kv-counter" && x["outcome"] == "ok")
            })
            .await;
            t["traces"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["plugin"] == "kv-counter")
                .map(|x| x["detail"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    for (i, from) in ["+15550810001", "+15550810002", "+15550810003"].into_iter().enumerate() {
        assert_eq!(text(&base, &format!("SMkvs{i}"), from, "hello").await.status(), 200);
        let detail = active_counts(from).await;
        assert!(detail.contains(&format!("count-{}", i + 1)), "message {}: {detail}", i + 1);
        // Wait for the candidate's comparison before the next message.
        let stats = shadow_when(&base, |r| r["messages"] == i + 1).await;
        assert_eq!(stats["agreement_rate"], 1.0, "the candidate counted in its own space: {stats:#}");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn every_admin_route_and_method_is_described_in_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    let spec: Value = reqwest::get(format!("{base}/admin/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    // Every route the router serves under /admin/v1, with each of its methods.
    let router = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http.rs")).unwrap();
    let mut checked = 0;
    for chunk in router.split(".route(").skip(1) {
        let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|r| r.split('"').next()) else { continue };
        if !path.starts_with("/admin/v1/") {
            continue;
        }
        let chunk = chunk.split(".route(").next().unwrap().split(".layer(").next().unwrap();
        for method in ["get", "post", "put", "delete"] {
            if chunk.contains(&format!("{method}(")) {
                assert!(spec["paths"][path][method].is_object(), "{method} {path} is not in admin_openapi.json");
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "checked {checked} routes");
    // And nothing is described that is not served.
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            let status = reqwest::Client::new()
                .request(method.to_uppercase().parse().unwrap(), format!("{base}{}", path.replace(['{', '}'], "")))
                .send()
                .await
                .unwrap()
                .status();
            assert_ne!(status.as_u16(), 405, "{method} {path} is described but not served");
        }
    }
    host.shutdown().await;
}
