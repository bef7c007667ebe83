//! The admin API (`/admin/v1`), for the host's administrators: upload
//! plugin components, list versions, bind a version to a tenant in a role
//! with its configuration, enable, disable, roll back, remove unused
//! versions, read the audit log. Every change is audited (who, when, what).
//!
//! An upload is compiled and checked off the request path's executor
//! threads (the runtime compiles on a blocking thread) before anything is
//! stored: a file that is not a component, a core module, a truncated
//! upload or a component for another contract version is refused with the
//! reason, and what is active stays untouched. A binding change builds the
//! tenant's new plugin set first, then records it, then swaps it in.

use super::AppState;
use super::error::{ApiError, parse_json};
use crate::config::UserConfig;
use crate::domain::Role;
use crate::pipeline::bindings::{FIRST_PARTY, UNSIGNED, publisher_of};
use crate::store::{ManagedBinding, NewPluginVersion, PluginVersion};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

fn admin(state: &AppState, headers: &HeaderMap) -> Result<UserConfig, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    state.tenants.admin_for_token(token).cloned().ok_or(ApiError::Unauthorized)
}

/// `POST /admin/v1/plugins` (body: the component, `application/wasm`).
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = admin(&state, &headers)?;
    if !super::error::media_type_is(&headers, "application/wasm")
        && !super::error::media_type_is(&headers, "application/octet-stream")
    {
        return Err(ApiError::UnsupportedMediaType(
            "send the component's bytes as application/wasm (or application/octet-stream)".into(),
        ));
    }
    if body.is_empty() {
        return Err(ApiError::BadRequest("the body is empty: send the component's bytes".into()));
    }
    let loaded = state
        .bindings
        .runtime()
        .load("upload", body.to_vec(), Default::default())
        .await
        .map_err(|e| ApiError::BadRequest(format!("rejected: {}", e.detail)))?;
    let manifest = loaded.manifest();
    let info = loaded.info();
    // Who published it: the signature's key must be the first-party one or a
    // registered publisher's; an unsigned component is kept only if some
    // tenant allows unsigned plugins (binding it checks that tenant).
    let publishers = state.store.publishers().await?;
    let key = info.publisher_key.as_deref();
    let publisher = publisher_of(&publishers, key).ok_or_else(|| {
        let key = key.unwrap_or_default();
        ApiError::BadRequest(format!(
            "`{}` is signed by {key}, which no publisher is registered for: register the publisher first \
             (`smsdesk plugin publisher add NAME --key {key}`)",
            manifest.name
        ))
    })?;
    if publisher == UNSIGNED && !state.store.trust(None).await?.iter().any(|t| t.publisher == UNSIGNED) {
        return Err(ApiError::Forbidden(format!(
            "`{}` is not signed and no tenant allows unsigned plugins: sign it (`smsdesk plugin sign`) \
             or allow unsigned plugins for a tenant (`smsdesk plugin trust add --tenant T unsigned`)",
            manifest.name
        )));
    }
    let new = NewPluginVersion {
        publisher,
        publisher_key: info.publisher_key.clone(),
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        sha256: info.sha256.clone(),
        size: body.len() as i64,
        roles: loaded.roles().iter().map(|r| r.as_str().to_string()).collect(),
        wit_version: info.wit_version.clone().unwrap_or_default(),
        capabilities: manifest.capabilities.iter().map(|c| c.to_string()).collect(),
        // Kept in the database (by content hash), where every replica finds it.
        path: format!("database:{}", info.sha256),
    };
    let (version, created) = state.store.add_plugin_version(&new, &body, &who.id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(serde_json::json!({ "plugin": version, "created": created }))))
}

/// `GET /admin/v1/plugins`: every version, with the bindings using it.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    let versions = state.store.plugin_versions().await?;
    let bindings = state.store.managed_bindings(None).await?;
    let items: Vec<serde_json::Value> = versions
        .iter()
        .map(|v| {
            let used: Vec<serde_json::Value> = bindings
                .iter()
                .filter(|b| b.version_id == v.id)
                .map(|b| serde_json::json!({ "tenant": b.tenant_id, "role": b.role, "enabled": b.enabled }))
                .collect();
            let mut item = serde_json::to_value(v).unwrap_or_default();
            item["status"] = if used.is_empty() { "unused".into() } else { "bound".into() };
            item["bindings"] = used.into();
            item
        })
        .collect();
    Ok(Json(serde_json::json!({ "plugins": items, "limits": { "max_plugin_bytes": state.max_plugin_bytes } })))
}

/// `DELETE /admin/v1/plugins/{id}`: remove a version nothing uses (or may roll back to).
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let who = admin(&state, &headers)?;
    match state.store.remove_plugin_version(id, &who.id).await? {
        None => Err(ApiError::NotFound(format!("no plugin version {id}"))),
        Some(false) => Err(ApiError::Conflict(format!(
            "plugin version {id} is bound, kept for rollback or in a running shadow run; unbind it (or end the run) first"
        ))),
        Some(true) => Ok(StatusCode::NO_CONTENT),
    }
}

/// An uploaded version by id, or 404.
async fn version_by_id(state: &AppState, id: i64) -> Result<crate::store::PluginVersion, ApiError> {
    state.store.plugin_version(id).await?.ok_or_else(|| ApiError::NotFound(format!("no plugin version {id}")))
}

fn check_tenant(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    if state.bindings.has_tenant(tenant) { Ok(()) } else { Err(ApiError::NotFound(format!("no tenant `{tenant}`"))) }
}

/// `GET /admin/v1/tenants/{tenant}/bindings`: what runs for the tenant now
/// (configured and managed), each with its version and breaker state, and
/// the managed bindings with their history.
pub async fn bindings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let now = std::time::Instant::now();
    let active: Vec<serde_json::Value> = state
        .bindings
        .get(&tenant)
        .all()
        .map(|b| {
            // What the binding may reach over HTTP, and header secrets (names
            // only) — with the ones whose host is not granted called out.
            let http = &b.call.http;
            let headers: Vec<serde_json::Value> = http
                .secret_headers
                .iter()
                .map(|(host, name, _)| {
                    serde_json::json!({ "host": host, "name": name, "host_granted": http.hosts.contains(host) })
                })
                .collect();
            serde_json::json!({
                "role": b.role.as_str(), "plugin": b.plugin.name(), "identity": b.identity,
                "version": b.plugin.manifest().version,
                "wit_version": b.plugin.info().wit_version,
                "sha256": b.plugin.info().sha256, "breaker": b.breaker.status(now),
                "http": { "hosts": http.hosts, "plain_http": http.insecure, "private_addresses": http.private,
                          "header_secrets": headers },
                "metrics": crate::metrics::plugin_summary(&b.call.tenant, b.plugin.name(), b.role.as_str()),
            })
        })
        .collect();
    let managed = state.store.managed_bindings(Some(&tenant)).await?;
    Ok(Json(serde_json::json!({ "tenant": tenant, "active": active, "managed": managed })))
}

/// `PUT …/bindings/{role}/{plugin}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    /// The version (`"2.0.0"`); default: the newest uploaded.
    version: Option<String>,
    /// Or its id.
    version_id: Option<i64>,
    /// The plugin's configuration for this tenant (a JSON object); omitted:
    /// the binding keeps the configuration it has.
    #[serde(default)]
    config: Option<serde_json::Value>,
    /// Capabilities granted to this binding (`key-value`,
    /// `outbound-http:HOST`, `raw-phone-numbers`); omitted: the binding keeps
    /// its grants. A version asking for more is not activated.
    #[serde(default)]
    grants: Option<Vec<String>>,
}

/// Refuse grants the host does not know.
fn check_grant_names(grants: &[String]) -> Result<(), ApiError> {
    grants.iter().try_for_each(|g| crate::broker::check_grant(g)).map_err(ApiError::BadRequest)
}

/// Refuse a version that asks for capabilities not granted, showing the difference.
fn check_grants(
    version: &crate::store::PluginVersion,
    granted: &[String],
    current: Option<&crate::store::PluginVersion>,
) -> Result<(), ApiError> {
    let missing: Vec<&String> = version.capabilities.iter().filter(|c| !granted.contains(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let new_since = current
        .map(|c| {
            let added: Vec<&String> = version.capabilities.iter().filter(|x| !c.capabilities.contains(x)).collect();
            format!(" ({} {} asks for {} more than {})", version.name, version.version, list(&added), c.version)
        })
        .unwrap_or_default();
    Err(ApiError::Conflict(format!(
        "`{}` {} asks for capabilities not granted to this binding: {}{new_since}; approve them in `grants` (granted now: {})",
        version.name,
        version.version,
        list(&missing),
        if granted.is_empty() { "none".to_string() } else { granted.join(", ") }
    )))
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse().map_err(|_| ApiError::BadRequest(format!("unknown role `{role}`; use classifier, crm or responder")))
}

/// Build the tenant's set from what the store says now, swap it in, and
/// tell the other replicas to do the same.
async fn reload(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    state.bindings.reload(Some(tenant)).await.map_err(|e| ApiError::Internal(format!("{e:#}")))?;
    crate::cluster::announce_plugins(&state.store, Some(tenant)).await;
    Ok(())
}

/// A publisher's key as people read it in errors.
async fn key_of(state: &AppState, publisher: &str) -> Result<String, ApiError> {
    Ok(match publisher {
        FIRST_PARTY => format!("the built-in key {}", smsdesk_artifacts::first_party::PUBLISHER_KEY),
        UNSIGNED => "no key (unsigned)".to_string(),
        name => match state.store.publishers().await?.into_iter().find(|p| p.name == name) {
            Some(p) => p.public_key,
            None => "a key no longer registered".to_string(),
        },
    })
}

/// Refuse a publisher the tenant does not trust, saying how to trust it.
async fn check_trust(state: &AppState, tenant: &str, publisher: &str) -> Result<(), ApiError> {
    if publisher == FIRST_PARTY || state.store.trust(Some(tenant)).await?.iter().any(|t| t.publisher == publisher) {
        return Ok(());
    }
    Err(ApiError::Forbidden(if publisher == UNSIGNED {
        format!(
            "tenant `{tenant}` does not allow unsigned plugins: sign the component (`smsdesk plugin sign`) \
             or allow them (`smsdesk plugin trust add --tenant {tenant} unsigned`)"
        )
    } else {
        format!(
            "tenant `{tenant}` does not trust publisher `{publisher}` ({}): trust it first \
             (`smsdesk plugin trust add --tenant {tenant} {publisher}`)",
            key_of(state, publisher).await?
        )
    }))
}

/// The version a bind names, which must be this publisher's: a version of the
/// same name signed by another key is another plugin, and binding it here is
/// refused with both keys named.
async fn version_to_bind(
    state: &AppState,
    publisher: &str,
    plugin: &str,
    b: &BindBody,
) -> Result<PluginVersion, ApiError> {
    let versions = state.store.plugin_versions().await?;
    let matches = |v: &&PluginVersion| match (&b.version, b.version_id) {
        (_, Some(id)) => v.id == id,
        (Some(ver), None) => &v.version == ver,
        (None, None) => true,
    };
    if let Some(v) = versions.iter().filter(|v| v.publisher == publisher && v.name == plugin).find(matches) {
        return Ok(v.clone());
    }
    if let Some(other) = versions.iter().filter(|v| v.name == plugin).find(matches) {
        return Err(ApiError::Conflict(format!(
            "`{plugin}` {} (version id {}) is published by `{}` ({}), but `{publisher}/{plugin}` is published by \
             `{publisher}` ({}): a version signed by another key is another plugin; bind it as `{}`",
            other.version,
            other.id,
            other.publisher,
            key_of(state, &other.publisher).await?,
            key_of(state, publisher).await?,
            other.identity()
        )));
    }
    if let Some(id) = b.version_id
        && let Some(v) = versions.iter().find(|v| v.id == id)
    {
        return Err(ApiError::BadRequest(format!("version id {id} is `{}`, not `{publisher}/{plugin}`", v.identity())));
    }
    Err(ApiError::NotFound(format!("no uploaded version of `{publisher}/{plugin}` matches")))
}

/// `PUT /admin/v1/tenants/{tenant}/bindings/{role}/{publisher}/{plugin}`:
/// bind (or upgrade to) a version with its configuration; hot, nothing restarts.
pub async fn bind(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, role, publisher, plugin)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let role_v = parse_role(&role)?;
    let b: BindBody = parse_json(&headers, &bytes)?;
    let identity = format!("{publisher}/{plugin}");
    let version = version_to_bind(&state, &publisher, &plugin, &b).await?;
    check_trust(&state, &tenant, &publisher).await?;
    if !version.roles.iter().any(|r| r == role_v.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "`{identity}` {} does not export the {role} role (it exports {})",
            version.version,
            version.roles.join(", ")
        )));
    }
    // No `config` or `grants`: keep the binding's (an upgrade need not repeat them).
    let existing = state
        .store
        .managed_bindings(Some(&tenant))
        .await?
        .into_iter()
        .find(|m| m.role == role_v.as_str() && m.plugin == identity);
    let config = b
        .config
        .clone()
        .or_else(|| existing.as_ref().map(|m| m.config.clone()))
        .unwrap_or_else(|| serde_json::json!({}));
    let grants = b.grants.clone().or_else(|| existing.as_ref().map(|m| m.grants.clone())).unwrap_or_default();
    check_grant_names(&grants)?;
    let current = match &existing {
        Some(m) => state.store.plugin_version(m.version_id).await?,
        None => None,
    };
    check_grants(&version, &grants, current.as_ref())?;
    crate::plugins::PluginConfig::from_json_value(config.clone())
        .map_err(|e| ApiError::BadRequest(format!("`config`: {e}")))?;
    // Load it before recording anything: a component that no longer loads
    // leaves the active set untouched.
    state
        .bindings
        .version(&version)
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot load `{identity}` {}: {e:#}", version.version)))?;
    let binding: ManagedBinding =
        state.store.bind_plugin(&tenant, role_v.as_str(), &identity, version.id, &config, &grants, &who.id).await?;
    reload(&state, &tenant).await?;
    Ok(Json(serde_json::json!({ "binding": binding, "version": version })))
}

/// `POST /admin/v1/tenants/{tenant}/bindings/{role}/{publisher}/{plugin}/{enable|disable|rollback}`
pub async fn binding_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, role, publisher, plugin, action)): Path<(String, String, String, String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let role = parse_role(&role)?;
    let plugin = format!("{publisher}/{plugin}");
    let missing =
        || ApiError::NotFound(format!("`{plugin}` is not bound as {role} for `{tenant}` through the admin API"));
    let binding = match action.as_str() {
        "enable" | "disable" => state
            .store
            .set_binding_enabled(&tenant, role.as_str(), &plugin, action == "enable", &who.id)
            .await?
            .ok_or_else(missing)?,
        "rollback" => {
            let current = state
                .store
                .managed_bindings(Some(&tenant))
                .await?
                .into_iter()
                .find(|m| m.role == role.as_str() && m.plugin == plugin);
            if let Some(m) = &current
                && let Some(previous) = m.history.last()
                && let Some(v) = state.store.plugin_version(*previous).await?
            {
                check_grants(&v, &m.grants, None)?;
            }
            match state.store.rollback_binding(&tenant, role.as_str(), &plugin, &who.id).await? {
                None => return Err(missing()),
                Some((_, false)) => {
                    return Err(ApiError::Conflict(format!("`{plugin}` has no earlier version to roll back to")));
                }
                Some((b, true)) => b,
            }
        }
        other => return Err(ApiError::NotFound(format!("no action `{other}`; use enable, disable or rollback"))),
    };
    reload(&state, &tenant).await?;
    Ok(Json(serde_json::json!({ "binding": binding })))
}

/// `?limit=N`
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<i64>,
}

/// `GET /admin/v1/audit`: the newest entries first.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(serde_json::json!({ "entries": state.store.audit_log(limit).await? })))
}

/// `POST /admin/v1/tenants/{tenant}/replay` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// The uploaded version to replay.
    version_id: i64,
    /// classifier or responder (default: responder if it has that role).
    role: Option<String>,
    /// The plugin's configuration (default: that of its binding for the tenant, if any).
    config: Option<serde_json::Value>,
    /// `YYYY-MM-DD` (tenant time zone) or RFC 3339.
    since: Option<String>,
    /// Until (exclusive).
    until: Option<String>,
    /// Only these conversations.
    #[serde(default)]
    conversations: Vec<i64>,
    /// Most messages (default 1000).
    limit: Option<i64>,
}

/// `POST /admin/v1/tenants/{tenant}/replay`: what an uploaded version would
/// have decided on the tenant's stored messages, next to what happened.
/// Offline: nothing is sent or changed.
pub async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    bytes: Bytes,
) -> Result<Json<crate::replay::ReplayReport>, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let b: ReplayBody = parse_json(&headers, &bytes)?;
    let version = version_by_id(&state, b.version_id).await?;
    let plugin =
        state.bindings.version(&version).await.map_err(|e| ApiError::BadRequest(format!("cannot load it: {e:#}")))?;
    let role = match &b.role {
        Some(r) => parse_role(r)?,
        None if plugin.has_role(Role::Responder) => Role::Responder,
        None => Role::Classifier,
    };
    let config = match b.config {
        Some(c) => c,
        None => state
            .store
            .managed_bindings(Some(&tenant))
            .await?
            .into_iter()
            .find(|m| m.plugin == version.identity())
            .map(|m| m.config)
            .unwrap_or_else(|| serde_json::json!({})),
    };
    let config = crate::plugins::PluginConfig::from_json_value(config)
        .map_err(|e| ApiError::BadRequest(format!("`config`: {e}")))?;
    let tz = state.tenants.get(&tenant).map(|t| t.config.time_zone.clone()).unwrap_or_default();
    let at = |s: &Option<String>| s.as_deref().map(|s| crate::reports::parse_instant(s, &tz)).transpose();
    let since = at(&b.since).map_err(ApiError::BadRequest)?;
    let until = at(&b.until).map_err(ApiError::BadRequest)?;
    let rows = state
        .store
        .replay_rows(&tenant, since, until, &b.conversations, b.limit.unwrap_or(1000).clamp(1, 100_000))
        .await?;
    let call = crate::plugins::CallContext { tenant: tenant.clone(), config, ..Default::default() };
    let report = crate::replay::replay(&state.store, &plugin, role, &call, &rows)
        .await
        .map_err(|e| ApiError::BadRequest(format!("{e:#}")))?;
    tracing::info!(admin = %who.id, %tenant, plugin = %version.name, version = %version.version, compared = report.compared, "replay");
    Ok(Json(report))
}

/// `POST /admin/v1/tenants/{tenant}/shadow` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowBody {
    /// The candidate version.
    version_id: i64,
    /// classifier or responder (default: responder if it has that role).
    role: Option<String>,
    /// Its configuration (default: its binding's for the tenant, if any).
    config: Option<serde_json::Value>,
    /// Capabilities granted to the candidate (default: its binding's grants, if any).
    grants: Option<Vec<String>>,
}

/// `POST /admin/v1/tenants/{tenant}/shadow`: run a candidate beside the
/// active plugins on live traffic; its decisions are compared and recorded,
/// never acted on.
pub async fn shadow_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let b: ShadowBody = parse_json(&headers, &bytes)?;
    let version = version_by_id(&state, b.version_id).await?;
    let role = match &b.role {
        Some(r) => parse_role(r)?,
        None if version.roles.iter().any(|r| r == "responder") => Role::Responder,
        None => Role::Classifier,
    };
    if role == Role::Crm || !version.roles.iter().any(|r| r == role.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "a shadow run needs a classifier or responder the version exports (it exports {})",
            version.roles.join(", ")
        )));
    }
    check_trust(&state, &tenant, &version.publisher).await?;
    let existing =
        state.store.managed_bindings(Some(&tenant)).await?.into_iter().find(|m| m.plugin == version.identity());
    let config =
        b.config.or_else(|| existing.as_ref().map(|m| m.config.clone())).unwrap_or_else(|| serde_json::json!({}));
    let grants = b.grants.or_else(|| existing.as_ref().map(|m| m.grants.clone())).unwrap_or_default();
    check_grant_names(&grants)?;
    check_grants(&version, &grants, None)?;
    crate::plugins::PluginConfig::from_json_value(config.clone())
        .map_err(|e| ApiError::BadRequest(format!("`config`: {e}")))?;
    state.bindings.version(&version).await.map_err(|e| ApiError::BadRequest(format!("cannot load it: {e:#}")))?;
    let run =
        state.store.start_shadow(&tenant, role.as_str(), version.id, &config, &grants, &who.id).await?.ok_or_else(
            || ApiError::Conflict(format!("a shadow run for the {role} role is already running; end it first")),
        )?;
    reload(&state, &tenant).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "run": run, "version": version }))))
}

/// The statistics of one run.
async fn shadow_stats(state: &AppState, run: crate::store::ShadowRun) -> Result<serde_json::Value, ApiError> {
    let results = state.store.shadow_results(run.id).await?;
    let n = results.len();
    let agreeing = results.iter().filter(|r| r.agrees).count();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &results {
        if let Some(e) = &r.candidate_error {
            *errors.entry(e.clone()).or_default() += 1;
        }
    }
    let pct = |mut v: Vec<i64>, p: f64| -> Option<i64> {
        v.sort_unstable();
        crate::reports::percentile(&v, p)
    };
    let active: Vec<i64> = results.iter().map(|r| r.active_us).collect();
    let candidate: Vec<i64> = results.iter().map(|r| r.candidate_us).collect();
    let differences: Vec<&crate::store::ShadowResult> = results.iter().filter(|r| !r.agrees).rev().take(50).collect();
    Ok(serde_json::json!({
        "run": run,
        "messages": n,
        "agreement_rate": (n > 0).then(|| agreeing as f64 / n as f64),
        "differences": n - agreeing,
        "errors": errors,
        "latency_us": {
            "active": { "median": pct(active.clone(), 0.5), "p90": pct(active, 0.9) },
            "candidate": { "median": pct(candidate.clone(), 0.5), "p90": pct(candidate, 0.9) },
        },
        "recent_differences": differences,
    }))
}

/// `GET /admin/v1/tenants/{tenant}/shadow`: every run with its statistics.
pub async fn shadow_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let mut runs = Vec::new();
    for run in state.store.shadow_runs(Some(&tenant)).await? {
        runs.push(shadow_stats(&state, run).await?);
    }
    Ok(Json(serde_json::json!({ "tenant": tenant, "runs": runs })))
}

/// `POST /admin/v1/tenants/{tenant}/shadow/{id}/{promote|discard}`: promote
/// binds the candidate (with the run's configuration) in place of the active
/// plugin; discard ends the run. Either way the candidate stops running.
pub async fn shadow_end(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, id, action)): Path<(String, i64, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let status = match action.as_str() {
        "promote" => "promoted",
        "discard" => "discarded",
        other => return Err(ApiError::NotFound(format!("no action `{other}`; use promote or discard"))),
    };
    let run = state
        .store
        .end_shadow(&tenant, id, status, &who.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no running shadow run {id} for `{tenant}`")))?;
    if status == "promoted" {
        let version = state
            .store
            .plugin_version(run.candidate_version_id)
            .await?
            .ok_or_else(|| ApiError::Internal("the candidate version is gone".into()))?;
        state
            .store
            .bind_plugin(&tenant, &run.role, &version.identity(), version.id, &run.config, &run.grants, &who.id)
            .await?;
    }
    reload(&state, &tenant).await?;
    Ok(Json(shadow_stats(&state, run).await?))
}

/// `PUT /admin/v1/tenants/{tenant}/plugins/{plugin}/secrets/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    value: String,
    /// Inject as this header on the plugin's brokered requests to this host
    /// instead of giving the value to the plugin.
    #[serde(default)]
    header: Option<HeaderTarget>,
}

/// Where a header secret goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderTarget {
    host: String,
    name: String,
}

fn check_header_target(t: HeaderTarget) -> Result<crate::store::SecretHeader, ApiError> {
    let host = t.host.trim().to_ascii_lowercase();
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':' || c == '[' || c == ']');
    if !host_ok {
        return Err(ApiError::BadRequest(format!("`header.host` must be a host name, not {:?}", t.host)));
    }
    let name = t.name.trim().to_string();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.len() > 64 || !name.chars().all(token) {
        return Err(ApiError::BadRequest(format!("`header.name` must be an HTTP header name, not {:?}", t.name)));
    }
    if ["host", "content-length", "transfer-encoding", "connection"].contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ApiError::BadRequest(format!("the host sets `{name}` itself")));
    }
    Ok(crate::store::SecretHeader { host, name })
}

fn check_secret_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(ApiError::BadRequest("a secret name is 1 to 64 of a-z, 0-9, - and _".into())) }
}

/// `PUT /admin/v1/tenants/{tenant}/plugins/{publisher}/{plugin}/secrets/{name}`:
/// set a secret. Write-only: no API returns it; the tenant's bindings of
/// this publisher's plugin get it as a configuration value (the set is
/// rebuilt at once) — never a namesake by another publisher.
pub async fn secret_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, publisher, plugin, name)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> Result<StatusCode, ApiError> {
    let plugin = format!("{publisher}/{plugin}");
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    check_secret_name(&name)?;
    if !super::error::media_type_is(&headers, "application/json") {
        return Err(ApiError::UnsupportedMediaType("send the secret as application/json".into()));
    }
    // Parse without echoing the body in errors: it holds the secret.
    let b: SecretBody = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::BadRequest(
            "the body must be {\"value\": \"…\"}, optionally with \"header\": {\"host\": \"…\", \"name\": \"…\"}"
                .into(),
        )
    })?;
    if b.value.is_empty() || b.value.len() > 8 * 1024 {
        return Err(ApiError::BadRequest("a secret value is 1 byte to 8 KiB".into()));
    }
    let header = b.header.map(check_header_target).transpose()?;
    if header.is_some() && axum::http::HeaderValue::from_str(&b.value).is_err() {
        return Err(ApiError::BadRequest(
            "a header secret must be a valid header value (visible ASCII and spaces, no line breaks)".into(),
        ));
    }
    state.store.set_secret(&tenant, &plugin, &name, Some((&b.value, header.as_ref())), &who.id).await?;
    reload(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/v1/tenants/{tenant}/plugins/{publisher}/{plugin}/secrets/{name}`
pub async fn secret_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, publisher, plugin, name)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let plugin = format!("{publisher}/{plugin}");
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    if !state.store.set_secret(&tenant, &plugin, &name, None, &who.id).await? {
        return Err(ApiError::NotFound(format!("no secret `{name}` for `{plugin}`")));
    }
    reload(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/v1/tenants/{tenant}/plugins/{publisher}/{plugin}/secrets`: names, who set them and when — never values.
pub async fn secret_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, publisher, plugin)): Path<(String, String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let plugin = format!("{publisher}/{plugin}");
    admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let names = state.store.secret_names(&tenant, &plugin).await?;
    Ok(Json(serde_json::json!({ "tenant": tenant, "plugin": plugin, "secrets": names })))
}

fn check_publisher_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if !ok {
        return Err(ApiError::BadRequest("a publisher name is 1 to 64 of a-z, 0-9 and -".into()));
    }
    if name == FIRST_PARTY || name == UNSIGNED {
        return Err(ApiError::BadRequest(format!("`{name}` is reserved")));
    }
    Ok(())
}

/// `GET /admin/v1/publishers`: the built-in first-party publisher and every registered one.
pub async fn publisher_list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    let mut list = vec![serde_json::json!({
        "name": FIRST_PARTY, "public_key": smsdesk_artifacts::first_party::PUBLISHER_KEY, "built_in": true,
    })];
    for p in state.store.publishers().await? {
        let mut item = serde_json::to_value(&p).unwrap_or_default();
        item["built_in"] = false.into();
        list.push(item);
    }
    Ok(Json(serde_json::json!({ "publishers": list })))
}

/// `PUT /admin/v1/publishers/{name}` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherBody {
    /// `ed25519:<64 hex digits>` (what `smsdesk plugin keygen` prints).
    key: String,
}

/// `PUT /admin/v1/publishers/{name}`: register a publisher's key under a
/// name. A name keeps its key: registering another key under it, or the same
/// key under another name, is refused.
pub async fn publisher_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = admin(&state, &headers)?;
    check_publisher_name(&name)?;
    let b: PublisherBody = parse_json(&headers, &bytes)?;
    let key = smsdesk_signing::PublicKey::parse(&b.key).map_err(|e| ApiError::BadRequest(format!("`key`: {e}")))?;
    let key = key.to_string();
    if key == smsdesk_artifacts::first_party::PUBLISHER_KEY {
        return Err(ApiError::Conflict(format!("that is the built-in key of `{FIRST_PARTY}`")));
    }
    match state.store.add_publisher(&name, &key, &who.id).await? {
        Ok((p, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(serde_json::json!({ "publisher": p, "created": created }))))
        }
        Err(crate::store::PublisherConflict::Name(other)) => Err(ApiError::Conflict(format!(
            "publisher `{name}` is registered with another key ({other}); a publisher keeps its key"
        ))),
        Err(crate::store::PublisherConflict::Key(other)) => {
            Err(ApiError::Conflict(format!("that key is registered as publisher `{other}`")))
        }
    }
}

/// `DELETE /admin/v1/publishers/{name}`: remove a publisher whose plugins are all removed.
pub async fn publisher_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let who = admin(&state, &headers)?;
    match state.store.remove_publisher(&name, &who.id).await? {
        None => Err(ApiError::NotFound(format!("no publisher `{name}`"))),
        Some(false) => {
            Err(ApiError::Conflict(format!("versions published by `{name}` are still uploaded; remove them first")))
        }
        Some(true) => {
            reload_all(&state).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

/// Rebuild every tenant's set (a change that concerns all of them), here
/// and on every replica.
async fn reload_all(state: &AppState) -> Result<(), ApiError> {
    state.bindings.reload(None).await.map_err(|e| ApiError::Internal(format!("{e:#}")))?;
    crate::cluster::announce_plugins(&state.store, None).await;
    Ok(())
}

/// `GET /admin/v1/tenants/{tenant}/publishers`: whom the tenant trusts.
pub async fn trust_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    let rows = state.store.trust(Some(&tenant)).await?;
    let publishers = state.store.publishers().await?;
    let mut trusted = vec![serde_json::json!({
        "publisher": FIRST_PARTY, "public_key": smsdesk_artifacts::first_party::PUBLISHER_KEY, "built_in": true,
    })];
    for t in rows.iter().filter(|t| t.publisher != UNSIGNED) {
        let key = publishers.iter().find(|p| p.name == t.publisher).map(|p| p.public_key.clone());
        trusted.push(serde_json::json!({
            "publisher": t.publisher, "public_key": key, "built_in": false, "added_by": t.added_by, "added_at": t.created_at,
        }));
    }
    let allow_unsigned = rows.iter().any(|t| t.publisher == UNSIGNED);
    Ok(Json(serde_json::json!({ "tenant": tenant, "trusted": trusted, "allow_unsigned": allow_unsigned })))
}

/// `PUT /admin/v1/tenants/{tenant}/publishers/{publisher}`: trust a
/// registered publisher for the tenant (`unsigned`: allow unsigned plugins).
pub async fn trust_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, publisher)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    if publisher == FIRST_PARTY {
        return Ok(StatusCode::NO_CONTENT);
    }
    if publisher != UNSIGNED && !state.store.publishers().await?.iter().any(|p| p.name == publisher) {
        return Err(ApiError::NotFound(format!(
            "no publisher `{publisher}`: register its key first (`smsdesk plugin publisher add {publisher} --key …`)"
        )));
    }
    state.store.set_trust(&tenant, &publisher, true, &who.id).await?;
    reload(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /admin/v1/tenants/{tenant}/publishers/{publisher}`: stop trusting
/// it; the tenant's bindings of its plugins stop running at once.
pub async fn trust_delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((tenant, publisher)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let who = admin(&state, &headers)?;
    check_tenant(&state, &tenant)?;
    if publisher == FIRST_PARTY {
        return Err(ApiError::BadRequest(format!("the first-party publisher `{FIRST_PARTY}` is always trusted")));
    }
    if !state.store.set_trust(&tenant, &publisher, false, &who.id).await? {
        return Err(ApiError::NotFound(format!("tenant `{tenant}` does not trust `{publisher}`")));
    }
    reload(&state, &tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}
