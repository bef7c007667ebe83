//! The sandbox against an attacker, over real HTTP: who a plugin is (its
//! publisher's signature, not the name in its manifest), what plugins say
//! (cleaned before anyone acts on it), log lines they cannot forge, what an
//! upload may make the host compile, and a start function that never ends.

use crate::admin::{OPS, allow_unsigned, bot_replies, config, qa_key, signed, trust_qa, upload};
use crate::host::{FakeTwilio, TOKEN, inbound_params, post_signed, twilio};
use crate::tickets::{ANA_AGENT, call, ticket_when};
use reqwest::Method;
use serde_json::{Value, json};
use smsdesk::config::PluginBindingConfig;
use smsdesk::domain::Role;
use smsdesk::plugins::FailureKind;
use smsdesk::server;
use smsdesk_artifacts::first_party::PUBLISHER_KEY;
use smsdesk_artifacts::test_guests::{GREETER_V1, HOSTILE_OUTPUT, IMPOSTOR, IMPOSTOR_GREETER, KV_COUNTER};

const SECRET: &str = "crm-api-key-9d2f7a";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `detail` of every trace of `plugin` on a ticket, joined.
fn trace_details(ticket: &Value, plugin: &str) -> String {
    ticket["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["plugin"] == plugin)
        .map(|x| x["detail"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namesake_gets_none_of_a_trusted_plugins_secrets_data_or_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    let ana = crate::host::ANA;

    let impostor = IMPOSTOR.read().unwrap();
    // Unsigned, where no tenant allows unsigned plugins: refused.
    let (status, out) = upload(&base, impostor.clone()).await;
    assert_eq!(status, 403, "{out}");
    assert!(out["error"].as_str().unwrap().contains("not signed"), "{out}");
    // Signed by a key no publisher is registered for: refused, naming the key.
    let stranger = smsdesk_signing::SecretKey::generate().unwrap();
    let by_stranger = smsdesk_signing::sign(&impostor, &stranger).unwrap();
    let (status, out) = upload(&base, by_stranger.clone()).await;
    assert_eq!(status, 400, "{out}");
    assert!(out["error"].as_str().unwrap().contains(&stranger.public().to_string()), "{out}");
    // The first-party key's signature on altered bytes: refused.
    let mut forged = smsdesk_artifacts::first_party::DEMO_CRM.read().unwrap();
    let at = forged.len() / 3;
    forged[at] ^= 0x20;
    let (status, out) = upload(&base, forged).await;
    assert_eq!(status, 400, "{out}");
    assert!(out["error"].as_str().unwrap().contains("signature does not match"), "{out}");

    // Registered but not trusted by the tenant: uploaded, never bound.
    let evil_key = smsdesk_signing::SecretKey::generate().unwrap();
    let body = json!({ "key": evil_key.public().to_string() });
    assert_eq!(call(&base, Method::PUT, "/admin/v1/publishers/evil", OPS, Some(body)).await.0, 201);
    let (status, up_evil) = upload(&base, smsdesk_signing::sign(&impostor, &evil_key).unwrap()).await;
    assert_eq!(status, 201, "{up_evil}");
    assert_eq!(up_evil["plugin"]["publisher"], "evil");
    let bind = |path: &str, body: Value| {
        let (base, path) = (base.clone(), path.to_string());
        async move { call(&base, Method::PUT, &path, OPS, Some(body)).await }
    };
    // It cannot become the first-party CRM: another key is another plugin.
    let body = json!({ "version_id": up_evil["plugin"]["id"], "grants": ["key-value"] });
    let (status, out) = bind("/admin/v1/tenants/acme/bindings/crm/smsdesk/demo-crm", body.clone()).await;
    assert_eq!(status, 409, "{out}");
    let why = out["error"].as_str().unwrap();
    assert!(why.contains(&evil_key.public().to_string()) && why.contains(PUBLISHER_KEY), "both keys: {why}");
    let (status, out) = bind("/admin/v1/tenants/acme/bindings/crm/evil/demo-crm", body).await;
    assert_eq!(status, 403, "{out}");
    assert!(out["error"].as_str().unwrap().contains("does not trust publisher `evil`"), "{out}");

    // Allowed unsigned, the copy is `unsigned/demo-crm`: it runs beside the
    // first-party CRM, never instead of it.
    allow_unsigned(&base).await;
    let (status, up) = upload(&base, impostor.clone()).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(
        (up["plugin"]["publisher"].as_str(), up["plugin"]["name"].as_str()),
        (Some("unsigned"), Some("demo-crm"))
    );
    let body = json!({ "version_id": up["plugin"]["id"], "grants": ["key-value"] });
    assert_eq!(bind("/admin/v1/tenants/acme/bindings/crm/unsigned/demo-crm", body).await.0, 200);
    assert_eq!(crate::host::text(&base, "SMimp1", ana, "where is my order").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ana, |t| !t["profile"].is_null()).await;
    assert_eq!(t["profile"]["name"], "Ana", "the first-party CRM still answers: {t}");
    let b = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
    let crms: Vec<&str> = b["active"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["role"] == "crm")
        .map(|a| a["identity"].as_str().unwrap())
        .collect();
    assert_eq!(crms, ["smsdesk/demo-crm", "unsigned/demo-crm"]);

    // A trusted publisher's plugin with a secret: `qa/greeter`.
    trust_qa(&base).await;
    let (_, up_greeter) = upload(&base, signed(&GREETER_V1.read().unwrap())).await;
    let body = json!({ "version_id": up_greeter["plugin"]["id"] });
    assert_eq!(bind("/admin/v1/tenants/acme/bindings/responder/qa/greeter", body).await.0, 200);
    let secret_path = "/admin/v1/tenants/acme/plugins/qa/greeter/secrets/greeting";
    assert_eq!(call(&base, Method::PUT, secret_path, OPS, Some(json!({ "value": SECRET }))).await.0, 204);
    assert_eq!(crate::host::text(&base, "SMimp2", "+15550950010", "hi").await.status(), 200);
    assert_eq!(bot_replies(&base, "+15550950010", 1).await, [format!("greeter 1.0.0: {SECRET} (hi)")]);
    // A copy of its name, unsigned: not an upgrade of it (both keys named) …
    let (_, up_copy) = upload(&base, IMPOSTOR_GREETER.read().unwrap()).await;
    assert_eq!(up_copy["plugin"]["publisher"], "unsigned");
    let body = json!({ "version_id": up_copy["plugin"]["id"], "grants": ["key-value"] });
    let (status, out) = bind("/admin/v1/tenants/acme/bindings/responder/qa/greeter", body.clone()).await;
    assert_eq!(status, 409, "{out}");
    let why = out["error"].as_str().unwrap();
    assert!(why.contains(&qa_key().public().to_string()) && why.contains("no key (unsigned)"), "{why}");
    // … and bound under its own identity, it gets no secret and no data.
    assert_eq!(bind("/admin/v1/tenants/acme/bindings/responder/unsigned/greeter", body).await.0, 200);
    assert_eq!(crate::host::text(&base, "SMimp3", "+15550950011", "hi").await.status(), 200);
    let replies = bot_replies(&base, "+15550950011", 1).await;
    assert_eq!(replies, ["config {} kv none"], "the namesake got nothing");
    // Secrets are per (publisher, name): the CLI shows the copy has none.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(args)
            .args(["--server", &base])
            .env("SMSDESK_ADMIN_TOKEN", OPS)
            .output()
            .unwrap()
    };
    let out = cli(&["plugin", "secret", "list", "--tenant", "acme", "--plugin", "unsigned/greeter"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no secrets for unsigned/greeter"), "{}", stderr(&out));
    let out = cli(&["plugin", "secret", "list", "--tenant", "acme", "--plugin", "qa/greeter"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("greeting"), "{}", stderr(&out));
    // Through the CLI too, the untrusted publisher's copy cannot be bound.
    let path = dir.path().join("evil.wasm");
    std::fs::write(&path, smsdesk_signing::sign(&impostor, &evil_key).unwrap()).unwrap();
    let out = cli(&["plugin", "install", path.to_str().unwrap(), "--tenant", "acme", "--role", "responder"]);
    assert!(!out.status.success() && stderr(&out).contains("does not trust publisher `evil`"), "{}", stderr(&out));

    // Key-value spaces are per (publisher, name) too: the same name signed by
    // `qa` counts in a space of its own.
    let kv = KV_COUNTER.read().unwrap();
    let (_, up_qa) = upload(&base, signed(&kv)).await;
    let (_, up_unsigned) = upload(&base, kv).await;
    let kv_bind = |id: Value, publisher: &str| {
        let path = format!("/admin/v1/tenants/acme/bindings/classifier/{publisher}/kv-counter");
        bind(&path, json!({ "version_id": id, "grants": ["key-value"] }))
    };
    assert_eq!(kv_bind(up_qa["plugin"]["id"].clone(), "qa").await.0, 200);
    for (i, from) in ["+15550950001", "+15550950002"].into_iter().enumerate() {
        assert_eq!(crate::host::text(&base, &format!("SMkvq{i}"), from, "hello").await.status(), 200);
        let t = ticket_when(&base, ANA_AGENT, from, |t| trace_details(t, "kv-counter").contains("count-")).await;
        assert!(trace_details(&t, "kv-counter").contains(&format!("count-{}", i + 1)), "{t}");
    }
    assert_eq!(kv_bind(up_unsigned["plugin"]["id"].clone(), "unsigned").await.0, 200);
    let from = "+15550950003";
    assert_eq!(crate::host::text(&base, "SMkvq3", from, "hello").await.status(), 200);
    let t =
        ticket_when(&base, ANA_AGENT, from, |t| trace_details(t, "kv-counter").matches("count-").count() == 2).await;
    let details = trace_details(&t, "kv-counter");
    assert!(details.contains("count-3") && details.contains("count-1"), "two spaces: {details}");

    // Trust withdrawn: the tenant's bindings of that publisher stop at once.
    assert_eq!(call(&base, Method::DELETE, "/admin/v1/tenants/acme/publishers/qa", OPS, None).await.0, 204);
    let b = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
    assert!(!b["active"].as_array().unwrap().iter().any(|a| a["identity"] == "qa/kv-counter"), "{b}");
    let audit = call(&base, Method::GET, "/admin/v1/audit", OPS, None).await.1.to_string();
    for action in ["publisher.add", "publisher.trust", "publisher.distrust"] {
        assert!(audit.contains(action), "{action}");
    }
    assert!(!audit.contains(SECRET));
    host.shutdown().await;
}

/// A tenant whose plugins are the hostile-output guest (as CRM and
/// responder) configured with `settings`, texting through the fake Twilio.
fn hostile_tenant(
    id: &str,
    number: &str,
    provider_url: &str,
    settings: &[(&str, &str)],
) -> smsdesk::config::TenantConfig {
    let table: toml::Table =
        settings.iter().map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string()))).collect();
    let mut t = crate::tickets::helpdesk_tenant();
    t.id = id.into();
    t.numbers = vec![number.into()];
    t.api_token = Some(format!("{id}-api-token"));
    t.users.truncate(1);
    t.users[0].token = Some(format!("{id}-agent-token-000000"));
    t.provider = twilio(provider_url.to_string());
    t.plugins = vec![
        PluginBindingConfig::new(Role::Classifier, HOSTILE_OUTPUT.path).with_config(table.clone()),
        PluginBindingConfig::new(Role::Crm, HOSTILE_OUTPUT.path).with_config(table.clone()),
        PluginBindingConfig::new(Role::Responder, HOSTILE_OUTPUT.path).with_config(table),
    ];
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_plugins_say_is_cleaned_before_anyone_acts_on_it() {
    let fake = FakeTwilio::default();
    let url = fake.start().await;
    let card_reply = "Card 4111 1111 1111 1111 or 4111-1111-1111-1111 or 4111111111111111, \
                      SSN 123-45-6789, your password: hunter2";
    let tenants = vec![
        hostile_tenant(
            "cards",
            "+15557650201",
            &url,
            &[("reply", card_reply), ("tags", "vip|card-4111111111111111"), ("intent", "pay-4111111111111111")],
        ),
        // No reply: the responder echoes the profile the host passed on.
        hostile_tenant(
            "profile",
            "+15557650202",
            &url,
            &[("profile-name", "Dana 4111 1111 1111 1111"), ("profile-note", "SSN 123-45-6789")],
        ),
        hostile_tenant("nul", "+15557650203", &url, &[("reply", "hello\u{0}world")]),
        hostile_tenant("bidi", "+15557650204", &url, &[("reply", "fine"), ("tags", "\u{202e}piv")]),
        hostile_tenant("escape", "+15557650205", &url, &[("reply", "\u{1b}[2Jcleared")]),
        hostile_tenant("emoji", "+15557650206", &url, &[("reply", &"😀".repeat(1600))]),
        hostile_tenant("reason", "+15557650207", &url, &[("reason", "card 4111111111111111 on file")]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.tenants = tenants;
    let host = server::start(c).await.unwrap();
    let base = format!("http://{}", host.addr);
    let text_to = |number: &str, sid: &str| {
        let mut p = inbound_params(sid, crate::host::ANA, "hello");
        for kv in p.iter_mut().filter(|(k, _)| k == "To") {
            kv.1 = number.to_string();
        }
        let base = base.clone();
        async move { post_signed(&base, "/webhooks/twilio/sms", &p, TOKEN).await }
    };
    let ticket = |id: &'static str, ready: fn(&Value) -> bool| {
        let base = base.clone();
        async move { ticket_when(&base, &format!("{id}-agent-token-000000"), crate::host::ANA, ready).await }
    };
    for (i, number) in
        ["+15557650201", "+15557650202", "+15557650203", "+15557650204", "+15557650205", "+15557650206", "+15557650207"]
            .iter()
            .enumerate()
    {
        assert_eq!(text_to(number, &format!("SMh{i}")).await.status(), 200);
    }

    // Cards, SSNs and passwords: masked in what is sent, stored and shown.
    let sent_reply = |t: &Value| t["messages"].as_array().unwrap().iter().any(|m| m["direction"] == "outbound");
    let cards = ticket("cards", sent_reply).await;
    let reply = cards["messages"].as_array().unwrap().iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(
        reply["body"], "Card ****1111 or ****1111 or ****1111, SSN ***-**-6789, your password: ****",
        "{cards:#}"
    );
    let tags = cards["tags"].to_string();
    assert!(tags.contains("card-****1111") && !tags.contains("4111111111111111"), "{tags}");
    let intents = cards["intents"].to_string();
    assert!(intents.contains("pay-****1111") && !intents.contains("4111111111111111"), "{intents}");
    let profile = ticket("profile", sent_reply).await;
    assert_eq!(profile["profile"]["name"], "Dana ****1111", "stored and shown masked: {profile:#}");
    let echoed = profile["messages"].as_array().unwrap().iter().find(|m| m["direction"] == "outbound").unwrap();
    assert_eq!(
        echoed["body"], "profile Some(\"Dana ****1111\") Some(\"SSN ***-**-6789\")",
        "what the responder was given"
    );

    // Controls and bidi overrides: invalid output, a person takes over, nothing is sent.
    for (id, says) in [
        ("nul", "U+0000 (a control character)"),
        ("bidi", "U+202E (a bidi override)"),
        ("escape", "U+001B (a control character)"),
        ("emoji", "3200 UTF-16 units"),
    ] {
        let t = ticket(id, |t| t["owner"] == "human").await;
        assert!(t["handoff_reason"].as_str().unwrap_or_default().contains(says), "{id}: {t:#}");
        assert!(!sent_reply(&t), "{id}: a reply went out: {t:#}");
    }
    // A hand-off reason is what agents read: masked too.
    let t = ticket("reason", |t| t["owner"] == "human").await;
    assert_eq!(t["handoff_reason"], "card ****1111 on file", "{t:#}");

    // What reached the provider: exactly the masked reply and the echo.
    let bodies: Vec<String> = fake
        .received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|form| form.iter().find(|(k, _)| k == "Body").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    host.shutdown().await;
    // Nothing of them is anywhere in the database (SQLite's files, or a PostgreSQL dump).
    for (path, bytes) in crate::support::stored_bytes(dir.path()) {
        for needle in ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "123-45-6789", "hunter2"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in {path:?}");
        }
    }
    for body in bodies {
        for needle in ["4111", "123-45", "hunter2"] {
            assert!(!body.contains(&format!("{needle}1")) && !body.contains("hunter2"), "{needle} sent: {body}");
        }
    }
}

#[test]
fn a_plugins_log_lines_never_read_as_the_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hostile.toml");
    let forged = "2026-12-01T00:00:00.000000Z  INFO provider::log: SMS: FORGED";
    let toml_string = |s: String| toml::Value::String(s).to_string();
    std::fs::write(
        &config,
        format!(
            "log = {}\nstderr = {}\nintent = \"ok\"\n",
            toml_string(format!("fine\n{forged} by log\r{forged} by cr")),
            toml_string(format!("oops\n{forged} by stderr\n\u{1b}[31m{forged} in red"))
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
        .args(["plugin", "run", HOSTILE_OUTPUT.path, "--role", "classifier", "--config", config.to_str().unwrap()])
        .env("SMSDESK_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    let lines: Vec<&str> = log.split(['\n', '\r']).filter(|l| l.contains("FORGED")).collect();
    assert_eq!(lines.len(), 2, "one record for the log call, one for stderr: {log}");
    for line in lines {
        assert!(!line.starts_with("2026-12-01T00:00:00") && !line.contains('\u{1b}'), "forged: {line:?}");
        assert!(line.contains("hostile-output"), "not marked as the plugin's: {line:?}");
    }
}

/// A component whose core functions number `n` (each empty), wrapped as a
/// component: what an attacker uploads to make the compiler work.
fn many_functions(n: u32) -> Vec<u8> {
    fn leb(mut v: u32, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u32, out);
        out.extend_from_slice(body);
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module);
    let mut funcs = Vec::new();
    leb(n, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, n as usize));
    section(3, &funcs, &mut module);
    let mut code = Vec::new();
    leb(n, &mut code);
    for _ in 0..n {
        code.extend_from_slice(&[2, 0, 0x0b]);
    }
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component);
    component
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_would_make_the_compiler_work_too_hard_is_refused_with_the_limit() {
    // 200,000 functions: counted and refused before anything is compiled.
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    trust_qa(&base).await;
    let (status, out) = upload(&base, signed(&many_functions(200_000))).await;
    assert_eq!(status, 400, "{out}");
    let why = out["error"].as_str().unwrap();
    assert!(why.contains("200000 functions") && why.contains("at most 100000"), "{why}");
    // The host serves on: a good upload and a customer's message.
    let (status, out) = upload(&base, signed(&GREETER_V1.read().unwrap())).await;
    assert_eq!(status, 201, "{out}");
    assert_eq!(crate::host::text(&base, "SMbig", "+15550960001", "what are your store hours").await.status(), 200);
    assert!(bot_replies(&base, "+15550960001", 1).await[0].contains("open"));
    host.shutdown().await;

    // Compiling happens in a worker process with a memory cap: one that
    // needs more is refused, naming the limit (and the worker's memory is
    // gone with it).
    let limits = smsdesk::plugins::CompileLimits {
        worker: Some(env!("CARGO_BIN_EXE_smsdesk").into()),
        memory_bytes: 256 << 20,
        ..Default::default()
    };
    let rt = smsdesk::plugins::Runtime::new(smsdesk::plugins::RuntimeConfig {
        compile: limits.clone(),
        ..Default::default()
    })
    .unwrap();
    let err = rt.load("big", many_functions(90_000), Default::default()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidComponent, "{err}");
    assert!(err.detail.contains("needed more than 256 MiB (a compile limit)"), "{err}");
    // With room enough, the same worker compiles real plugins, and what it
    // produces loads in the host's engine.
    let rt = smsdesk::plugins::Runtime::new(smsdesk::plugins::RuntimeConfig {
        compile: smsdesk::plugins::CompileLimits { memory_bytes: 1 << 30, ..limits },
        ..Default::default()
    })
    .unwrap();
    let good = rt.load("greeter", GREETER_V1.read().unwrap(), Default::default()).await.unwrap();
    let d = good
        .respond(&crate::support::call("acme"), &crate::support::message("hi"), &crate::support::context(), &[])
        .await;
    assert_eq!(d.unwrap().reply.as_deref(), Some("greeter 1.0.0: hello (hi)"));
}

/// `component` with one more core instance appended: a module whose start
/// function loops forever, run when the component is instantiated.
fn with_looping_start(component: &[u8]) -> Vec<u8> {
    // Core modules already defined at the top level (the new one's index).
    let mut modules = 0u8;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        at += 1;
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = component[at];
            at += 1;
            size |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if id == 1 {
            modules += 1;
        }
        at += size;
    }
    assert!(modules < 128);
    // (module (func loop br 0 end) (start 0))
    let module: &[u8] = &[
        0, b'a', b's', b'm', 1, 0, 0, 0, // header
        1, 4, 1, 0x60, 0, 0, // type: () -> ()
        3, 2, 1, 0, // one function of type 0
        8, 1, 0, // start: function 0
        10, 9, 1, 7, 0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b, // code: loop { br 0 }
    ];
    let mut out = component.to_vec();
    out.push(1);
    out.push(module.len() as u8);
    out.extend_from_slice(module);
    out.extend_from_slice(&[2, 4, 1, 0, modules, 0]); // core instance: instantiate module, no args
    out
}

#[tokio::test]
async fn a_start_function_that_never_ends_is_a_deadline_without_a_backtrace() {
    let rt = crate::support::runtime();
    let looping = with_looping_start(&GREETER_V1.read().unwrap());
    let started = std::time::Instant::now();
    let err = rt.load("slow-start", looping, Default::default()).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "stopped at its deadline");
    assert_eq!(err.kind, FailureKind::Deadline, "{err}");
    assert!(err.detail.contains("while starting up"), "{err}");
    for raw in ["backtrace", "wasm function", "<unknown>", "0x"] {
        assert!(!err.to_string().contains(raw), "{raw} in what people read: {err}");
    }
    crate::support::good_call_works(&rt).await;
}
