//! Twilio-compatible webhooks: inbound SMS and status callbacks.
//!
//! Inbound: parse the form, find the tenant by `MessagingServiceSid` or `To`,
//! verify `X-Twilio-Signature` over every received parameter, redact card
//! numbers, and store the message with its job (group-committed) before
//! answering 200 with empty TwiML. Nothing slow happens here.

use super::AppState;
use super::error::ApiError;
use crate::domain::E164;
use crate::messaging::{redact, segments, signature};
use crate::store::{InboundOutcome, NewInbound};
use crate::tenants::Tenant;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// A parsed form: every parameter in order, duplicates kept.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Form, ApiError> {
        if !super::error::media_type_is(headers, "application/x-www-form-urlencoded") {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            return Err(ApiError::UnsupportedMediaType(format!(
                "expected application/x-www-form-urlencoded, got `{content_type}`"
            )));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(ApiError::BadRequest("body is not UTF-8".into()));
        }
        Ok(Form(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::BadRequest(format!("missing `{name}`")))
    }
}

/// The URL the provider requested, as it signed it.
fn signed_url(state: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Some(base) = &state.public_base_url {
        return format!("{}{path}", base.trim_end_matches('/'));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let scheme = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}{path}")
}

/// The tenant that owns `number` (or the form's Messaging Service), once the
/// request's signature verifies with that tenant's token. An unknown number
/// and a bad signature get the same 403, so an unsigned request learns
/// nothing about which numbers are configured; a number and a service of two
/// different tenants are refused even when signed.
fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    form: &Form,
    number: &str,
) -> Result<Arc<Tenant>, ApiError> {
    let service = form.get("MessagingServiceSid").filter(|s| !s.is_empty());
    let given = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).ok_or(ApiError::BadSignature)?;
    let url = signed_url(state, headers, uri);
    let signed_by = |t: &Tenant| signature::verify(t.config.provider.webhook_token(), &url, &form.0, given);
    let tenant = match state.tenants.for_recipient(number, service) {
        Ok(Some(tenant)) => tenant.clone(),
        Ok(None) => return Err(ApiError::BadSignature),
        Err((by_service, by_number)) => {
            if !signed_by(by_service) && !signed_by(by_number) {
                return Err(ApiError::BadSignature);
            }
            tracing::warn!(number, service, service_tenant = %by_service.config.id, number_tenant = %by_number.config.id,
                "refused a signed webhook whose number and Messaging Service belong to different tenants");
            return Err(ApiError::Forbidden(format!("{number} and the Messaging Service belong to different tenants")));
        }
    };
    if signed_by(&tenant) { Ok(tenant) } else { Err(ApiError::BadSignature) }
}

/// `POST /webhooks/twilio/sms`
pub async fn inbound_sms(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = Form::parse(&headers, &body)?;
    let to = form.require("To")?;
    let tenant = authenticate(&state, &headers, &uri, &form, to)?;

    let sid = form.require("MessageSid")?;
    if sid.len() > 64 {
        return Err(ApiError::BadRequest("`MessageSid` is longer than 64 characters".into()));
    }
    let from = E164::parse(form.require("From")?).map_err(|e| ApiError::BadRequest(format!("`From`: {e}")))?;
    let raw_body = form.get("Body").unwrap_or("");
    let num_media: usize = match form.get("NumMedia") {
        None | Some("") => 0,
        Some(n) => n.parse().map_err(|_| ApiError::BadRequest("`NumMedia` is not a number".into()))?,
    };
    let media_urls: Vec<String> =
        (0..num_media.min(10)).filter_map(|i| form.get(&format!("MediaUrl{i}")).map(str::to_string)).collect();
    // Card numbers (and SSNs, passwords) never reach storage, logs or plugins.
    let (body, redacted) = redact::redact(raw_body);
    if redacted.any() {
        tracing::info!(tenant = %tenant.config.id, message_sid = sid, cards = redacted.cards, ssns = redacted.ssns,
            passwords = redacted.passwords, "redacted an inbound message");
    }
    let info = segments::analyze(&body);
    let message = NewInbound {
        tenant_id: tenant.config.id.clone(),
        provider_sid: sid.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        body,
        media_urls,
        encoding: info.encoding.as_str(),
        segments: info.segments,
    };
    match state.ingest.store(message).await.map_err(ApiError::Internal)? {
        InboundOutcome::Stored(_) | InboundOutcome::Duplicate => {}
    }
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response())
}

/// `POST /webhooks/twilio/status`
pub async fn status_callback(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = Form::parse(&headers, &body)?;
    // Status callbacks come from the tenant's number (or Messaging Service),
    // and change only that tenant's messages.
    let tenant = authenticate(&state, &headers, &uri, &form, form.get("From").unwrap_or(""))?;
    let sid = form.get("MessageSid").or(form.get("SmsSid")).filter(|s| !s.is_empty());
    let sid = sid.ok_or_else(|| ApiError::BadRequest("missing `MessageSid`".into()))?;
    let status = form.get("MessageStatus").or(form.get("SmsStatus")).unwrap_or("");
    if crate::store::status_rank(status).is_none() {
        return Err(ApiError::BadRequest(format!("unknown `MessageStatus` `{status}`")));
    }
    let error_code = form.get("ErrorCode").filter(|c| !c.is_empty());
    let changed = state.store.apply_status(&tenant.config.id, sid, status, error_code).await?;
    if changed
        && state.events.listening()
        && let Ok(Some((tenant, ticket))) = state.store.conversation_of_sid(&tenant.config.id, sid).await
    {
        state.events.publish(&tenant, ticket, "message");
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
