//! Contract 0.2.0's brokered `http` import, end to end, and contract 0.1.0
//! still running beside it: a CRM plugin reaching a local CRM with the
//! tenant's API key injected by the host, refusals coming back to the plugin
//! as error values (never traps), and a plugin built against the frozen
//! 0.1.0 contract loading, running and being inspected as such.

use crate::admin::{OPS, bot_replies, config, upload};
use crate::host::text;
use crate::support::{context, message, runtime};
use crate::tickets::{ANA_AGENT, call, ticket_when};
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use reqwest::Method;
use serde_json::{Value, json};
use smsdesk::broker::Policy;
use smsdesk::plugins::{CallContext, FailureKind, PluginConfig};
use smsdesk::server;
use smsdesk_artifacts::test_guests::{CRM_HTTP, LEGACY_V010};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CRM_KEY: &str = "Bearer crm-key-5d1e9";
const DANA: &str = "+15550910001";

/// A CRM on 127.0.0.1 that knows Dana, insists on its API key, and
/// remembers the `authorization` header of every request.
async fn crm_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new()
        .route(
            "/customers",
            get(move |headers: HeaderMap, Query(q): Query<HashMap<String, String>>| {
                let log = log.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    log.lock().unwrap().push(auth.clone());
                    if auth != CRM_KEY {
                        return (StatusCode::UNAUTHORIZED, "missing API key").into_response();
                    }
                    match q.get("phone").map(String::as_str) {
                        Some(DANA) => axum::Json(json!({
                            "id": "crm-77", "name": "Dana", "tier": "gold",
                            "last-order-id": "7731", "order-status": "packed"
                        }))
                        .into_response(),
                        _ => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        )
        .route("/redirect", crate::support::redirect_route())
        .route(
            "/slow/customers",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                StatusCode::NOT_FOUND
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

/// Every grant a local test needs for `localhost`.
fn local_grants() -> Vec<String> {
    ["outbound-http:localhost", "outbound-http-insecure:localhost", "outbound-http-private:localhost"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn ctx(url: &str, grants: &[String], key: bool) -> CallContext {
    let mut policy = Policy::from_grants(grants);
    if key {
        policy.secret_headers = vec![("localhost".into(), "Authorization".into(), CRM_KEY.into())];
    }
    CallContext {
        tenant: "acme".into(),
        config: PluginConfig::parse(&format!("url = {url:?}")).unwrap(),
        http: Arc::new(policy),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_reaches_the_plugin_as_an_error_value_never_a_trap() {
    let (port, seen) = crm_server().await;
    let rt = runtime();
    let bytes = CRM_HTTP.read().unwrap();
    let plugin = rt.load("crm-http", bytes, Default::default()).await.unwrap();
    assert_eq!(plugin.info().wit_version.as_deref(), Some("0.2.0"));
    let local = format!("http://localhost:{port}");
    let cases: Vec<(&str, CallContext, &str)> = vec![
        ("nothing granted", ctx(&local, &[], true), "host `localhost` is not granted"),
        (
            "HTTPS only",
            ctx(&local, &["outbound-http:localhost".into()], true),
            "plain HTTP to `localhost` is not granted",
        ),
        (
            "no loopback without the private grant",
            ctx(&local, &local_grants()[..2], true),
            "`localhost` resolves to a non-public address",
        ),
        (
            "another host than the one granted",
            ctx(&format!("http://127.0.0.1:{port}"), &local_grants(), true),
            "host `127.0.0.1` is not granted",
        ),
        (
            "a redirect to a host not granted",
            ctx(&format!("{local}/redirect?to=http://169.254.169.254/latest&x="), &local_grants(), true),
            "host `169.254.169.254` is not granted",
        ),
    ];
    for (case, call, why) in cases {
        let err = plugin.lookup(&call, DANA).await.unwrap_err();
        // The plugin got the refusal as a value and reported it itself.
        assert_eq!(err.kind, FailureKind::Guest, "{case}: {err}");
        assert!(err.detail.starts_with("denied: HTTP denied: "), "{case}: {err}");
        assert!(err.detail.contains(why), "{case}: {err}");
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the CRM: {:?}", seen.lock().unwrap());

    // Granted but without the key: the CRM answers 401, which the plugin reports.
    let err = plugin.lookup(&ctx(&local, &local_grants(), false), DANA).await.unwrap_err();
    assert!(err.detail.contains("CRM answered 401"), "{err}");
    // The plugin's own authorization header went out when no secret replaces it.
    assert_eq!(seen.lock().unwrap().last().map(String::as_str), Some("plugin-made-this-up"));

    // Granted, with the key: the same loaded plugin answers.
    let profile = plugin.lookup(&ctx(&local, &local_grants(), true), DANA).await.unwrap().unwrap();
    assert_eq!((profile.id.as_str(), profile.name.as_deref()), ("crm-77", Some("Dana")));
    assert!(profile.attributes.contains(&("last-order-id".to_string(), "7731".to_string())));
    assert_eq!(seen.lock().unwrap().last().map(String::as_str), Some(CRM_KEY), "the injected key won");
    assert_eq!(plugin.lookup(&ctx(&local, &local_grants(), true), "+15550919999").await.unwrap(), None);

    // The same from the command line a plugin author uses: refused without
    // grants, answered with them and the key from the environment.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("crm.toml");
    std::fs::write(&config, format!("url = {local:?}\n")).unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["plugin", "run", CRM_HTTP.path, "--role", "crm", "--from", DANA, "--config"])
            .arg(&config)
            .args(extra)
            .env("SMSDESK_HEADER_SECRET", CRM_KEY)
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("host `localhost` is not granted"), "{stderr}");
    let mut args = vec!["--header-secret", "localhost:Authorization"];
    let grants = local_grants();
    for g in &grants {
        args.extend(["--grant", g.as_str()]);
    }
    let answered = run(&args);
    let stdout = String::from_utf8_lossy(&answered.stdout);
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    assert!(stdout.contains("\"Dana\"") && stdout.contains("crm-77"), "{stdout}");
    let typo = run(&["--grant", "outbound-http-privat:localhost"]);
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("unknown grant"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_calls_a_local_crm_over_brokered_http_with_the_tenants_key() {
    let (port, seen) = crm_server().await;
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    crate::admin::trust_qa(&base).await;
    let (status, up) = upload(&base, crate::admin::signed(&CRM_HTTP.read().unwrap())).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["plugin"]["wit_version"], "0.2.0");
    assert_eq!(up["plugin"]["capabilities"], json!(["outbound-http:localhost", "raw-phone-numbers"]));

    // Denied until granted: the admin sees what it asks for.
    let path = "/admin/v1/tenants/acme/bindings/crm/qa/crm-http";
    let body = |grants: Vec<String>| json!({"version_id": up["plugin"]["id"], "config": {"url": format!("http://localhost:{port}")}, "grants": grants});
    let (status, out) = call(&base, Method::PUT, path, OPS, Some(body(vec!["outbound-htp:localhost".into()]))).await;
    assert_eq!(status, 400, "{out}");
    assert!(out["error"].as_str().unwrap().contains("unknown grant `outbound-htp:localhost`"), "{out}");
    let (status, out) = call(&base, Method::PUT, path, OPS, Some(body(vec!["raw-phone-numbers".into()]))).await;
    assert_eq!(status, 409, "{out}");
    assert!(out["error"].as_str().unwrap().contains("outbound-http:localhost"), "{out}");
    let mut grants = local_grants();
    grants.push("raw-phone-numbers".into());
    let (status, out) = call(&base, Method::PUT, path, OPS, Some(body(grants))).await;
    assert_eq!(status, 200, "{out}");

    // The CRM's key is a header secret: the host adds it, the plugin never sees it.
    let secret = "/admin/v1/tenants/acme/plugins/qa/crm-http/secrets/crm-key";
    for bad in [
        json!({"value": CRM_KEY, "header": {"host": "localhost", "name": "Bad Header"}}),
        json!({"value": CRM_KEY, "header": {"host": "localhost", "name": "Host"}}),
        json!({"value": "a\r\nb", "header": {"host": "localhost", "name": "Authorization"}}),
    ] {
        let (status, out) = call(&base, Method::PUT, secret, OPS, Some(bad)).await;
        assert_eq!(status, 400, "{out}");
        assert!(!out.to_string().contains(CRM_KEY), "{out}");
    }
    // Set through the CLI, the value on stdin (never on the command line).
    let cli = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["plugin", "secret"])
            .args(args)
            .args(["--server", &base, "--tenant", "acme", "--plugin", "qa/crm-http"])
            .env("SMSDESK_ADMIN_TOKEN", OPS)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = cli(&["set", "crm-key", "--header-host", "localhost", "--header-name", "Authorization"], CRM_KEY);
    assert!(said.contains("sent as `Authorization` to localhost"), "{said}");
    let listed = cli(&["list"], "");
    assert!(listed.contains("crm-key") && listed.contains("header `Authorization` to localhost"), "{listed}");
    assert!(!listed.contains(CRM_KEY), "{listed}");
    // The admin sees what the binding may reach and which header it gets (never its value).
    let (_, b) = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await;
    let active = b["active"].as_array().unwrap().iter().find(|a| a["plugin"] == "crm-http").unwrap().clone();
    assert_eq!(active["wit_version"], "0.2.0");
    assert_eq!(active["http"]["hosts"], json!(["localhost"]));
    assert_eq!(
        active["http"]["header_secrets"],
        json!([{"host": "localhost", "name": "Authorization", "host_granted": true}])
    );
    assert!(!b.to_string().contains(CRM_KEY), "{b}");
    let (_, listed) = call(&base, Method::GET, "/admin/v1/tenants/acme/plugins/qa/crm-http/secrets", OPS, None).await;
    assert_eq!(listed["secrets"][0]["header"], json!({"host": "localhost", "name": "Authorization"}));
    assert!(!listed.to_string().contains(CRM_KEY), "{listed}");

    // A customer asks where their order is: the profile came over HTTP.
    assert_eq!(text(&base, "SMhttp1", DANA, "where is my order?").await.status(), 200);
    let replies = bot_replies(&base, DANA, 1).await;
    assert!(replies[0].starts_with("Hi Dana! Your order #7731 is packed"), "{replies:?}");
    assert_eq!(seen.lock().unwrap().as_slice(), [CRM_KEY], "one lookup, with the injected key");
    let t = ticket_when(&base, ANA_AGENT, DANA, |t| !t["traces"].as_array().unwrap().is_empty()).await;
    assert!(t["traces"].as_array().unwrap().iter().any(|x| x["plugin"] == "crm-http" && x["outcome"] == "ok"), "{t}");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"smsdesk_plugin_http_requests_total{tenant="acme",plugin="crm-http",outcome="2xx"}"#),
        "{metrics}"
    );

    // Without the key the CRM refuses; the conversation goes to a person and
    // the trace says why.
    assert!(cli(&["delete", "crm-key"], "").contains("deleted `crm-key`"));
    assert_eq!(call(&base, Method::DELETE, secret, OPS, None).await.0, 404);
    let carol = "+15550910002";
    assert_eq!(text(&base, "SMhttp2", carol, "where is my order?").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, carol, |t| {
        t["traces"].as_array().unwrap().iter().any(|x| x["plugin"] == "crm-http")
    })
    .await;
    let trace = t["traces"].as_array().unwrap().iter().find(|x| x["plugin"] == "crm-http").unwrap().clone();
    assert!(trace["detail"].as_str().unwrap().contains("CRM answered 401"), "{trace}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_0_1_0_still_runs() {
    // In the runtime: it loads as 0.1.0 and its 0.1.0 imports work.
    let rt = runtime();
    let legacy = rt.load("legacy-v010", LEGACY_V010.read().unwrap(), Default::default()).await.unwrap();
    assert_eq!(legacy.info().wit_version.as_deref(), Some("0.1.0"));
    assert!(legacy.info().imports.iter().all(|i| !i.contains("smsdesk:plugin/http")), "{:?}", legacy.info().imports);
    let cc = crate::support::call_with("acme", "greeting = \"hey\"");
    let intents = legacy.classify(&cc, &message("hello there"), &context()).await.unwrap();
    assert_eq!(intents[0].label, "greeting");
    for n in 1..=2 {
        let d = legacy.respond(&cc, &message("hello there"), &context(), &intents).await.unwrap();
        assert_eq!(d.reply.as_deref(), Some(format!("hey from 0.1.0 (greeting, call {n})").as_str()));
    }

    // `plugin inspect` says which contract each targets.
    let cli = env!("CARGO_BIN_EXE_smsdesk");
    for (guest, version) in [(&LEGACY_V010, "0.1.0"), (&CRM_HTTP, "0.2.0")] {
        let out = std::process::Command::new(cli).args(["plugin", "inspect", guest.path]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.lines().any(|l| l.starts_with("wit version:") && l.ends_with(version)), "{stdout}");
    }

    // On a live host, installed beside 0.2.0 plugins, it answers customers.
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    crate::admin::allow_unsigned(&base).await;
    let (status, up) = upload(&base, LEGACY_V010.read().unwrap()).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["plugin"]["wit_version"], "0.1.0");
    let (status, out) = call(
        &base,
        Method::PUT,
        "/admin/v1/tenants/acme/bindings/responder/unsigned/legacy-v010",
        OPS,
        Some(json!({"version_id": up["plugin"]["id"], "config": {"greeting": "howdy"}, "grants": ["key-value"]})),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(text(&base, "SMold1", "+15550920001", "hello").await.status(), 200);
    let replies: Vec<String> = bot_replies(&base, "+15550920001", 1).await;
    // The tenant's configured classifier (0.2.0) found no `greeting`; the 0.1.0 responder answered.
    assert!(replies[0].starts_with("howdy from 0.1.0 ("), "{replies:?}");
    let v: Value = call(&base, Method::GET, "/admin/v1/plugins", OPS, None).await.1;
    assert!(v.to_string().contains("\"wit_version\":\"0.1.0\""), "{v}");
    host.shutdown().await;
}

#[test]
fn plugin_test_answers_http_from_the_cases_and_reaches_no_network() {
    let cases = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guests/crm-http/cases.yaml");
    let run = |file: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["plugin", "test", CRM_HTTP.path, "--cases", file])
            .output()
            .unwrap()
    };
    let out = run(cases);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains("4 of 4 cases passed"), "{table}");
    // A host the manifest does not ask for is refused before any canned answer.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "config: { url: \"https://crm.example.com\" }\ncases:\n  - name: not asked for\n    http:\n      - url: \"https://crm.example.com/*\"\n        json: { id: x }\n    expect:\n      found: true\n",
    )
    .unwrap();
    let out = run(other.to_str().unwrap());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{table}");
    assert!(table.contains("FAIL") && table.contains("host `crm.example.com` is not granted"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_instance_pool_waits_for_slots_instead_of_failing() {
    // Eight instance slots; forty lookups at once, each waiting 200 ms on the
    // CRM inside its call (its instance alive all the while). They queue for
    // a slot, each deadline starting once it has one; none fails.
    let (port, _) = crm_server().await;
    let runtime = smsdesk::plugins::Runtime::new(smsdesk::plugins::RuntimeConfig {
        cache_dir: Some(crate::support::shared_cache_dir()),
        max_instances: 8,
        ..Default::default()
    })
    .unwrap();
    let plugin = Arc::new(runtime.load("crm-http", CRM_HTTP.read().unwrap(), Default::default()).await.unwrap());
    let call = ctx(&format!("http://localhost:{port}/slow"), &local_grants(), true);
    let started = std::time::Instant::now();
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let (plugin, call) = (plugin.clone(), call.clone());
            tokio::spawn(async move { plugin.lookup(&call, DANA).await })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        assert_eq!(c.await.unwrap().unwrap_or_else(|e| panic!("call {i}: {e}")), None);
    }
    // Six at a time (two slots are the idle budget): about seven rounds of 200 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1200), "{:?}", started.elapsed());
}
