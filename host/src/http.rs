//! HTTP: the only module that knows axum. Provider webhooks under
//! `/webhooks/twilio/…`, the read API under `/api/v1/…`, `/healthz`.

mod api;
mod consent_api;
mod error;
mod webhooks;

use crate::pipeline::ingest::Ingest;
use crate::store::Store;
use crate::tenants::Tenants;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database (reads and status updates).
    pub store: Store,
    /// Tenants.
    pub tenants: Arc<Tenants>,
    /// Group-committed inbound writes.
    pub ingest: Ingest,
    /// Base URL the provider uses to reach us, for signatures behind a proxy.
    pub public_base_url: Option<String>,
    /// Woken when the API queues a message.
    pub outbox: Arc<tokio::sync::Notify>,
    /// Plugins per tenant, with their circuit breakers.
    pub bindings: Arc<crate::pipeline::bindings::Bindings>,
}

/// Largest webhook or API body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/twilio/sms", post(webhooks::inbound_sms))
        .route("/webhooks/twilio/status", post(webhooks::status_callback))
        .route("/api/v1/conversations", get(api::list_conversations))
        .route("/api/v1/conversations/{id}", get(api::get_conversation))
        .route("/api/v1/plugins", get(api::list_plugins))
        .route("/api/v1/notifications", post(consent_api::notify))
        .route("/api/v1/consent", post(consent_api::record).get(consent_api::export))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serve `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
