//! The plugin registry: uploaded versions, the bindings admins manage per
//! tenant, and the audit log. Every change writes its audit entry in the
//! same transaction.

use super::{Sql, Store, StoreResult};
use serde::Serialize;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

/// An uploaded plugin version.
#[derive(Debug, Clone, Serialize)]
pub struct PluginVersion {
    /// Id.
    pub id: i64,
    /// Who signed it: a registered publisher's name, `smsdesk` (first
    /// party) or `unsigned`. With `name`, the plugin's identity.
    pub publisher: String,
    /// The key that signed it (`ed25519:…`), if signed.
    pub publisher_key: Option<String>,
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// SHA-256 of the component.
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// Roles it exports.
    pub roles: Vec<String>,
    /// The contract it targets.
    pub wit_version: String,
    /// Capabilities its manifest asks for.
    pub capabilities: Vec<String>,
    /// Where the component is kept.
    #[serde(skip)]
    pub path: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When (ms).
    pub created_at: i64,
}

/// A binding an admin manages.
#[derive(Debug, Clone, Serialize)]
pub struct ManagedBinding {
    /// Tenant.
    pub tenant_id: String,
    /// Role.
    pub role: String,
    /// Plugin name.
    pub plugin: String,
    /// The bound version.
    pub version_id: i64,
    /// Its configuration (JSON object).
    pub config: serde_json::Value,
    /// Whether it runs.
    pub enabled: bool,
    /// Earlier versions, newest last.
    pub history: Vec<i64>,
    /// Capabilities the admin granted.
    pub grants: Vec<String>,
    /// Changed (ms).
    pub updated_at: i64,
}

/// An audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Tenant, if any.
    pub tenant: Option<String>,
    /// What it was done to.
    pub target: Option<String>,
    /// The particulars.
    pub detail: serde_json::Value,
    /// When (ms).
    pub at: i64,
}

impl PluginVersion {
    /// The plugin's identity, `publisher/name`: what bindings and secrets belong to.
    pub fn identity(&self) -> String {
        format!("{}/{}", self.publisher, self.name)
    }
}

/// A new version to record.
#[derive(Debug, Clone)]
pub struct NewPluginVersion {
    /// Its publisher (`unsigned` if not signed).
    pub publisher: String,
    /// The signing key, if signed.
    pub publisher_key: Option<String>,
    /// Manifest name.
    pub name: String,
    /// Manifest version.
    pub version: String,
    /// SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// Roles.
    pub roles: Vec<String>,
    /// Contract version.
    pub wit_version: String,
    /// Capabilities asked for.
    pub capabilities: Vec<String>,
    /// Where the file is.
    pub path: String,
}

fn version_row(r: &sqlx::any::AnyRow) -> PluginVersion {
    PluginVersion {
        id: r.get("id"),
        publisher: r.get("publisher"),
        publisher_key: r.get("publisher_key"),
        name: r.get("name"),
        version: r.get("version"),
        sha256: r.get("sha256"),
        size: r.get("size"),
        roles: serde_json::from_str(r.get::<&str, _>("roles")).unwrap_or_default(),
        wit_version: r.get("wit_version"),
        capabilities: serde_json::from_str(r.get::<&str, _>("capabilities")).unwrap_or_default(),
        path: r.get("path"),
        uploaded_by: r.get("uploaded_by"),
        created_at: r.get("created_at"),
    }
}

fn binding_row(r: &sqlx::any::AnyRow) -> ManagedBinding {
    ManagedBinding {
        tenant_id: r.get("tenant_id"),
        role: r.get("role"),
        plugin: r.get("plugin"),
        version_id: r.get("version_id"),
        config: serde_json::from_str(r.get::<&str, _>("config_json")).unwrap_or_default(),
        enabled: r.get::<i64, _>("enabled") != 0,
        history: serde_json::from_str(r.get::<&str, _>("history")).unwrap_or_default(),
        grants: serde_json::from_str(r.get::<&str, _>("grants")).unwrap_or_default(),
        updated_at: r.get("updated_at"),
    }
}

const VERSION_COLUMNS: &str = "id, publisher, publisher_key, name, version, sha256, size, roles, wit_version, \
     capabilities, path, uploaded_by, created_at";
const BINDING_COLUMNS: &str = "tenant_id, role, plugin, version_id, config_json, enabled, history, grants, updated_at";

impl Store {
    async fn audit_in(
        tx: &mut Transaction<'_, Any>,
        actor: &str,
        action: &str,
        tenant: Option<&str>,
        target: Option<&str>,
        detail: &serde_json::Value,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (actor, action, tenant_id, target, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(actor)
        .bind(action)
        .bind(tenant)
        .bind(target)
        .bind(detail.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Record an uploaded version (or return the one with the same hash, and
    /// whether it was new), with its audit entry.
    pub async fn add_plugin_version(
        &self,
        v: &NewPluginVersion,
        component: &[u8],
        actor: &str,
    ) -> StoreResult<(PluginVersion, bool)> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        // The bytes, by content hash, for every replica to load.
        sqlx::query("INSERT INTO plugin_components (sha256, bytes) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING")
            .bind(&v.sha256)
            .bind(component.to_vec())
            .execute(&mut *tx)
            .await?;
        if let Some(r) = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE sha256 = $1 AND removed_at IS NULL"
        )))
        .bind(&v.sha256)
        .fetch_optional(&mut *tx)
        .await?
        {
            return Ok((version_row(&r), false));
        }
        // A removed version uploaded again comes back under its old id.
        sqlx::query("DELETE FROM plugin_versions WHERE sha256 = $1 AND removed_at IS NOT NULL")
            .bind(&v.sha256)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO plugin_versions (name, version, sha256, size, roles, wit_version, capabilities, path,
                 uploaded_by, created_at, publisher, publisher_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {VERSION_COLUMNS}"
        )))
        .bind(&v.name)
        .bind(&v.version)
        .bind(&v.sha256)
        .bind(v.size)
        .bind(serde_json::to_string(&v.roles).unwrap_or_default())
        .bind(&v.wit_version)
        .bind(serde_json::to_string(&v.capabilities).unwrap_or_default())
        .bind(&v.path)
        .bind(actor)
        .bind(now)
        .bind(&v.publisher)
        .bind(&v.publisher_key)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_row(&r);
        let detail = serde_json::json!({ "id": version.id, "version": v.version, "sha256": v.sha256, "size": v.size,
            "publisher_key": v.publisher_key });
        Self::audit_in(&mut tx, actor, "plugin.upload", None, Some(&version.identity()), &detail, now).await?;
        tx.commit().await?;
        Ok((version, true))
    }

    /// Every version not removed, newest first.
    pub async fn plugin_versions(&self) -> StoreResult<Vec<PluginVersion>> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE removed_at IS NULL ORDER BY publisher, name, id DESC"
        )))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(version_row)
        .collect())
    }

    /// One version by id (removed ones too).
    pub async fn plugin_version(&self, id: i64) -> StoreResult<Option<PluginVersion>> {
        Ok(sqlx::query(AssertSqlSafe(format!("SELECT {VERSION_COLUMNS} FROM plugin_versions WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(version_row))
    }

    /// Every managed binding (for start-up), or one tenant's.
    pub async fn managed_bindings(&self, tenant: Option<&str>) -> StoreResult<Vec<ManagedBinding>> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "SELECT {BINDING_COLUMNS} FROM managed_bindings WHERE ($1 IS NULL OR tenant_id = $1)
             ORDER BY tenant_id, created_at, plugin"
        )))
        .bind(tenant)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(binding_row)
        .collect())
    }

    /// Bind `version_id` (whose name is `plugin`) to a tenant in a role, with
    /// its configuration; the version it replaces goes on the history.
    #[allow(clippy::too_many_arguments)]
    pub async fn bind_plugin(
        &self,
        tenant: &str,
        role: &str,
        plugin: &str,
        version_id: i64,
        config: &serde_json::Value,
        grants: &[String],
        actor: &str,
    ) -> StoreResult<ManagedBinding> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BINDING_COLUMNS} FROM managed_bindings WHERE tenant_id = $1 AND role = $2 AND plugin = $3"
        )))
        .bind(tenant)
        .bind(role)
        .bind(plugin)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(binding_row);
        let (history, from) = match &existing {
            Some(b) if b.version_id != version_id => {
                let mut h = b.history.clone();
                h.push(b.version_id);
                (h, Some(b.version_id))
            }
            Some(b) => (b.history.clone(), None),
            None => (Vec::new(), None),
        };
        let r = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO managed_bindings (tenant_id, role, plugin, version_id, config_json, enabled, history,
                 created_at, updated_at, grants) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8)
             ON CONFLICT (tenant_id, role, plugin) DO UPDATE SET version_id = $4, config_json = $5, history = $6,
                 updated_at = $7, grants = $8
             RETURNING {BINDING_COLUMNS}"
        )))
        .bind(tenant)
        .bind(role)
        .bind(plugin)
        .bind(version_id)
        .bind(config.to_string())
        .bind(serde_json::to_string(&history).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(serde_json::to_string(grants).unwrap_or_else(|_| "[]".into()))
        .fetch_one(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "role": role, "version_id": version_id, "from_version_id": from, "grants": grants,
            "config_keys": config.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()) });
        Self::audit_in(&mut tx, actor, "binding.set", Some(tenant), Some(plugin), &detail, now).await?;
        tx.commit().await?;
        Ok(binding_row(&r))
    }

    /// Enable or disable a managed binding; `None` if there is none.
    pub async fn set_binding_enabled(
        &self,
        tenant: &str,
        role: &str,
        plugin: &str,
        enabled: bool,
        actor: &str,
    ) -> StoreResult<Option<ManagedBinding>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let r = sqlx::query(AssertSqlSafe(format!(
            "UPDATE managed_bindings SET enabled = $1, updated_at = $2
             WHERE tenant_id = $3 AND role = $4 AND plugin = $5 RETURNING {BINDING_COLUMNS}"
        )))
        .bind(enabled as i64)
        .bind(now)
        .bind(tenant)
        .bind(role)
        .bind(plugin)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let action = if enabled { "binding.enable" } else { "binding.disable" };
        let detail = serde_json::json!({ "role": role });
        Self::audit_in(&mut tx, actor, action, Some(tenant), Some(plugin), &detail, now).await?;
        tx.commit().await?;
        Ok(Some(binding_row(&r)))
    }

    /// Go back to the previous version of a managed binding. `Ok(None)` if
    /// there is no such binding; `Err(Ok(binding))`-like signalling is
    /// avoided: an empty history returns the binding unchanged with `false`.
    pub async fn rollback_binding(
        &self,
        tenant: &str,
        role: &str,
        plugin: &str,
        actor: &str,
    ) -> StoreResult<Option<(ManagedBinding, bool)>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let Some(current) = sqlx::query(AssertSqlSafe(format!(
            "SELECT {BINDING_COLUMNS} FROM managed_bindings WHERE tenant_id = $1 AND role = $2 AND plugin = $3"
        )))
        .bind(tenant)
        .bind(role)
        .bind(plugin)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(binding_row) else {
            return Ok(None);
        };
        let mut history = current.history.clone();
        let Some(previous) = history.pop() else { return Ok(Some((current, false))) };
        let r = sqlx::query(AssertSqlSafe(format!(
            "UPDATE managed_bindings SET version_id = $1, history = $2, updated_at = $3
             WHERE tenant_id = $4 AND role = $5 AND plugin = $6 RETURNING {BINDING_COLUMNS}"
        )))
        .bind(previous)
        .bind(serde_json::to_string(&history).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .bind(tenant)
        .bind(role)
        .bind(plugin)
        .fetch_one(&mut *tx)
        .await?;
        let detail =
            serde_json::json!({ "role": role, "from_version_id": current.version_id, "to_version_id": previous });
        Self::audit_in(&mut tx, actor, "binding.rollback", Some(tenant), Some(plugin), &detail, now).await?;
        tx.commit().await?;
        Ok(Some((binding_row(&r), true)))
    }

    /// Remove a version no binding uses or may roll back to. `Ok(false)` if it is in use.
    pub async fn remove_plugin_version(&self, id: i64, actor: &str) -> StoreResult<Option<bool>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let Some(v) =
            sqlx::query("SELECT publisher || '/' || name FROM plugin_versions WHERE id = $1 AND removed_at IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(None);
        };
        let name: String = v.get(0);
        let uses =
            sqlx::query("SELECT version_id, history FROM managed_bindings").fetch_all(&mut *tx).await?.iter().any(
                |r| {
                    r.get::<i64, _>(0) == id
                        || serde_json::from_str::<Vec<i64>>(r.get::<&str, _>(1)).unwrap_or_default().contains(&id)
                },
            );
        let shadowed = sqlx::query("SELECT 1 FROM shadow_runs WHERE candidate_version_id = $1 AND status = 'running'")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if uses || shadowed {
            return Ok(Some(false));
        }
        sqlx::query("UPDATE plugin_versions SET removed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM plugin_components WHERE sha256 = (SELECT sha256 FROM plugin_versions WHERE id = $1)")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::audit_in(&mut tx, actor, "plugin.remove", None, Some(&name), &serde_json::json!({ "id": id }), now)
            .await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, limit: i64) -> StoreResult<Vec<AuditEntry>> {
        Ok(sqlx::query(
            "SELECT id, actor, action, tenant_id, target, detail, created_at FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| AuditEntry {
            id: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            tenant: r.get(3),
            target: r.get(4),
            detail: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or_default(),
            at: r.get(6),
        })
        .collect())
    }
}

/// A shadow run.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowRun {
    /// Id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// The role the candidate runs in.
    pub role: String,
    /// The candidate version.
    pub candidate_version_id: i64,
    /// Its configuration.
    pub config: serde_json::Value,
    /// Capabilities granted to the candidate.
    pub grants: Vec<String>,
    /// running | promoted | discarded.
    pub status: String,
    /// Who started it.
    pub started_by: String,
    /// When (ms).
    pub started_at: i64,
    /// When it ended (ms).
    pub ended_at: Option<i64>,
}

/// One message's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowResult {
    /// The run.
    pub run_id: i64,
    /// The inbound message.
    pub message_id: i64,
    /// What the active version decided (kind, text).
    pub active: (String, Option<String>),
    /// What the candidate decided, if it did not fail.
    pub candidate: Option<(String, Option<String>)>,
    /// Its failure kind.
    pub candidate_error: Option<String>,
    /// Same kind of decision.
    pub agrees: bool,
    /// Active call time, µs.
    pub active_us: i64,
    /// Candidate call time, µs.
    pub candidate_us: i64,
}

fn shadow_row(r: &sqlx::any::AnyRow) -> ShadowRun {
    ShadowRun {
        id: r.get("id"),
        tenant_id: r.get("tenant_id"),
        role: r.get("role"),
        candidate_version_id: r.get("candidate_version_id"),
        config: serde_json::from_str(r.get::<&str, _>("config_json")).unwrap_or_default(),
        grants: serde_json::from_str(r.get::<&str, _>("grants")).unwrap_or_default(),
        status: r.get("status"),
        started_by: r.get("started_by"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
    }
}

const SHADOW_COLUMNS: &str =
    "id, tenant_id, role, candidate_version_id, config_json, grants, status, started_by, started_at, ended_at";

impl Store {
    /// Start a shadow run; `Ok(None)` if one is already running for the role.
    pub async fn start_shadow(
        &self,
        tenant: &str,
        role: &str,
        version_id: i64,
        config: &serde_json::Value,
        grants: &[String],
        actor: &str,
    ) -> StoreResult<Option<ShadowRun>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let running =
            sqlx::query("SELECT id FROM shadow_runs WHERE tenant_id = $1 AND role = $2 AND status = 'running'")
                .bind(tenant)
                .bind(role)
                .fetch_optional(&mut *tx)
                .await?;
        if running.is_some() {
            return Ok(None);
        }
        let r = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO shadow_runs (tenant_id, role, candidate_version_id, config_json, status, started_by, started_at,
                 grants) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7) RETURNING {SHADOW_COLUMNS}"
        )))
        .bind(tenant)
        .bind(role)
        .bind(version_id)
        .bind(config.to_string())
        .bind(actor)
        .bind(now)
        .bind(serde_json::to_string(grants).unwrap_or_else(|_| "[]".into()))
        .fetch_one(&mut *tx)
        .await?;
        let run = shadow_row(&r);
        let detail = serde_json::json!({ "run": run.id, "role": role, "version_id": version_id });
        Self::audit_in(&mut tx, actor, "shadow.start", Some(tenant), None, &detail, now).await?;
        tx.commit().await?;
        Ok(Some(run))
    }

    /// Shadow runs: a tenant's (newest first), or every running one (`None`).
    pub async fn shadow_runs(&self, tenant: Option<&str>) -> StoreResult<Vec<ShadowRun>> {
        Ok(sqlx::query(AssertSqlSafe(format!(
            "SELECT {SHADOW_COLUMNS} FROM shadow_runs
             WHERE ($1 IS NULL AND status = 'running') OR tenant_id = $1 ORDER BY id DESC"
        )))
        .bind(tenant)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(shadow_row)
        .collect())
    }

    /// End a running shadow run as `promoted` or `discarded`; `None` if it is not running.
    pub async fn end_shadow(&self, tenant: &str, id: i64, status: &str, actor: &str) -> StoreResult<Option<ShadowRun>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let r = sqlx::query(AssertSqlSafe(format!(
            "UPDATE shadow_runs SET status = $1, ended_at = $2 WHERE id = $3 AND tenant_id = $4 AND status = 'running'
             RETURNING {SHADOW_COLUMNS}"
        )))
        .bind(status)
        .bind(now)
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let action = if status == "promoted" { "shadow.promote" } else { "shadow.discard" };
        Self::audit_in(&mut tx, actor, action, Some(tenant), None, &serde_json::json!({ "run": id }), now).await?;
        tx.commit().await?;
        Ok(Some(shadow_row(&r)))
    }

    /// Record comparisons (one statement for the batch).
    pub async fn insert_shadow_results(&self, results: &[ShadowResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.after_inbound().await;
        let now = self.now();
        let mut q = Sql::new(
            "INSERT INTO shadow_results (run_id, message_id, active_kind, active_text, candidate_kind, candidate_text,
                 candidate_error, agrees, active_us, candidate_us, created_at) ",
        );
        q.push_values(results, |mut row, r| {
            row.push_bind(r.run_id)
                .push_bind(r.message_id)
                .push_bind(r.active.0.clone())
                .push_bind(r.active.1.clone())
                .push_bind(r.candidate.as_ref().map(|c| c.0.clone()))
                .push_bind(r.candidate.as_ref().and_then(|c| c.1.clone()))
                .push_bind(r.candidate_error.clone())
                .push_bind(r.agrees as i64)
                .push_bind(r.active_us)
                .push_bind(r.candidate_us)
                .push_bind(now);
        });
        q.build().execute(&self.writer).await?;
        Ok(())
    }

    /// A run's comparisons, oldest first.
    pub async fn shadow_results(&self, run_id: i64) -> StoreResult<Vec<ShadowResult>> {
        Ok(sqlx::query(
            "SELECT run_id, message_id, active_kind, active_text, candidate_kind, candidate_text, candidate_error,
                    agrees, active_us, candidate_us FROM shadow_results WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| ShadowResult {
            run_id: r.get(0),
            message_id: r.get(1),
            active: (r.get(2), r.get(3)),
            candidate: r.get::<Option<String>, _>(4).map(|k| (k, r.get(5))),
            candidate_error: r.get(6),
            agrees: r.get::<i64, _>(7) != 0,
            active_us: r.get(8),
            candidate_us: r.get(9),
        })
        .collect())
    }
}

/// Where a secret goes: into the plugin's configuration, or as a header the
/// broker adds to the plugin's HTTP requests to one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretHeader {
    /// The host (lower case) whose requests get the header.
    pub host: String,
    /// The header name.
    pub name: String,
}

/// A stored secret, for building plugin sets only. Its `Debug` hides the value.
#[derive(Clone)]
pub struct StoredSecret {
    /// The tenant.
    pub tenant: String,
    /// The plugin.
    pub plugin: String,
    /// The secret's name.
    pub name: String,
    /// The value. Never logged.
    pub value: String,
    /// Injected as this header instead of given to the plugin.
    pub header: Option<SecretHeader>,
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSecret")
            .field("tenant", &self.tenant)
            .field("plugin", &self.plugin)
            .field("name", &self.name)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// A secret as admins see it: never the value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SecretListing {
    /// The secret's name.
    pub name: String,
    /// The header it is injected as, if it is one.
    pub header: Option<SecretHeader>,
    /// Who set it.
    pub updated_by: String,
    /// When (Unix milliseconds).
    pub updated_at: i64,
}

fn header_of(host: Option<String>, name: Option<String>) -> Option<SecretHeader> {
    match (host, name) {
        (Some(host), Some(name)) => Some(SecretHeader { host, name }),
        _ => None,
    }
}

impl Store {
    /// Set (or with `None`, delete) a tenant's secret for a plugin; audited
    /// without its value. Returns whether anything changed.
    pub async fn set_secret(
        &self,
        tenant: &str,
        plugin: &str,
        name: &str,
        value: Option<(&str, Option<&SecretHeader>)>,
        actor: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let changed = match value {
            Some((v, header)) => sqlx::query(
                "INSERT INTO plugin_secrets (tenant_id, plugin, name, value, updated_by, updated_at, header_host, header_name)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (tenant_id, plugin, name) DO UPDATE
                 SET value = $4, updated_by = $5, updated_at = $6, header_host = $7, header_name = $8",
            )
            .bind(tenant)
            .bind(plugin)
            .bind(name)
            .bind(v)
            .bind(actor)
            .bind(now)
            .bind(header.map(|h| h.host.as_str()))
            .bind(header.map(|h| h.name.as_str()))
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query("DELETE FROM plugin_secrets WHERE tenant_id = $1 AND plugin = $2 AND name = $3")
                .bind(tenant)
                .bind(plugin)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        } > 0;
        if changed {
            let action = if value.is_some() { "secret.set" } else { "secret.delete" };
            Self::audit_in(
                &mut tx,
                actor,
                action,
                Some(tenant),
                Some(plugin),
                &match value.and_then(|(_, h)| h) {
                    Some(h) => serde_json::json!({ "name": name, "header": h }),
                    None => serde_json::json!({ "name": name }),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// A tenant's secrets for a plugin: names, headers, who set them when (never the values).
    pub async fn secret_names(&self, tenant: &str, plugin: &str) -> StoreResult<Vec<SecretListing>> {
        Ok(sqlx::query(
            "SELECT name, updated_by, updated_at, header_host, header_name FROM plugin_secrets
             WHERE tenant_id = $1 AND plugin = $2 ORDER BY name",
        )
        .bind(tenant)
        .bind(plugin)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| SecretListing {
            name: r.get(0),
            updated_by: r.get(1),
            updated_at: r.get(2),
            header: header_of(r.get(3), r.get(4)),
        })
        .collect())
    }

    /// Every secret. For building plugin sets only.
    pub async fn all_secrets(&self) -> StoreResult<Vec<StoredSecret>> {
        Ok(sqlx::query(
            "SELECT tenant_id, plugin, name, value, header_host, header_name FROM plugin_secrets
             ORDER BY tenant_id, plugin, name",
        )
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| StoredSecret {
            tenant: r.get(0),
            plugin: r.get(1),
            name: r.get(2),
            value: r.get(3),
            header: header_of(r.get(4), r.get(5)),
        })
        .collect())
    }
}

/// A registered publisher: a name for an Ed25519 key.
#[derive(Debug, Clone, Serialize)]
pub struct Publisher {
    /// Its name (what plugin identities and trust use).
    pub name: String,
    /// `ed25519:<64 hex digits>`.
    pub public_key: String,
    /// Who registered it.
    pub added_by: String,
    /// When (ms).
    pub created_at: i64,
}

/// A tenant's trust in a publisher (or, as `unsigned`, in unsigned components).
#[derive(Debug, Clone, Serialize)]
pub struct Trust {
    /// The tenant.
    pub tenant_id: String,
    /// A publisher's name, or `unsigned`.
    pub publisher: String,
    /// Who decided.
    pub added_by: String,
    /// When (ms).
    pub created_at: i64,
}

/// Why a publisher could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherConflict {
    /// The name is taken (by this key).
    Name(String),
    /// The key is registered under this name.
    Key(String),
}

impl Store {
    /// Every registered publisher, by name.
    pub async fn publishers(&self) -> StoreResult<Vec<Publisher>> {
        Ok(sqlx::query("SELECT name, public_key, added_by, created_at FROM publishers ORDER BY name")
            .fetch_all(&self.reader)
            .await?
            .into_iter()
            .map(|r| Publisher { name: r.get(0), public_key: r.get(1), added_by: r.get(2), created_at: r.get(3) })
            .collect())
    }

    /// Register a publisher. A name and a key are registered once: the same
    /// pair again is fine, anything else conflicts.
    pub async fn add_publisher(
        &self,
        name: &str,
        key: &str,
        actor: &str,
    ) -> StoreResult<Result<(Publisher, bool), PublisherConflict>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let existing = sqlx::query(
            "SELECT name, public_key, added_by, created_at FROM publishers WHERE name = $1 OR public_key = $2",
        )
        .bind(name)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(r) = existing.first() {
            let (n, k): (String, String) = (r.get(0), r.get(1));
            if n == name && k == key {
                let p = Publisher { name: n, public_key: k, added_by: r.get(2), created_at: r.get(3) };
                return Ok(Ok((p, false)));
            }
            if n == name {
                return Ok(Err(PublisherConflict::Name(k)));
            }
            return Ok(Err(PublisherConflict::Key(n)));
        }
        sqlx::query("INSERT INTO publishers (name, public_key, added_by, created_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(key)
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        Self::audit_in(
            &mut tx,
            actor,
            "publisher.add",
            None,
            Some(name),
            &serde_json::json!({ "public_key": key }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok((Publisher { name: name.into(), public_key: key.into(), added_by: actor.into(), created_at: now }, true)))
    }

    /// Remove a publisher no uploaded version names. `None`: no such
    /// publisher; `Some(false)`: versions signed by it are still kept.
    pub async fn remove_publisher(&self, name: &str, actor: &str) -> StoreResult<Option<bool>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        if sqlx::query("SELECT 1 FROM publishers WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?.is_none()
        {
            return Ok(None);
        }
        let used = sqlx::query("SELECT 1 FROM plugin_versions WHERE publisher = $1 AND removed_at IS NULL LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if used {
            return Ok(Some(false));
        }
        sqlx::query("DELETE FROM publishers WHERE name = $1").bind(name).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM tenant_publishers WHERE publisher = $1").bind(name).execute(&mut *tx).await?;
        Self::audit_in(&mut tx, actor, "publisher.remove", None, Some(name), &serde_json::json!({}), now).await?;
        tx.commit().await?;
        Ok(Some(true))
    }

    /// Which publishers tenants trust: one tenant's, or every tenant's.
    pub async fn trust(&self, tenant: Option<&str>) -> StoreResult<Vec<Trust>> {
        Ok(sqlx::query(
            "SELECT tenant_id, publisher, added_by, created_at FROM tenant_publishers
             WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, publisher",
        )
        .bind(tenant)
        .fetch_all(&self.reader)
        .await?
        .into_iter()
        .map(|r| Trust { tenant_id: r.get(0), publisher: r.get(1), added_by: r.get(2), created_at: r.get(3) })
        .collect())
    }

    /// Trust (or stop trusting) a publisher for a tenant; audited. Whether anything changed.
    pub async fn set_trust(&self, tenant: &str, publisher: &str, trusted: bool, actor: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let changed = if trusted {
            sqlx::query(
                "INSERT INTO tenant_publishers (tenant_id, publisher, added_by, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, publisher) DO NOTHING",
            )
            .bind(tenant)
            .bind(publisher)
            .bind(actor)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query("DELETE FROM tenant_publishers WHERE tenant_id = $1 AND publisher = $2")
                .bind(tenant)
                .bind(publisher)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        } > 0;
        if changed {
            let action = if trusted { "publisher.trust" } else { "publisher.distrust" };
            Self::audit_in(&mut tx, actor, action, Some(tenant), Some(publisher), &serde_json::json!({}), now).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}
