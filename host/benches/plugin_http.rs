//! Cost of a CRM lookup over brokered HTTP (contract 0.2.0), against
//! baselines measured in the same run, all to one local server on 127.0.0.1:
//!
//! (a) smsdesk: `LoadedPlugin::lookup` on the `crm-http` test guest — a fresh
//!     instance, the guest's `http.send`, the broker's checks (grant, scheme,
//!     DNS + address check for `localhost`, header secret), the request, the
//!     JSON answer turned into a profile;
//! (b) the broker alone: `broker::fetch` with the same policy and request
//!     (its client for the checked host and addresses is kept between requests);
//! (c) native reqwest with a shared client (kept-alive connection): what a
//!     process with no sandbox and no per-request checks pays;
//! (d) native reqwest with a new client per request (a new connection and
//!     TLS trust store each time), the way the broker connected before its
//!     clients were kept.
//!
//! Run: `cargo bench -p smsdesk --bench plugin_http`.

use criterion::{Criterion, criterion_group, criterion_main};
use smsdesk::broker::{self, Policy};
use smsdesk::plugins::{CallContext, Limits, PluginConfig, Runtime, RuntimeConfig};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PHONE: &str = "+15550910001";

fn crm_app() -> axum::Router {
    axum::Router::new().route(
        "/customers",
        axum::routing::get(|| async {
            axum::Json(serde_json::json!({
                "id": "crm-77", "name": "Dana", "tier": "gold", "last-order-id": "7731", "order-status": "packed"
            }))
        }),
    )
}

fn plugin_http(c: &mut Criterion) {
    // The CRM runs on its own runtime thread, as a remote server would.
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    server.spawn(async move { axum::serve(listener, crm_app()).await.unwrap() });

    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let grants: Vec<String> =
        ["outbound-http:localhost", "outbound-http-insecure:localhost", "outbound-http-private:localhost"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let mut policy = Policy::from_grants(&grants);
    policy.secret_headers = vec![("localhost".into(), "authorization".into(), "Bearer k".into())];
    let policy = Arc::new(policy);
    let base = format!("http://localhost:{port}");
    let url = format!("{base}/customers?phone=%2B15550910001");

    let mut group = c.benchmark_group("crm lookup over http");
    group.measurement_time(Duration::from_secs(5));

    // (a) the plugin's lookup through the host.
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let bytes = smsdesk_artifacts::test_guests::CRM_HTTP.read().unwrap();
    let plugin = tokio.block_on(runtime.load("crm-http", bytes, Limits::default())).unwrap();
    let ctx = CallContext {
        tenant: "acme".into(),
        config: PluginConfig::parse(&format!("url = {base:?}")).unwrap(),
        http: policy.clone(),
        ..Default::default()
    };
    group.bench_function("a smsdesk plugin lookup (fresh instance + brokered GET)", |b| {
        b.iter(|| {
            let profile = tokio.block_on(plugin.lookup(&ctx, PHONE)).unwrap().unwrap();
            assert_eq!(profile.name.as_deref(), Some("Dana"));
            black_box(profile)
        })
    });

    // (b) the broker alone.
    let request = broker::Request { method: "GET".into(), url: url.clone(), headers: vec![], body: vec![] };
    group.bench_function("b broker::fetch (checks, kept client)", |b| {
        b.iter(|| {
            let r = tokio.block_on(broker::fetch(&policy, &request, Instant::now() + Duration::from_secs(2))).unwrap();
            assert_eq!(r.status, 200);
            black_box(r)
        })
    });

    // (c) native, shared client.
    let shared = reqwest::Client::builder().no_proxy().build().unwrap();
    group.bench_function("c native reqwest, shared client", |b| {
        b.iter(|| {
            let body = tokio.block_on(async { shared.get(&url).send().await.unwrap().bytes().await.unwrap() });
            black_box(body)
        })
    });

    // (d) native, a new client per request.
    group.bench_function("d native reqwest, new client per request", |b| {
        b.iter(|| {
            let body = tokio.block_on(async {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                client.get(&url).send().await.unwrap().bytes().await.unwrap()
            });
            black_box(body)
        })
    });
    group.finish();
}

criterion_group!(benches, plugin_http);
criterion_main!(benches);
