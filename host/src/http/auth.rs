//! Who is calling: a user's personal token (agent or admin) or the tenant's
//! API token (an integration, with admin rights). Every handler scopes its
//! queries to the principal's tenant.

use super::AppState;
use super::error::ApiError;
use crate::config::UserRole;
use crate::tenants::Tenant;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

/// The caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Their tenant; nothing else is visible to them.
    pub tenant: Arc<Tenant>,
    /// User id (`api` for the tenant's API token), as timelines show it.
    pub user: String,
    /// Display name.
    pub name: String,
    /// Agent or admin.
    pub role: UserRole,
    /// Teams.
    pub teams: Vec<String>,
}

impl Principal {
    /// Only admins (and the tenant's API token) may go on.
    pub fn require_admin(self) -> Result<Principal, ApiError> {
        match self.role {
            UserRole::Admin => Ok(self),
            UserRole::Agent => Err(ApiError::Forbidden("this needs an admin token".into())),
        }
    }
}

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)
}

/// Anyone with a valid token.
pub fn principal(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers)?;
    if let Some((tenant, user)) = state.tenants.for_user_token(token) {
        return Ok(Principal {
            tenant: tenant.clone(),
            user: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            teams: user.teams.clone(),
        });
    }
    let tenant = state.tenants.for_token(token).cloned().ok_or(ApiError::Unauthorized)?;
    Ok(Principal { tenant, user: "api".into(), name: "API".into(), role: UserRole::Admin, teams: Vec::new() })
}

/// An admin (or the tenant's API token).
pub fn admin(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    principal(state, headers)?.require_admin()
}
