//! Hostile guests are contained: each failure has its kind, and the host keeps serving.

use crate::support::*;
use smsdesk::plugins::{FailureKind, Limits};
use smsdesk_artifacts::test_guests;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_infinite_loop_stops_at_its_deadline() {
    let rt = runtime();
    let looper = load(&rt, &test_guests::LOOPER).await;
    let deadline = looper.limits().classify_deadline;
    for _ in 0..2 {
        let started = Instant::now();
        let err = looper.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind, FailureKind::Deadline, "{err}");
        assert_eq!(err.plugin, "looper");
        // Stopped by the deadline, not left to run: the host's outer
        // timeout (the deadline plus the key-value wait it excuses, 1 s)
        // is never what ends it. Generous, so a loaded machine passes.
        assert!(took < deadline + Duration::from_millis(900), "returned after {took:?}, deadline {deadline:?}");
    }
    let err = looper.respond(&call("acme"), &message("hi"), &context(), &[]).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Deadline);
    good_call_works(&rt).await;
}

#[tokio::test]
async fn the_deadline_is_configurable_per_plugin() {
    let rt = runtime();
    let limits = Limits { classify_deadline: Duration::from_millis(30), ..Limits::default() };
    let looper = load_with(&rt, &test_guests::LOOPER, limits).await;
    let err = looper.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Deadline);
    assert!(err.detail.contains("30ms"), "{err}");
    // A longer one is honoured too: the loop runs well past the default
    // 100 ms before it is stopped.
    let limits = Limits { classify_deadline: Duration::from_millis(600), ..Limits::default() };
    let looper = load_with(&rt, &test_guests::LOOPER, limits).await;
    let started = Instant::now();
    let err = looper.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Deadline);
    assert!(err.detail.contains("600ms"), "{err}");
    assert!(started.elapsed() >= Duration::from_millis(600), "stopped early: {:?}", started.elapsed());
}

#[tokio::test]
async fn unbounded_memory_growth_hits_the_cap() {
    let rt = runtime();
    let hog = load(&rt, &test_guests::MEMORY_HOG).await;
    let err = hog.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Memory, "{err}");
    assert!(err.detail.contains("32 MiB"), "{err}");
    // A smaller cap is honoured too.
    let small = load_with(&rt, &test_guests::MEMORY_HOG, Limits { memory_bytes: 8 << 20, ..Limits::default() }).await;
    let err = small.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Memory);
    assert!(err.detail.contains("8 MiB"), "{err}");
    good_call_works(&rt).await;
}

#[tokio::test]
async fn a_panic_and_a_trap_are_told_apart() {
    let rt = runtime();
    let trapper = load(&rt, &test_guests::TRAPPER).await;
    let err = trapper.classify(&call("acme"), &message("panic"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Panic, "{err}");
    assert!(err.detail.contains("panicked on purpose"), "{err}");
    let err = trapper.classify(&call("acme"), &message("trap"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Trap, "{err}");
    assert!(err.to_string().starts_with("plugin `trapper` (classifier): trap:"), "{err}");
    good_call_works(&rt).await;
}

#[tokio::test]
async fn oversized_outputs_are_rejected() {
    let rt = runtime();
    let big = load(&rt, &test_guests::OVERSIZED).await;
    let err = big.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidOutput);
    assert!(err.detail.contains("1000 intents"), "{err}");
    let err = big.respond(&call("acme"), &message("hi"), &context(), &[]).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidOutput);
    assert!(err.detail.contains("5000 UTF-16 units"), "{err}");
    good_call_works(&rt).await;
}

#[tokio::test]
async fn no_file_access() {
    let rt = runtime();
    let ambient = load(&rt, &test_guests::AMBIENT).await;
    let err = ambient.classify(&call("acme"), &message("file"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest, "{err}");
    assert!(err.detail.starts_with("denied: file:"), "{err}");
    good_call_works(&rt).await;
}

#[tokio::test]
async fn no_environment_variables() {
    // The host's own environment is not empty (cargo sets CARGO_MANIFEST_DIR
    // for every test run); none of it reaches the guest.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some() && std::env::vars_os().count() > 1);
    let rt = runtime();
    let ambient = load(&rt, &test_guests::AMBIENT).await;
    let err = ambient.classify(&call("acme"), &message("env"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest, "{err}");
    assert!(err.detail.contains("0 variables visible"), "{err}");
    good_call_works(&rt).await;
}

#[tokio::test]
async fn no_sockets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let rt = runtime();
    let ambient = load(&rt, &test_guests::AMBIENT).await;
    let err = ambient.classify(&call("acme"), &message(&format!("socket {port}")), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest, "{err}");
    assert!(err.detail.contains("denied: socket:"), "{err}");
    assert!(err.detail.contains("access-denied"), "{err}");
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the guest must not have connected: {accepted:?}"
    );
    good_call_works(&rt).await;
}

#[tokio::test]
async fn key_value_needs_the_capability() {
    let rt = runtime();
    let ambient = load(&rt, &test_guests::AMBIENT).await;
    let err = ambient.classify(&call("acme"), &message("kv"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest);
    assert!(err.detail.contains("name: \"denied\""), "{err}");
}

#[tokio::test]
async fn key_value_is_scoped_to_plugin_and_tenant_and_limited() {
    let rt = runtime();
    let counter = load(&rt, &test_guests::KV_COUNTER).await;
    let count = |tenant: &'static str| {
        let counter = &counter;
        async move { counter.classify(&call(tenant), &message("count"), &context()).await.unwrap()[0].label.clone() }
    };
    assert_eq!(count("acme").await, "count-1");
    assert_eq!(count("acme").await, "count-2");
    assert_eq!(count("globex").await, "count-1", "another tenant has its own keys");
    assert_eq!(count("acme").await, "count-3");
    let err = counter.classify(&call("acme"), &message("big"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Guest);
    assert!(err.detail.contains("value-too-large"), "{err}");
}

#[tokio::test]
async fn calling_a_role_the_plugin_lacks_is_a_typed_error() {
    let rt = runtime();
    let faq = load(&rt, &smsdesk_artifacts::first_party::FAQ_RESPONDER).await;
    let err = faq.classify(&call("acme"), &message("hi"), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::MissingRole);
    assert_eq!(err.plugin, "faq-responder");
    let err = faq.lookup(&call("acme"), "+15551234567").await.unwrap_err();
    assert_eq!(err.kind, FailureKind::MissingRole);
}

#[tokio::test]
async fn oversized_input_is_refused_before_the_call() {
    let rt = runtime();
    let good = load(&rt, &smsdesk_artifacts::first_party::KEYWORD_INTENTS).await;
    let err = good.classify(&call("acme"), &message(&"a".repeat(9000)), &context()).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_for_many_tenants_are_isolated() {
    let rt = runtime();
    let counter = std::sync::Arc::new(load(&rt, &test_guests::KV_COUNTER).await);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let tenant = format!("tenant-{t}");
            let mut labels = Vec::new();
            for _ in 0..5 {
                labels.push(
                    counter.classify(&call(&tenant), &message("count"), &context()).await.unwrap()[0].label.clone(),
                );
            }
            labels
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), ["count-1", "count-2", "count-3", "count-4", "count-5"]);
    }
}

#[tokio::test]
async fn idle_warm_instances_of_many_tenants_never_starve_new_calls() {
    // Eight instance slots in all; a plugin that keeps warm instances, called
    // for twenty tenants one after another. Were every tenant's idle
    // instance kept, the ninth tenant's call would find no free slot.
    let runtime = smsdesk::plugins::Runtime::new(smsdesk::plugins::RuntimeConfig {
        cache_dir: Some(crate::support::shared_cache_dir()),
        max_instances: 8,
        ..Default::default()
    })
    .unwrap();
    let limits = smsdesk::plugins::Limits { instance_calls: Some(100), ..Default::default() };
    let plugin = crate::support::load_with(&runtime, &smsdesk_artifacts::first_party::KEYWORD_INTENTS, limits).await;
    for round in 0..2 {
        for i in 0..20 {
            let call = crate::support::call(&format!("tenant-{i}"));
            let intents = plugin
                .classify(&call, &crate::support::message("Where is my order?"), &crate::support::context())
                .await
                .unwrap_or_else(|e| panic!("round {round}, tenant {i}: {e}"));
            assert_eq!(intents[0].label, "order-status");
        }
    }
    // And another plugin still gets instances.
    crate::support::good_call_works(&runtime).await;
}

/// Time a call spends waiting on the host's key-value store is the host's,
/// not the plugin's: with a store that takes 150 ms per operation, a
/// classifier with a 100 ms deadline that reads and writes one key still
/// answers (two waits, 300 ms, excused); its own computing keeps its deadline
/// (`an_infinite_loop_stops_at_its_deadline`).
#[tokio::test]
async fn waiting_on_the_hosts_key_value_store_does_not_count_against_the_deadline() {
    use smsdesk::plugins::{KvFuture, KvScope, KvStore, MemoryKv, RuntimeConfig};
    struct Slow(MemoryKv);
    impl KvStore for Slow {
        fn get<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                self.0.get(scope, key).await
            })
        }
        fn set<'a>(&'a self, scope: &'a KvScope, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                self.0.set(scope, key, value).await
            })
        }
        fn delete<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, ()> {
            Box::pin(async move { self.0.delete(scope, key).await })
        }
    }
    let runtime = smsdesk::plugins::Runtime::new(RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        kv: std::sync::Arc::new(Slow(MemoryKv::default())),
        ..Default::default()
    })
    .unwrap();
    let counter = load(&runtime, &test_guests::KV_COUNTER).await;
    assert_eq!(counter.limits().classify_deadline, Duration::from_millis(100));
    for n in 1..=2 {
        let started = Instant::now();
        let intents = counter.classify(&call("acme"), &message("hello"), &context()).await.expect("not a deadline");
        assert_eq!(intents[0].label, format!("count-{n}"));
        assert!(started.elapsed() >= Duration::from_millis(300), "both waits happened: {:?}", started.elapsed());
    }
}
