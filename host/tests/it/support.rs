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

/// The engine this run of the suite tests: SQLite (the default), or
/// PostgreSQL when `SMSDESK_TEST_ENGINE=postgres` (what
/// `postgres::every_storage_test_passes_on_postgresql` runs the suite with).
pub fn on_postgres() -> bool {
    std::env::var("SMSDESK_TEST_ENGINE").is_ok_and(|e| e == "postgres")
}

/// The database a test's host uses for the data directory `dir`: `None`
/// (SQLite in `dir`) or, on PostgreSQL, a database of its own named after
/// `dir` (so a restarted host finds its data), created by the host on first
/// use and dropped when the suite's PostgreSQL run ends.
pub fn database_url(dir: &std::path::Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let server = std::env::var("SMSDESK_TEST_POSTGRES_URL")
        .expect("SMSDESK_TEST_ENGINE=postgres needs SMSDESK_TEST_POSTGRES_URL (postgres://USER@HOST:PORT)");
    let prefix =
        std::env::var("SMSDESK_TEST_DB_PREFIX").unwrap_or_else(|_| format!("smsdesk_it_{}", std::process::id()));
    use sha2::Digest as _;
    let tag = hex::encode(&sha2::Sha256::digest(dir.display().to_string().as_bytes())[..6]);
    Some(format!("{}/{prefix}_{tag}", server.trim_end_matches('/')))
}

/// A `database_url = "…"` line for a configuration file whose data
/// directory is `dir` (empty on SQLite).
pub fn database_line(dir: &std::path::Path) -> String {
    database_url(dir).map(|url| format!("database_url = {url:?}\n")).unwrap_or_default()
}

/// Everything a test's host stored, as bytes to search: the SQLite files in
/// `dir`, or a data dump of its PostgreSQL database.
pub fn stored_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    match database_url(dir) {
        None => std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect(),
        Some(url) => {
            let out = std::process::Command::new("pg_dump")
                .args(["--data-only", "--dbname", &url])
                .output()
                .expect("pg_dump (PostgreSQL's client tools) runs");
            assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
            vec![(url, out.stdout)]
        }
    }
}
