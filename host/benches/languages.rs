//! Plugins per language: first-load compile time, cached load time and
//! per-message call cost, for the Rust first-party plugins and the
//! JavaScript, Python and C examples, measured in one run.
//!
//! Needs the example toolchains (`examples/plugins/install-toolchains.sh`);
//! builds the examples with `examples/plugins/build.sh` first.
//! Run: `cargo bench -p smsdesk --bench languages [-- --calls N]`.

use smsdesk::domain::{ConversationContext, InboundMessage, Intent, Role};
use smsdesk::plugins::{CallContext, Limits, LoadedPlugin, Runtime, RuntimeConfig};
use std::path::Path;
use std::time::{Duration, Instant};

fn message(body: &str) -> InboundMessage {
    InboundMessage {
        id: "1".into(),
        tenant: "bench".into(),
        from: "+15551234567".into(),
        to: "+15557650100".into(),
        body: body.into(),
        received_at: "2026-11-28T09:00:00Z".into(),
        media_urls: vec![],
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn call(p: &LoadedPlugin, role: Role, ctx: &CallContext, m: &InboundMessage, c: &ConversationContext) {
    let intents = [Intent { label: "order-status".into(), confidence: 0.9 }];
    match role {
        Role::Classifier => drop(p.classify(ctx, m, c).await.expect("classify")),
        Role::Responder => drop(p.respond(ctx, m, c, &intents).await.expect("respond")),
        Role::Crm => drop(p.lookup(ctx, &m.from).await.expect("lookup")),
    }
}

fn main() {
    let calls: usize =
        std::env::args().skip_while(|a| a != "--calls").nth(1).and_then(|n| n.parse().ok()).unwrap_or(300);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("example-plugins");
    let built = std::process::Command::new("bash")
        .arg(repo.join("examples/plugins/build.sh"))
        .arg(&out)
        .status()
        .expect("running build.sh");
    assert!(built.success(), "building the example plugins failed");
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let plugins: Vec<(&str, &str, Role, Vec<u8>)> = vec![
        ("Rust", "keyword-intents", Role::Classifier, smsdesk_artifacts::first_party::KEYWORD_INTENTS.read().unwrap()),
        ("Rust", "faq-responder", Role::Responder, smsdesk_artifacts::first_party::FAQ_RESPONDER.read().unwrap()),
        ("C", "damage-report", Role::Classifier, read(&out.join("damage-report.wasm"))),
        ("Python", "regex-intents", Role::Classifier, read(&out.join("regex-intents.wasm"))),
        ("JavaScript", "order-desk", Role::Responder, read(&out.join("order-desk.wasm"))),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        println!(
            "| language | plugin | size | compile (no cache) | cached load (median of 5) | call, default (median of {calls}) | p99 | call, fresh instance every time (median) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (language, name, role, bytes) in plugins {
            let cache = tempfile::tempdir().unwrap();
            let runtime = Runtime::new(RuntimeConfig {
                cache_dir: Some(cache.path().to_path_buf()),
                max_instances: 16,
                ..Default::default()
            })
            .unwrap();
            let started = Instant::now();
            runtime.load(name, bytes.clone(), Limits::default()).await.expect("load");
            let compile = started.elapsed();
            let mut loads = Vec::new();
            let mut plugin = None;
            for _ in 0..5 {
                let started = Instant::now();
                plugin = Some(runtime.load(name, bytes.clone(), Limits::default()).await.expect("load"));
                loads.push(started.elapsed());
            }
            let plugin = plugin.unwrap();
            let ctx = CallContext { tenant: "bench".into(), config: Default::default(), ..Default::default() };
            let m = message("Where is my order #1042? It arrived broken and I want a refund");
            let c = ConversationContext { conversation_id: "c".into(), history: vec![], profile: None };
            for _ in 0..10 {
                call(&plugin, role, &ctx, &m, &c).await;
            }
            let mut times = Vec::with_capacity(calls);
            for _ in 0..calls {
                let started = Instant::now();
                call(&plugin, role, &ctx, &m, &c).await;
                times.push(started.elapsed());
            }
            times.sort();
            let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
            // The same plugin with a fresh instance for every call.
            let fresh_limits = Limits { instance_calls: Some(1), ..Limits::default() };
            let fresh = runtime.load(name, bytes.clone(), fresh_limits).await.expect("load");
            let mut fresh_times = Vec::new();
            for _ in 0..(calls / 5).max(20) {
                let started = Instant::now();
                call(&fresh, role, &ctx, &m, &c).await;
                fresh_times.push(started.elapsed());
            }
            println!(
                "| {language} | {name} | {:.1} MB | {:.2} s | {:.1} ms | {:.3} ms | {:.3} ms | {:.3} ms |",
                bytes.len() as f64 / 1e6,
                compile.as_secs_f64(),
                median(loads).as_secs_f64() * 1e3,
                median(times).as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                median(fresh_times).as_secs_f64() * 1e3
            );
        }
    });
}
