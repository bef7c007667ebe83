//! Shared helpers: runtimes, loading built guests, sample messages.

use smsdesk::domain::{ConversationContext, InboundMessage};
use smsdesk::plugins::{CallContext, Limits, LoadedPlugin, PluginConfig, Runtime, RuntimeConfig};
use smsdesk_artifacts::Guest;
use std::path::PathBuf;

/// One precompiled-artifact cache for the tests, kept in cargo's target
/// directory between runs, so each guest compiles once (entries are keyed by
/// content hash and engine settings, and checksummed: a stale or torn entry
/// is recompiled, never used).
pub fn shared_cache_dir() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache");
    std::fs::create_dir_all(&dir).expect("creating the shared plugin cache");
    dir
}

pub fn runtime() -> Runtime {
    Runtime::new(RuntimeConfig { cache_dir: Some(shared_cache_dir()), max_instances: 64, ..Default::default() })
        .expect("runtime")
}

pub async fn load(runtime: &Runtime, guest: &Guest) -> LoadedPlugin {
    load_with(runtime, guest, Limits::default()).await
}

pub async fn load_with(runtime: &Runtime, guest: &Guest, limits: Limits) -> LoadedPlugin {
    let bytes = guest.read().expect("reading guest");
    runtime.load(guest.name, bytes, limits).await.unwrap_or_else(|e| panic!("loading {}: {e}", guest.name))
}

pub fn message(body: &str) -> InboundMessage {
    InboundMessage {
        id: "msg-1".into(),
        tenant: "acme".into(),
        from: "+15551234567".into(),
        to: "+15557654321".into(),
        body: body.into(),
        received_at: "2026-11-28T09:00:00Z".into(),
        media_urls: vec![],
    }
}

pub fn context() -> ConversationContext {
    ConversationContext { conversation_id: "conv-1".into(), history: vec![], profile: None }
}

pub fn call(tenant: &str) -> CallContext {
    CallContext { tenant: tenant.into(), config: PluginConfig::default(), ..Default::default() }
}

pub fn call_with(tenant: &str, config: &str) -> CallContext {
    CallContext { tenant: tenant.into(), config: PluginConfig::parse(config).expect("config"), ..Default::default() }
}

/// Proves the host still serves: a good plugin classifies right after a failure.
pub async fn good_call_works(runtime: &Runtime) {
    let good = load(runtime, &smsdesk_artifacts::first_party::KEYWORD_INTENTS).await;
    let intents = good
        .classify(&call("acme"), &message("Where is my order? Tracking hasn't moved"), &context())
        .await
        .expect("a good plugin works right after a failure");
    assert_eq!(intents[0].label, "order-status");
}

/// `GET /redirect?to=URL`: a 302 to `URL`, for tests of redirect handling.
pub fn redirect_route() -> axum::routing::MethodRouter {
    use axum::response::IntoResponse;
    axum::routing::get(
        |axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>| async move {
            (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, q.get("to").cloned().unwrap_or_default())])
                .into_response()
        },
    )
}
