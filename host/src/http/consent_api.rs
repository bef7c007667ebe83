//! Consent and proactive notifications over the API (bearer tenant token,
//! every query scoped to that tenant): record consent, export the ledger,
//! send a notification through the outbox and its consent gate.

use super::AppState;
use super::api::tenant;
use super::error::ApiError;
use crate::consent::{self, EventKind, Purpose, Source};
use crate::domain::E164;
use crate::messaging::{segments, template};
use crate::store::{NewConsentEvent, NewOutbound};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// `POST /api/v1/notifications`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    to: String,
    category: String,
    template: String,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    dedupe_key: Option<String>,
    #[serde(default)]
    valid_for_seconds: Option<i64>,
    #[serde(default)]
    contact_time_zone: Option<String>,
}

static NOTIFICATIONS: AtomicU64 = AtomicU64::new(0);

/// Queue a proactive notification. It goes through the outbox's consent
/// gate like every message: consent, quiet hours and caps are checked when
/// it is sent, and it may wait (202 means queued, not sent).
pub async fn notify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers)?;
    let req: NotificationRequest = super::error::parse_json(&headers, &body)?;
    let to = E164::parse(&req.to).map_err(|e| ApiError::BadRequest(format!("`to`: {e}")))?;
    let purpose = match Purpose::parse(&req.category) {
        Some(p) if p.proactive() => p,
        _ => return Err(ApiError::BadRequest("`category` must be informational or promotional".into())),
    };
    let text = tenant
        .config
        .templates
        .get(&req.template)
        .ok_or_else(|| ApiError::BadRequest(format!("no template `{}` for this tenant", req.template)))?;
    let body_text =
        template::render(text, &req.variables).map_err(|e| ApiError::BadRequest(format!("`variables`: {e}")))?;
    if let Some(key) = &req.dedupe_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::BadRequest("`dedupe_key` must be 1 to 200 characters".into()));
    }
    let now = state.store.now();
    let expires_at = match req.valid_for_seconds {
        None => None,
        Some(s) if (1..=30 * 86_400).contains(&s) => Some(now + s * 1000),
        Some(_) => return Err(ApiError::BadRequest("`valid_for_seconds` must be between 1 and 2592000".into())),
    };
    if let Some(zone) = &req.contact_time_zone {
        jiff::tz::TimeZone::get(zone).map_err(|_| ApiError::BadRequest(format!("unknown time zone `{zone}`")))?;
    }
    let from = tenant
        .config
        .numbers
        .first()
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("this tenant has no sender number to notify from".into()))?;
    let key = match &req.dedupe_key {
        Some(k) => format!("notify:{}:{k}", tenant.config.id),
        None => format!("notify:{}:{now}:{}", tenant.config.id, NOTIFICATIONS.fetch_add(1, Ordering::Relaxed)),
    };
    if let Some(zone) = &req.contact_time_zone {
        state.store.set_contact_time_zone(&tenant.config.id, to.as_str(), zone).await?;
    }
    let info = segments::analyze(&body_text);
    let queued = state
        .store
        .enqueue_to_contact(NewOutbound {
            tenant_id: tenant.config.id.clone(),
            conversation_id: None,
            idempotency_key: key,
            author: "system",
            category: purpose.as_str(),
            from,
            to: to.as_str().to_string(),
            body: body_text,
            encoding: info.encoding.as_str(),
            segments: info.segments,
            subject: Some(req.template.clone()),
            answers_message_id: None,
            expires_at,
        })
        .await?;
    state.outbox.notify_waiters();
    Ok(match queued {
        Some((message_id, conversation_id)) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "message_id": message_id,
                "conversation_id": conversation_id,
                "status": "queued",
                "category": purpose.as_str(),
                "encoding": info.encoding.as_str(),
                "segments": info.segments,
            })),
        )
            .into_response(),
        None => (StatusCode::OK, Json(serde_json::json!({ "status": "duplicate" }))).into_response(),
    })
}

/// `POST /api/v1/consent`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    contact: String,
    event: String,
    #[serde(default = "default_purpose")]
    purpose: String,
    #[serde(default = "default_source")]
    source: String,
    #[serde(default)]
    disclosure_version: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

fn default_purpose() -> String {
    "all".into()
}
fn default_source() -> String {
    "api".into()
}

/// Record consent given or revoked outside SMS (a web form, a call, an
/// import): appended to the ledger with its evidence.
pub async fn record(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers)?;
    let req: ConsentRequest = super::error::parse_json(&headers, &body)?;
    let contact = E164::parse(&req.contact).map_err(|e| ApiError::BadRequest(format!("`contact`: {e}")))?;
    let event = match req.event.as_str() {
        "opt-in" => EventKind::OptIn,
        "opt-out" => EventKind::OptOut,
        other => return Err(ApiError::BadRequest(format!("`event` must be opt-in or opt-out, not `{other}`"))),
    };
    if !consent::ledger::PURPOSES.contains(&req.purpose.as_str()) {
        return Err(ApiError::BadRequest("`purpose` must be all, informational or promotional".into()));
    }
    let source = match req.source.as_str() {
        "api" => Source::Api,
        "import" => Source::Import,
        "agent" => Source::Agent,
        other => return Err(ApiError::BadRequest(format!("`source` must be api, import or agent, not `{other}`"))),
    };
    if event == EventKind::OptIn && req.disclosure_version.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::BadRequest(
            "an opt-in needs `disclosure_version`: the version of the disclosure the customer agreed to".into(),
        ));
    }
    if req.text.as_ref().is_some_and(|t| t.len() > 2000) {
        return Err(ApiError::BadRequest("`text` is limited to 2000 characters".into()));
    }
    let program = tenant
        .config
        .numbers
        .first()
        .cloned()
        .or_else(|| tenant.config.messaging_service_sid.clone())
        .unwrap_or_default();
    let stored = state
        .store
        .append_consent(&NewConsentEvent {
            tenant_id: tenant.config.id.clone(),
            phone: contact.as_str().to_string(),
            program,
            purpose: req.purpose,
            event,
            source,
            matched: None,
            message_id: None,
            text: req.text,
            disclosure_version: req.disclosure_version,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(stored).unwrap_or_default())).into_response())
}

/// `?contact=+1…&format=json|csv`
#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    contact: Option<String>,
    format: Option<String>,
}

/// Export the tenant's ledger, or one contact's history, as JSON or CSV.
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LedgerQuery>,
) -> Result<Response, ApiError> {
    let tenant = tenant(&state, &headers)?;
    let contact = match &q.contact {
        Some(c) => Some(E164::parse(c).map_err(|e| ApiError::BadRequest(format!("`contact`: {e}")))?),
        None => None,
    };
    let events = state.store.consent_ledger(&tenant.config.id, contact.as_ref().map(|c| c.as_str())).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(consent::ledger::to_json(&tenant.config.id, &events)).into_response()),
        "csv" => {
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], consent::ledger::to_csv(&events)).into_response())
        }
        other => Err(ApiError::BadRequest(format!("`format` must be json or csv, not `{other}`"))),
    }
}
