//! HTTP: the only module that knows axum. Provider webhooks under
//! `/webhooks/twilio/…`, the read API under `/api/v1/…`, `/healthz`.

mod admin;
mod agents;
mod api;
mod auth;
mod consent_api;
mod error;
mod inbox;
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
    /// Live ticket events.
    pub events: crate::events::Events,
    /// Becomes `true` when the server shuts down (ends event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Largest plugin upload.
    pub max_plugin_bytes: usize,
    /// This replica's state, for `/readyz`.
    pub status: Arc<crate::cluster::Status>,
}

/// Largest webhook or API body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/twilio/sms", post(webhooks::inbound_sms))
        .route("/webhooks/twilio/status", post(webhooks::status_callback))
        .layer(axum::middleware::from_fn(measure_webhook));
    let uploads = Router::new()
        .route("/admin/v1/plugins", post(admin::upload).get(admin::list))
        .layer(DefaultBodyLimit::max(state.max_plugin_bytes));
    Router::new()
        .merge(webhooks)
        .merge(uploads)
        .route("/admin/v1/plugins/{id}", axum::routing::delete(admin::remove))
        .route("/admin/v1/tenants/{tenant}/bindings", get(admin::bindings))
        .route("/admin/v1/tenants/{tenant}/bindings/{role}/{publisher}/{plugin}", axum::routing::put(admin::bind))
        .route("/admin/v1/tenants/{tenant}/bindings/{role}/{publisher}/{plugin}/{action}", post(admin::binding_action))
        .route("/admin/v1/audit", get(admin::audit))
        .route("/admin/v1/openapi.json", get(admin_openapi))
        .route("/admin/v1/tenants/{tenant}/plugins/{publisher}/{plugin}/secrets", get(admin::secret_list))
        .route(
            "/admin/v1/tenants/{tenant}/plugins/{publisher}/{plugin}/secrets/{name}",
            axum::routing::put(admin::secret_put).delete(admin::secret_delete),
        )
        .route("/admin/v1/publishers", get(admin::publisher_list))
        .route("/admin/v1/publishers/{name}", axum::routing::put(admin::publisher_put).delete(admin::publisher_delete))
        .route("/admin/v1/tenants/{tenant}/publishers", get(admin::trust_list))
        .route(
            "/admin/v1/tenants/{tenant}/publishers/{publisher}",
            axum::routing::put(admin::trust_put).delete(admin::trust_delete),
        )
        .route("/admin/v1/tenants/{tenant}/replay", post(admin::replay))
        .route("/admin/v1/tenants/{tenant}/shadow", post(admin::shadow_start).get(admin::shadow_list))
        .route("/admin/v1/tenants/{tenant}/shadow/{id}/{action}", post(admin::shadow_end))
        .route("/metrics", get(metrics))
        .route("/api/v1/conversations", get(api::list_conversations))
        .route("/api/v1/conversations/{id}", get(api::get_conversation))
        .route("/api/v1/plugins", get(api::list_plugins))
        .route("/api/v1/notifications", post(consent_api::notify))
        .route("/api/v1/consent", post(consent_api::record).get(consent_api::export))
        .route("/api/v1/me", get(agents::me))
        .route("/api/v1/tickets", get(agents::list))
        .route("/api/v1/tickets/{ticket}", get(agents::show))
        .route("/api/v1/tickets/{ticket}/reply", post(agents::reply))
        .route("/api/v1/tickets/{ticket}/notes", post(agents::note))
        .route("/api/v1/tickets/{ticket}/assign", post(agents::assign))
        .route("/api/v1/tickets/{ticket}/tags", post(agents::tags))
        .route("/api/v1/tickets/{ticket}/status", post(agents::status))
        .route("/api/v1/tickets/{ticket}/priority", post(agents::priority))
        .route("/api/v1/tickets/{ticket}/handback", post(agents::handback))
        .route("/api/v1/tickets/{ticket}/takeover", post(agents::takeover))
        .route("/api/v1/tickets/{ticket}/canned", get(agents::canned))
        .route("/api/v1/segments", post(agents::segments_preview))
        .route("/api/v1/reports", get(agents::report))
        .route("/api/v1/events", get(inbox::events))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/inbox", get(inbox::index))
        .route("/inbox/", get(inbox::index))
        .route("/inbox/app.js", get(inbox::app_js))
        .route("/inbox/app.css", get(inbox::app_css))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { error::ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Every error is the one JSON shape `{"error": "…"}`: axum's own answers
/// (a path that does not parse, a wrong method, a body over the limit) come
/// as text or empty, and are rewritten here with their status and headers
/// (`Allow`, …) kept.
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let mut out = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// Count and time each provider webhook.
async fn measure_webhook(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let endpoint = if request.uri().path().ends_with("/status") { "status" } else { "sms" };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    crate::metrics::count("smsdesk_webhook_requests_total", &[("endpoint", endpoint), ("status", &status)], 1);
    crate::metrics::observe(
        "smsdesk_webhook_duration_seconds",
        &[("endpoint", endpoint)],
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: Prometheus text format, with the current backlog.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (jobs, sends) = state.store.backlog().await.unwrap_or((-1, -1));
    let text = crate::metrics::render(&[
        ("smsdesk_pipeline_jobs_pending", "Inbound messages waiting for the pipeline.", jobs),
        ("smsdesk_outbox_pending", "Messages waiting in the outbox (incl. deferred).", sends),
    ]);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// `GET /readyz`: 200 when this replica should get traffic — the database
/// answers and has at least this binary's migrations, every tenant's
/// plugins are loaded, it is not shutting down; 503 with the reason
/// otherwise.
async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering;
    let mut body = serde_json::json!({
        "replica": state.store.process(),
        "engine": state.store.engine().name(),
        "housekeeping": if state.status.housekeeping.load(Ordering::Relaxed) { "leader" } else { "standby" },
        "tenants": state.tenants.all().count(),
    });
    let problem = if state.status.draining.load(Ordering::Relaxed) {
        Some("shutting down".to_string())
    } else {
        match state.store.schema().await {
            Err(e) => Some(format!("the database does not answer: {e}")),
            Ok(schema) => {
                body["migrations"] = serde_json::json!({ "applied": schema.applied, "known": schema.known });
                // Ahead is fine: a newer replica migrated during a rolling
                // upgrade, and migrations only add.
                (schema.applied < schema.known).then(|| {
                    format!("the database is at migration {}, this binary needs {}", schema.applied, schema.known)
                })
            }
        }
    }
    .or_else(|| {
        state
            .tenants
            .all()
            .find(|t| !state.bindings.is_loaded(&t.config.id))
            .map(|t| format!("tenant `{}` has no plugin set loaded", t.config.id))
    });
    body["ready"] = problem.is_none().into();
    if let Some(p) = problem {
        body["problem"] = p.into();
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    axum::Json(body).into_response()
}

/// The API's OpenAPI 3.1 description (`http/openapi.json`).
pub const OPENAPI: &str = include_str!("http/openapi.json");

async fn openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// The admin API's OpenAPI 3.1 description (`http/admin_openapi.json`).
pub const ADMIN_OPENAPI: &str = include_str!("http/admin_openapi.json");

async fn admin_openapi() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], ADMIN_OPENAPI)
}

/// Serve `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
