//! The `smsdesk plugin` commands, run as a user would.

use smsdesk_artifacts::{first_party, test_guests};
use std::process::{Command, Output};

fn smsdesk(args: &[&str]) -> Output {
    let cache = crate::support::shared_cache_dir();
    Command::new(env!("CARGO_BIN_EXE_smsdesk"))
        .args(args)
        .env("SMSDESK_CACHE_DIR", cache)
        .output()
        .expect("running smsdesk")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inspect_shows_each_first_party_plugins_roles() {
    for (guest, role) in [
        (&first_party::KEYWORD_INTENTS, "classifier"),
        (&first_party::FAQ_RESPONDER, "responder"),
        (&first_party::DEMO_CRM, "crm"),
    ] {
        let out = smsdesk(&["plugin", "inspect", guest.path]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(&format!("name:         {}", guest.name)), "{text}");
        assert!(text.contains(&format!("roles:        {role}\n")), "{text}");
        assert!(text.contains("wit version:  0.2.0"), "{text}");

        let out = smsdesk(&["plugin", "inspect", guest.path, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["name"], guest.name);
        assert_eq!(json["roles"], serde_json::json!([role]));
        assert_eq!(json["wit_version"], "0.2.0");
        assert!(json["imports"].as_array().unwrap().iter().any(|i| i == "smsdesk:plugin/config@0.2.0"));
    }
}

#[test]
fn run_classifies_the_order_status_question() {
    let out = smsdesk(&[
        "plugin",
        "run",
        first_party::KEYWORD_INTENTS.path,
        "--role",
        "classifier",
        "--text",
        "Where is my order? Tracking hasn't moved",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["intents"][0]["label"], "order-status");
    assert_eq!(json["plugin"], "keyword-intents");
}

#[test]
fn builtin_plugins_are_available_by_name() {
    let out = smsdesk(&["plugin", "inspect", "builtin:faq-responder"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("roles:        responder\n"));
    let out = smsdesk(&["plugin", "inspect", "builtin:nope"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no built-in plugin `nope` (built-ins: keyword-intents, faq-responder, demo-crm)"));
}

#[test]
fn run_uses_a_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crm.toml");
    std::fs::write(&config, "[profiles.\"+15551234567\"]\nid = \"cus_9\"\nname = \"Bo\"\n").unwrap();
    let out = smsdesk(&[
        "plugin",
        "run",
        first_party::DEMO_CRM.path,
        "--role",
        "crm",
        "--from",
        "+15551234567",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["profile"]["name"], "Bo");

    let out = smsdesk(&[
        "plugin",
        "run",
        first_party::FAQ_RESPONDER.path,
        "--role",
        "responder",
        "--intent",
        "store-hours=0.9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["decision"]["resolve"], true);
}

#[test]
fn bad_input_gets_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.wasm");
    std::fs::write(&text, "not wasm").unwrap();
    let missing = dir.path().join("missing.wasm");
    let bad_config = dir.path().join("bad.toml");
    std::fs::write(&bad_config, "this is = = not toml").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["plugin", "inspect", text.to_str().unwrap()], "not a WebAssembly file"),
        (vec!["plugin", "inspect", missing.to_str().unwrap()], "cannot read"),
        (vec!["plugin", "inspect", test_guests::NO_ROLES.path], "exports no role"),
        (
            vec!["plugin", "run", first_party::FAQ_RESPONDER.path, "--role", "classifier", "--text", "hi"],
            "does not export the `classifier` role",
        ),
        (
            vec![
                "plugin",
                "run",
                first_party::KEYWORD_INTENTS.path,
                "--role",
                "classifier",
                "--config",
                bad_config.to_str().unwrap(),
            ],
            "invalid TOML",
        ),
        (vec!["plugin", "run", test_guests::LOOPER.path, "--role", "classifier", "--text", "hi"], "deadline"),
    ];
    for (args, expected) in cases {
        let out = smsdesk(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(expected), "{args:?}: {err}");
    }
    // Argument errors are clap's: a usage message and exit code 2.
    let out = smsdesk(&["plugin", "run", first_party::KEYWORD_INTENTS.path, "--role", "oracle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown role `oracle`"));
}

#[test]
fn sms_segments_prints_encoding_segments_and_units() {
    let out = smsdesk(&["sms", "segments", "Hello {name}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), r#"{"encoding":"GSM-7","segments":1,"units":14,"characters":12}"#);
    let text = format!("😜{}", "1".repeat(69));
    let out = smsdesk(&["sms", "segments", &text]);
    assert_eq!(stdout(&out).trim(), r#"{"encoding":"UCS-2","segments":2,"units":71,"characters":70}"#);
}

/// `smsdesk sms segments` never splits a grapheme cluster across segments:
/// 67 rainbow flags are 402 UTF-16 units (6 segments by units alone) but 11
/// flags fill a 67-unit segment, so they take 7; and texts generated dense
/// with flags, families, skin tones and combining marks agree with packing
/// whole clusters greedily, computed here independently of the host.
#[test]
fn sms_segments_never_splits_a_grapheme_cluster() {
    let segments = |text: &str| -> serde_json::Value {
        let out = smsdesk(&["sms", "segments", text]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(stdout(&out).trim()).expect("JSON")
    };
    let rainbow = "🏳\u{fe0f}\u{200d}🌈";
    let flags = segments(&rainbow.repeat(67));
    assert_eq!((flags["units"].as_u64(), flags["segments"].as_u64()), (Some(402), Some(7)), "{flags}");
    assert_eq!(flags["characters"], 67);
    // Clusters and their UTF-16 lengths, written out by hand.
    let pool: &[(&str, usize)] = &[
        ("👨\u{200d}👩\u{200d}👧\u{200d}👦", 11),
        ("🏳\u{fe0f}\u{200d}🌈", 6),
        ("🇮🇹", 4),
        ("👍🏽", 4),
        ("e\u{301}\u{302}", 3),
        ("😀", 2),
        ("ú", 1),
        ("a", 1),
    ];
    let mut state = 0x9e37_79b9_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for round in 0..40 {
        let count = 10 + next(60);
        let picked: Vec<(&str, usize)> = (0..count).map(|_| pool[next(pool.len())]).collect();
        let text: String = picked.iter().map(|(c, _)| *c).collect();
        let units: usize = picked.iter().map(|(_, u)| u).sum();
        let expected = if units <= 70 {
            1
        } else {
            let (mut segments, mut used) = (1, 0);
            for (_, u) in &picked {
                if used + u > 67 {
                    segments += 1;
                    used = 0;
                }
                used += u;
            }
            segments
        };
        let got = segments(&text);
        assert_eq!(got["encoding"], "UCS-2");
        assert_eq!(got["units"].as_u64(), Some(units as u64), "round {round}: {text}");
        assert_eq!(got["characters"].as_u64(), Some(count as u64), "round {round}: {text}");
        assert_eq!(got["segments"].as_u64(), Some(expected), "round {round}: {text}");
    }
}

#[tokio::test]
async fn chat_texts_the_host_and_prints_the_replies() {
    use crate::host::{ANA, API_TOKEN, TOKEN, first_party_plugins, log_provider, start, tenant};
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let server = format!("http://{}", host.addr);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["chat", "--server", &server, "--from", ANA, "--to", crate::host::NUMBER])
            .args(["--auth-token", TOKEN, "--api-token", API_TOKEN])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"Where is my order?\nI want to talk to a person\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let text = stdout(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(text.contains("bot> Hi Ana! Your order #1042 is in transit."), "{text}");
    assert!(text.contains("(handed to a human: Customer asked for a person)"), "{text}");
    host.shutdown().await;
}

#[test]
fn consent_check_says_what_the_host_would_do_and_why() {
    let cases = [
        ("STOP", "opt-out (keyword STOP)"),
        ("please stop texting me", "opt-out (detector rule stop-messaging)"),
        ("don't stop the refund", "none (no keyword or rule matched)"),
        ("omg stop", "ambiguous (detector rule short-stop-request)"),
        ("START", "opt-in (keyword START)"),
        ("help", "help (keyword HELP)"),
    ];
    for (text, expected) in cases {
        let out = smsdesk(&["consent", "check", text]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), expected, "{text}");
    }
    let out = smsdesk(&["consent", "check", "no más mensajes", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "opt-out");
    assert_eq!(json["reason"], serde_json::json!({"by": "rule", "name": "es-no-mas-mensajes"}));
    // A tenant's extra keywords, from its configuration.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/smsdesk.toml");
    let out = smsdesk(&["consent", "check", "Baja", "--config", example, "--tenant", "outfitters"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "opt-out (keyword BAJA)");
    let out = smsdesk(&["consent", "check", "x", "--config", example, "--tenant", "nobody"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no tenant `nobody`"), "{}", stderr(&out));
}

#[tokio::test]
async fn consent_export_reads_the_ledger_of_a_running_host() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("smsdesk.toml");
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/smsdesk.toml")).unwrap();
    let data = dir.path().join("data").display().to_string();
    let database = crate::support::database_line(std::path::Path::new(&data));
    let example = example.replace("./smsdesk-data", &data).replace("127.0.0.1:8080", "127.0.0.1:0");
    std::fs::write(&config_path, format!("{database}{example}")).unwrap();
    let config = config_path.display().to_string();
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || smsdesk(&args.iter().map(String::as_str).collect::<Vec<_>>()))
            .await
            .unwrap()
    };
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["consent", "export", "--config", config.as_str(), "--tenant", "outfitters"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let out = run(args(&[])).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("start the host with this configuration first"), "{}", stderr(&out));

    // A host with this configuration; a customer texts BAJA (the tenant's own keyword).
    let host = smsdesk::server::start(smsdesk::config::Config::load(Some(&config_path)).unwrap()).await.unwrap();
    let base = format!("http://{}", host.addr);
    let url = format!("{base}/webhooks/twilio/sms");
    let params: Vec<(String, String)> =
        [("MessageSid", "SMcli1"), ("From", "+15551234567"), ("To", "+15557650100"), ("Body", "Baja")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let sig = smsdesk::messaging::signature::sign("change-me-webhook-token", &url, &params);
    let r = reqwest::Client::new().post(&url).header("X-Twilio-Signature", sig).form(&params).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while host.store.pending_jobs().await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Read from another process while the host runs.
    let out = run(args(&["--contact", "+15551234567"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["tenant"], "outfitters");
    let e = &json["events"][0];
    assert_eq!(
        (e["event"].as_str(), e["matched"].as_str(), e["text"].as_str()),
        (Some("opt-out"), Some("BAJA"), Some("Baja"))
    );
    assert_eq!(json["current"]["+15551234567"]["opted_out"], true);
    let out = run(args(&["--format", "csv"])).await;
    let csv = stdout(&out);
    assert!(csv.starts_with("id,tenant,contact,program,purpose,event,source,"), "{csv}");
    assert!(csv.contains(",opt-out,customer,\"BAJA\","), "{csv}");
    let out = run(args(&["--format", "xml"])).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--format must be json or csv"));
    let out = run(args(&["--contact", "12"])).await;
    assert!(!out.status.success());
    host.shutdown().await;
}

/// A database the host cannot use is one line that names the problem and a
/// non-zero exit, never a panic: a URL of no engine smsdesk knows, a server
/// that does not answer, a database that a newer smsdesk migrated. Passwords
/// in the URL stay out of the message.
#[test]
fn a_database_the_host_cannot_use_is_one_line_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["serve", "--database-url", url])
            .env("SMSDESK_DATA_DIR", dir.path())
            .env("SMSDESK_BIND", "127.0.0.1:0")
            .env("SMSDESK_CACHE_DIR", crate::support::shared_cache_dir())
            .env_remove("SMSDESK_DATABASE_URL")
            .output()
            .expect("running smsdesk serve")
    };
    let one_line = |out: &Output, says: &str| {
        let err = stderr(out);
        assert!(!out.status.success(), "exits non-zero: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: ") && err.contains(says), "says {says:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("hunter2"), "{err}");
    };

    one_line(&serve("mysql://root:hunter2@db/x"), "neither sqlite://PATH nor postgres://");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    one_line(&serve(&format!("postgres://smsdesk:hunter2@127.0.0.1:{port}/x")), "cannot reach PostgreSQL at");

    let url = crate::support::database_url(dir.path())
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("smsdesk.db").display()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        drop(smsdesk::store::Store::open(&url, smsdesk::config::Durability::Normal).await.unwrap());
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a newer smsdesk', TRUE, $1, 1)",
        )
        .bind(vec![0u8; 48])
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    });
    one_line(&serve(&url), "migrated by a newer smsdesk (migration 9999");
}
