//! The read API: a tenant's conversations, authenticated by the tenant's
//! bearer token. Every query is scoped to that tenant.

use super::AppState;
use super::error::ApiError;
use crate::tenants::Tenant;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use std::sync::Arc;

/// The tenant of an admin (or of the tenant's API token).
pub(super) fn tenant(state: &AppState, headers: &HeaderMap) -> Result<Arc<Tenant>, ApiError> {
    Ok(super::auth::admin(state, headers)?.tenant)
}

/// `?limit=N`
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// `GET /api/v1/conversations`
pub async fn list_conversations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = super::auth::principal(&state, &headers)?.tenant;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("`limit` must be between 1 and 500".into()));
    }
    let conversations = state.store.conversations(&tenant.config.id, limit).await?;
    Ok(Json(serde_json::json!({ "tenant": tenant.config.id, "conversations": conversations })))
}

/// `GET /api/v1/conversations/{id}`
pub async fn get_conversation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = super::auth::principal(&state, &headers)?.tenant;
    let id: i64 = id.parse().map_err(|_| ApiError::BadRequest(format!("`{id}` is not a conversation id")))?;
    let detail = state
        .store
        .conversation(&tenant.config.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no conversation {id}")))?;
    Ok(Json(serde_json::to_value(detail).map_err(|e| ApiError::Internal(e.to_string()))?))
}

/// `GET /api/v1/plugins`: the tenant's plugin bindings, each with its
/// version and circuit-breaker state (why a binding is suspended, and when it
/// is tried again).
pub async fn list_plugins(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = tenant(&state, &headers)?;
    let now = std::time::Instant::now();
    let plugins: Vec<serde_json::Value> = state
        .bindings
        .get(&tenant.config.id)
        .all()
        .map(|b| {
            serde_json::json!({
                "role": b.role.as_str(),
                "plugin": b.plugin.name(),
                "version": b.plugin.manifest().version,
                "sha256": b.plugin.info().sha256,
                "breaker": b.breaker.status(now),
                "metrics": crate::metrics::plugin_summary(&b.call.tenant, b.plugin.name(), b.role.as_str()),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "tenant": tenant.config.id, "plugins": plugins })))
}
