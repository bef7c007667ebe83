//! Plugins in other languages: the JavaScript, Python and C examples run a
//! conversation over the real webhook path, and hostile Python and
//! JavaScript plugins cannot reach files or sockets.
//!
//! The components are built once per test run by `examples/plugins/build.sh`
//! (unchanged sources are not rebuilt); a missing toolchain fails the tests
//! with the script's message naming the tool.

use crate::host::{ANA, api, outbound, text, wait_for};
use crate::support::{self, context, message};
use smsdesk::config::{Config, PluginBindingConfig, TenantConfig};
use smsdesk::domain::Role;
use smsdesk::plugins::{CallContext, FailureKind, Limits, PluginConfig};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The built example plugins and probes.
pub fn example_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-plugins");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/build.sh");
        let o = std::process::Command::new("bash").arg(&script).arg(&out).output().expect("running build.sh");
        assert!(
            o.status.success(),
            "building the example plugins failed ({}):\n{}",
            script.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        out
    })
}

fn plugin(name: &str) -> String {
    example_plugins().join(name).display().to_string()
}

fn polyglot_tenant() -> TenantConfig {
    // The demo CRM of the first-party set (it knows Ana), then the examples.
    let crm = crate::host::first_party_plugins().into_iter().find(|b| b.role == Role::Crm).unwrap();
    let mut t = crate::host::tenant(crate::host::log_provider(), vec![]);
    t.plugins = vec![
        crm,
        PluginBindingConfig::new(Role::Classifier, plugin("regex-intents.wasm")),
        PluginBindingConfig::new(Role::Classifier, plugin("damage-report.wasm")),
        PluginBindingConfig::new(Role::Responder, plugin("order-desk.wasm")),
    ];
    t
}

#[tokio::test]
async fn javascript_python_and_c_plugins_run_a_conversation_over_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: crate::support::database_url(dir.path()),
        bind: "127.0.0.1:0".parse().unwrap(),
        plugin_cache_dir: Some(support::shared_cache_dir()),
        tenants: vec![polyglot_tenant()],
        ..Config::default()
    };
    let host = smsdesk::server::start(config).await.expect("the host loads the three plugins");
    let base = format!("http://{}", host.addr);

    // Python classifies, the JavaScript responder answers from the CRM profile.
    assert_eq!(text(&base, "SMpg1", ANA, "Where is my order #1042? Tracking hasn't moved").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| !outbound(c).is_empty()).await;
    assert_eq!(
        outbound(&conv)[0]["body"],
        "Hi Ana! Your order #1042 is in transit. Track it here: https://example.com/track"
    );
    assert_eq!(conv["intents"][0]["label"], "order-status", "{conv:#}");
    let calls: Vec<(String, String)> = conv["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["role"].as_str().unwrap().to_string(), t["plugin"].as_str().unwrap().to_string()))
        .collect();
    let expected = [
        ("crm", "demo-crm"),
        ("classifier", "regex-intents"),
        ("classifier", "damage-report"),
        ("responder", "order-desk"),
    ];
    assert_eq!(calls, expected.map(|(r, p)| (r.to_string(), p.to_string())));
    assert!(conv["traces"].as_array().unwrap().iter().all(|t| t["outcome"] == "ok"), "{conv:#}");

    // C finds the delivery problem; JavaScript answers and hands it to fulfilment.
    let bob = "+15550001111";
    assert_eq!(text(&base, "SMpg2", bob, "My mug arrived BROKEN, not what I ordered either").await.status(), 200);
    let conv = wait_for(&base, bob, |c| !outbound(c).is_empty()).await;
    assert!(outbound(&conv)[0]["body"].as_str().unwrap().starts_with("Hi! We're sorry about that."));
    assert_eq!(conv["owner"], "human");
    assert_eq!(conv["handoff_team"], "fulfilment");
    let labels: Vec<&str> = conv["intents"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"wrong-item") && labels.contains(&"damaged-item"), "{labels:?}");

    // Python's refund rule, JavaScript's returns reply and resolve.
    let cy = "+15550002222";
    assert_eq!(text(&base, "SMpg3", cy, "I want my money back").await.status(), 200);
    let conv = wait_for(&base, cy, |c| !outbound(c).is_empty()).await;
    assert!(outbound(&conv)[0]["body"].as_str().unwrap().contains("return items within 30 days"));
    assert_eq!(conv["status"], "resolved");
    let _ = api(&base, "/api/v1/conversations").await;
    host.shutdown().await;
}

#[tokio::test]
async fn the_examples_import_no_wasi_at_all() {
    let runtime = support::runtime();
    for name in ["regex-intents.wasm", "order-desk.wasm", "damage-report.wasm"] {
        let bytes = std::fs::read(example_plugins().join(name)).unwrap();
        let p = runtime.load(name, bytes, Limits::default()).await.unwrap();
        let wasi: Vec<&String> = p.info().imports.iter().filter(|i| i.starts_with("wasi:")).collect();
        assert!(wasi.is_empty(), "{name} imports {wasi:?}");
    }
}

/// The sandbox probes test what is denied, not how fast: a cold interpreter
/// start plus the probes can pass 100 ms of wall time while the suite compiles
/// components on both cores (deadlines have tests of their own in `sandbox`).
fn probe_limits() -> Limits {
    let deadline = std::time::Duration::from_secs(2);
    Limits { classify_deadline: deadline, respond_deadline: deadline, ..Limits::default() }
}

#[tokio::test]
async fn a_python_plugin_cannot_read_files_or_open_sockets() {
    let runtime = support::runtime();
    let bytes = std::fs::read(example_plugins().join("py-probe.wasm")).unwrap();
    let probe = runtime.load("py-probe", bytes, probe_limits()).await.unwrap();
    // It imports filesystem, sockets and the rest, and the host satisfies them...
    let imports = &probe.info().imports;
    for wanted in ["wasi:filesystem/preopens", "wasi:sockets/tcp", "wasi:cli/environment"] {
        assert!(imports.iter().any(|i| i.starts_with(wanted)), "{wanted} in {imports:?}");
    }
    // ...with nothing behind them.
    let intents = probe.classify(&support::call("acme"), &message("probe"), &context()).await.unwrap();
    let labels: Vec<&str> = intents.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "file-denied:FileNotFoundError",
            "file-denied:FileNotFoundError",
            "file-denied:FileNotFoundError",
            "socket-denied:ModuleNotFoundError",
            "env:0",
            "listdir-denied:FileNotFoundError",
            "calls:1",
        ]
    );
}

/// The `calls:N` label of a py-probe answer: how many calls its instance served.
async fn probe_calls(p: &smsdesk::plugins::LoadedPlugin, tenant: &str, config: &str) -> Result<String, String> {
    let call =
        CallContext { tenant: tenant.into(), config: PluginConfig::parse(config).unwrap(), ..Default::default() };
    let intents = p.classify(&call, &message("probe"), &context()).await.map_err(|e| e.to_string())?;
    Ok(intents.iter().find(|i| i.label.starts_with("calls:")).unwrap().label.clone())
}

#[tokio::test]
async fn warm_instances_serve_one_tenant_a_bounded_number_of_calls() {
    let runtime = support::runtime();
    let bytes = std::fs::read(example_plugins().join("py-probe.wasm")).unwrap();
    // Heavy components get warm instances by default; small ones never do.
    let heavy = runtime.load("py-probe", bytes.clone(), Limits::default()).await.unwrap();
    assert_eq!(heavy.instance_calls(), smsdesk::plugins::limits::HEAVY_INSTANCE_CALLS);
    let small = support::load(&runtime, &smsdesk_artifacts::first_party::KEYWORD_INTENTS).await;
    assert_eq!(small.instance_calls(), 1);

    let limits = Limits { instance_calls: Some(3), ..Limits::default() };
    let p = runtime.load("py-probe", bytes, limits).await.unwrap();
    // One tenant's calls reuse an instance, three calls at most.
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(probe_calls(&p, "acme", "").await.unwrap());
    }
    assert_eq!(seen, ["calls:1", "calls:2", "calls:3", "calls:1"]);
    // Another tenant, or another configuration, never gets that instance.
    assert_eq!(probe_calls(&p, "globex", "").await.unwrap(), "calls:1");
    assert_eq!(probe_calls(&p, "acme", "mode = 'other'").await.unwrap(), "calls:1");
    assert_eq!(probe_calls(&p, "acme", "").await.unwrap(), "calls:2");
}

#[tokio::test]
async fn a_javascript_plugin_cannot_reach_the_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let runtime = support::runtime();
    let bytes = std::fs::read(example_plugins().join("js-probe.wasm")).unwrap();
    let probe = runtime.load("js-probe", bytes, probe_limits()).await.unwrap();
    assert!(!probe.info().imports.iter().any(|i| i.starts_with("wasi:http")), "no wasi:http import");
    let call = CallContext {
        tenant: "acme".into(),
        config: PluginConfig::parse(&format!("url = {url:?}")).unwrap(),
        ..Default::default()
    };
    let err = probe.classify(&call, &message("probe"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Trap, "{err}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(listener.accept().is_err(), "nothing connected to {url}");
    support::good_call_works(&runtime).await;
}
