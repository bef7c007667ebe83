//! Which plugins run for which tenant: the configured bindings, plus those
//! admins manage through the admin API (which replace a configured binding
//! of the same plugin and role, or add to it). A tenant's set is swapped
//! atomically when it changes: a message already being processed keeps the
//! set it started with (its calls finish on the old version), the next one
//! gets the new set. Nothing waits and nothing is dropped.

use crate::broker::Policy;
use crate::config::TenantConfig;
use crate::domain::Role;
use crate::plugins::{CallContext, Limits, LoadedPlugin, PluginConfig, Runtime};
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// The publisher of the first-party plugins (signed with the key built in).
pub const FIRST_PARTY: &str = "smsdesk";
/// The publisher of components that carry no signature.
pub const UNSIGNED: &str = "unsigned";

/// A plugin bound to a tenant with that tenant's configuration.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The plugin (shared by every tenant that binds the same component).
    pub plugin: Arc<LoadedPlugin>,
    /// Its identity, `publisher/name`: what its secrets, key-value space
    /// and bindings belong to.
    pub identity: String,
    /// Tenant and configuration for calls.
    pub call: CallContext,
    /// The role it is bound in.
    pub role: Role,
    /// Suspends the binding after repeated failures.
    pub breaker: Arc<super::breaker::Breaker>,
}

/// A tenant's plugins per role, in configured order.
#[derive(Debug, Clone, Default)]
pub struct TenantPlugins {
    /// CRM lookups, tried in order until one knows the customer.
    pub crm: Vec<Bound>,
    /// Classifiers; their intents are merged.
    pub classifiers: Vec<Bound>,
    /// The responder (the first configured).
    pub responder: Option<Bound>,
    /// Candidates in shadow runs: called beside the active plugins, recorded, never acted on.
    pub shadows: Vec<Shadow>,
}

/// A candidate version running in the shadow of a role.
#[derive(Debug, Clone)]
pub struct Shadow {
    /// The shadow run.
    pub run_id: i64,
    /// The candidate, bound in the run's role with the run's configuration.
    pub bound: Bound,
}

/// What the store says about plugins beyond the configuration: managed
/// bindings, running shadow runs and secrets, for every tenant.
#[derive(Debug, Clone, Default)]
pub struct PluginState {
    /// Managed bindings.
    pub managed: Vec<Managed>,
    /// Running shadow runs.
    pub shadows: Vec<ShadowSpec>,
    /// Secrets of every tenant. Never logged.
    pub secrets: Vec<crate::store::StoredSecret>,
    /// Registered publishers.
    pub publishers: Vec<crate::store::Publisher>,
    /// Which publishers each tenant trusts.
    pub trust: Vec<crate::store::Trust>,
}

/// Who published a component, from the key of its (already verified)
/// signature: the first-party key is `smsdesk`, a registered key its
/// publisher's name, no signature `unsigned`; `None` for a key nobody
/// registered.
pub fn publisher_of(publishers: &[crate::store::Publisher], key: Option<&str>) -> Option<String> {
    match key {
        None => Some(UNSIGNED.to_string()),
        Some(k) if k == smsdesk_artifacts::first_party::PUBLISHER_KEY => Some(FIRST_PARTY.to_string()),
        Some(k) => publishers.iter().find(|p| p.public_key == k).map(|p| p.name.clone()),
    }
}

impl PluginState {
    /// Read it from the store: managed bindings with their versions, running
    /// shadow runs, secrets, publishers and trust, for every tenant.
    pub async fn load(store: &crate::store::Store) -> anyhow::Result<PluginState> {
        let mut managed = Vec::new();
        for binding in store.managed_bindings(None).await? {
            let version = store.plugin_version(binding.version_id).await?.with_context(|| {
                format!("binding of `{}` names a missing version {}", binding.plugin, binding.version_id)
            })?;
            managed.push(Managed { binding, version });
        }
        let mut shadows = Vec::new();
        for run in store.shadow_runs(None).await? {
            let version = store
                .plugin_version(run.candidate_version_id)
                .await?
                .with_context(|| format!("shadow run {} names a missing version", run.id))?;
            shadows.push(ShadowSpec { run, version });
        }
        Ok(PluginState {
            managed,
            shadows,
            secrets: store.all_secrets().await?,
            publishers: store.publishers().await?,
            trust: store.trust(None).await?,
        })
    }

    /// Does `tenant` trust `publisher`? The first-party publisher always;
    /// unsigned components only where the tenant allows them.
    pub fn trusts(&self, tenant: &str, publisher: &str) -> bool {
        publisher == FIRST_PARTY || self.trust.iter().any(|t| t.tenant_id == tenant && t.publisher == publisher)
    }

    /// Secrets given to the plugin as configuration values: (name, value).
    fn secrets_for(&self, tenant: &str, plugin: &str) -> Vec<(String, String)> {
        self.secrets
            .iter()
            .filter(|s| s.tenant == tenant && s.plugin == plugin && s.header.is_none())
            .map(|s| (s.name.clone(), s.value.clone()))
            .collect()
    }

    /// What a binding may reach over brokered HTTP: its grants, plus the
    /// secrets attached to hosts as headers (which the plugin never sees).
    fn http_policy(&self, tenant: &str, plugin: &str, grants: &[String]) -> Arc<Policy> {
        let mut policy = Policy::from_grants(grants);
        policy.secret_headers = self
            .secrets
            .iter()
            .filter(|s| s.tenant == tenant && s.plugin == plugin)
            .filter_map(|s| s.header.as_ref().map(|h| (h.host.clone(), h.name.clone(), s.value.clone())))
            .collect();
        Arc::new(policy)
    }
}

/// A running shadow run ready to load.
#[derive(Debug, Clone)]
pub struct ShadowSpec {
    /// The run.
    pub run: crate::store::ShadowRun,
    /// The candidate version.
    pub version: crate::store::PluginVersion,
}

/// Bindings of every tenant, swappable per tenant.
pub struct Bindings {
    runtime: Runtime,
    /// Where uploaded components are kept.
    store: crate::store::Store,
    configs: HashMap<String, TenantConfig>,
    /// Loaded components by source (`builtin:…`, a path, or `sha256:…`).
    loaded: tokio::sync::Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    by_tenant: RwLock<HashMap<String, Arc<TenantPlugins>>>,
    /// Breakers per (tenant, role, component hash): an upgrade starts with a closed one.
    breakers: Mutex<HashMap<(String, Role, String), Arc<super::breaker::Breaker>>>,
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings").field("tenants", &self.configs.len()).finish()
    }
}

/// A managed binding ready to load: the binding and its version's file.
#[derive(Debug, Clone)]
pub struct Managed {
    /// The binding.
    pub binding: crate::store::ManagedBinding,
    /// Its version.
    pub version: crate::store::PluginVersion,
}

impl TenantPlugins {
    /// Every binding, in configured order (CRM, classifiers, responder).
    pub fn all(&self) -> impl Iterator<Item = &Bound> {
        self.crm.iter().chain(&self.classifiers).chain(&self.responder)
    }
}

impl Bindings {
    /// Load every configured plugin and every managed binding (each distinct
    /// component once; compiled ones come from the cache) and bind them.
    pub async fn load(
        runtime: &Runtime,
        store: &crate::store::Store,
        tenants: &[TenantConfig],
        state: &PluginState,
    ) -> anyhow::Result<Bindings> {
        let bindings = Bindings {
            runtime: runtime.clone(),
            store: store.clone(),
            configs: tenants.iter().map(|t| (t.id.clone(), t.clone())).collect(),
            loaded: Default::default(),
            by_tenant: Default::default(),
            breakers: Default::default(),
        };
        for tenant in tenants {
            let plugins = bindings.build(&tenant.id, state).await?;
            bindings.install(&tenant.id, plugins);
        }
        Ok(bindings)
    }

    /// Load a component by source key, once.
    pub async fn component(
        &self,
        source: &str,
        bytes: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Arc<LoadedPlugin>> {
        let mut loaded = self.loaded.lock().await;
        if let Some(p) = loaded.get(source) {
            return Ok(p.clone());
        }
        let label = source.trim_start_matches("builtin:");
        let label = std::path::Path::new(label).file_stem().and_then(|s| s.to_str()).unwrap_or(label).to_string();
        let p = Arc::new(self.runtime.load(&label, bytes()?, Limits::default()).await?);
        loaded.insert(source.to_string(), p.clone());
        Ok(p)
    }

    /// An uploaded version's component (loaded once, by content hash), read
    /// from the database; a version uploaded before components were kept
    /// there is read from its file.
    pub async fn version(&self, v: &crate::store::PluginVersion) -> anyhow::Result<Arc<LoadedPlugin>> {
        let source = format!("sha256:{}", v.sha256);
        if let Some(p) = self.loaded.lock().await.get(&source) {
            return Ok(p.clone());
        }
        let bytes = match self.store.plugin_component(&v.sha256).await? {
            Some(bytes) => bytes,
            None => std::fs::read(&v.path).with_context(|| format!("cannot read plugin {}", v.path))?,
        };
        let plugin = self.component(&source, || Ok(bytes)).await?;
        anyhow::ensure!(
            plugin.info().sha256 == v.sha256,
            "the stored component of {} {} does not have its recorded hash",
            v.identity(),
            v.version
        );
        Ok(plugin)
    }

    /// Build `tenant`'s set (every tenant's with `None`) from what the store
    /// says now and swap it in: after an admin change on this replica, or
    /// when another replica announces one.
    pub async fn reload(&self, tenant: Option<&str>) -> anyhow::Result<()> {
        let state = PluginState::load(&self.store).await?;
        let tenants: Vec<String> = match tenant {
            Some(t) => vec![t.to_string()],
            None => self.configs.keys().cloned().collect(),
        };
        for tenant in tenants {
            let plugins = self.build(&tenant, &state).await?;
            self.install(&tenant, plugins);
        }
        Ok(())
    }

    /// A tenant's plugin set from its configuration and `managed` bindings
    /// (loading what is not loaded yet). Nothing is swapped in.
    pub async fn build(&self, tenant_id: &str, state: &PluginState) -> anyhow::Result<TenantPlugins> {
        let managed: Vec<&Managed> = state.managed.iter().filter(|m| m.binding.tenant_id == tenant_id).collect();
        let shadows: Vec<&ShadowSpec> = state.shadows.iter().filter(|s| s.run.tenant_id == tenant_id).collect();
        let tenant = self.configs.get(tenant_id).with_context(|| format!("no tenant `{tenant_id}`"))?;
        // (role, identity, plugin, configuration, grants)
        type Entry = (Role, String, Arc<LoadedPlugin>, PluginConfig, Vec<String>);
        let mut entries: Vec<Entry> = Vec::new();
        for binding in &tenant.plugins {
            let plugin = self
                .component(&binding.plugin, || read_source(&binding.plugin))
                .await
                .with_context(|| format!("tenant `{}`: {}", tenant.id, binding.plugin))?;
            let config = match &binding.config {
                None => PluginConfig::default(),
                Some(table) => PluginConfig::from_json_value(serde_json::to_value(table)?)
                    .map_err(|e| anyhow::anyhow!("tenant `{}`: {}: {e}", tenant.id, binding.plugin))?,
            };
            // The operator's own configuration: any signature (or none) is
            // accepted, but the identity is the signer's, so a copy of a
            // plugin's name never gets that plugin's secrets or data.
            let key = plugin.info().publisher_key.as_deref();
            let publisher = publisher_of(&state.publishers, key).with_context(|| {
                format!(
                    "tenant `{}`: {} is signed by {}, which no publisher is registered for \
                     (register it: smsdesk plugin publisher add NAME --key {})",
                    tenant.id,
                    binding.plugin,
                    key.unwrap_or_default(),
                    key.unwrap_or_default()
                )
            })?;
            let identity = format!("{publisher}/{}", plugin.name());
            // A configured binding is granted what its plugin asks for, plus
            // the development grants written beside it.
            let mut grants: Vec<String> = plugin.manifest().capabilities.iter().map(|c| c.to_string()).collect();
            grants.extend(binding.grants.iter().cloned());
            entries.push((binding.role, identity, plugin, config, grants));
        }
        for m in managed.iter().copied() {
            let role: Role = m.binding.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            // A disabled managed binding also silences a configured one of the
            // same plugin — the same publisher's, not a namesake's.
            entries.retain(|(r, id, _, _, _)| !(*r == role && *id == m.binding.plugin));
            if !m.binding.enabled {
                continue;
            }
            if !state.trusts(tenant_id, &m.version.publisher) {
                tracing::warn!(tenant = tenant_id, plugin = %m.binding.plugin, "binding not activated: the tenant does not trust its publisher");
                continue;
            }
            // A version asking for more than was granted is not activated.
            let missing: Vec<&String> =
                m.version.capabilities.iter().filter(|c| !m.binding.grants.contains(c)).collect();
            if !missing.is_empty() {
                tracing::warn!(tenant = tenant_id, plugin = %m.binding.plugin, ?missing, "binding not activated: capabilities not granted");
                continue;
            }
            let plugin = self
                .version(&m.version)
                .await
                .with_context(|| format!("tenant `{tenant_id}`: {} {}", m.binding.plugin, m.version.version))?;
            let config = PluginConfig::from_json_value(m.binding.config.clone())
                .map_err(|e| anyhow::anyhow!("tenant `{tenant_id}`: {}: {e}", m.binding.plugin))?;
            // An admin's responder takes over from a configured one; other
            // roles run after the configured ones.
            let grants = m.binding.grants.clone();
            let identity = m.binding.plugin.clone();
            if role == Role::Responder {
                entries.insert(0, (role, identity, plugin, config, grants));
            } else {
                entries.push((role, identity, plugin, config, grants));
            }
        }
        let mut plugins = TenantPlugins::default();
        for (role, identity, plugin, config, grants) in entries {
            if !plugin.has_role(role) {
                anyhow::bail!(
                    "tenant `{tenant_id}`: plugin `{}` is bound as {role} but does not export that role",
                    plugin.name()
                );
            }
            let breaker = self
                .breakers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry((tenant_id.to_string(), role, plugin.info().sha256.clone()))
                .or_default()
                .clone();
            // The tenant's secrets for this plugin (this publisher's) come with its configuration.
            let config = config.with_secrets(&state.secrets_for(tenant_id, &identity));
            let http = state.http_policy(tenant_id, &identity, &grants);
            let call = CallContext {
                tenant: tenant_id.to_string(),
                config,
                http,
                identity: Some(Arc::from(identity.as_str())),
                ..Default::default()
            };
            let bound = Bound { plugin, identity, call, role, breaker };
            match role {
                Role::Crm => plugins.crm.push(bound),
                Role::Classifier => plugins.classifiers.push(bound),
                Role::Responder => {
                    if plugins.responder.is_none() {
                        plugins.responder = Some(bound);
                    }
                }
            }
        }
        for spec in shadows.iter().copied() {
            let role: Role = spec.run.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let plugin = self.version(&spec.version).await?;
            if !plugin.has_role(role) {
                anyhow::bail!("shadow candidate `{}` does not export the {role} role", plugin.name());
            }
            if !state.trusts(tenant_id, &spec.version.publisher) {
                tracing::warn!(tenant = tenant_id, plugin = %spec.version.identity(), "shadow run not started: the tenant does not trust its publisher");
                continue;
            }
            let identity = spec.version.identity();
            let config = PluginConfig::from_json_value(spec.run.config.clone())
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_secrets(&state.secrets_for(tenant_id, &identity));
            let http = state.http_policy(tenant_id, &identity, &spec.run.grants);
            // Its own key-value space: what it writes never reaches the active version.
            let kv_space = Some(Arc::from(format!("shadow-{}", spec.run.id)));
            let call = CallContext {
                tenant: tenant_id.to_string(),
                config,
                http,
                kv_space,
                identity: Some(Arc::from(identity.as_str())),
                ..Default::default()
            };
            let bound = Bound { plugin, identity, call, role, breaker: Default::default() };
            plugins.shadows.push(Shadow { run_id: spec.run.id, bound });
        }
        Ok(plugins)
    }

    /// Swap in a tenant's new set: new messages use it at once, messages in
    /// flight finish with the set they started with.
    pub fn install(&self, tenant_id: &str, plugins: TenantPlugins) {
        self.by_tenant.write().unwrap_or_else(|p| p.into_inner()).insert(tenant_id.to_string(), Arc::new(plugins));
    }

    /// A tenant's plugins (none if it has no bindings).
    pub fn get(&self, tenant: &str) -> Arc<TenantPlugins> {
        self.by_tenant.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned().unwrap_or_default()
    }

    /// The runtime (to validate uploads).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Development: watch the configured `.wasm` files and reload one when it
    /// changes (checked every `every`). A new file that does not load is
    /// reported and the running version stays.
    pub async fn watch(self: Arc<Self>, store: crate::store::Store, every: std::time::Duration) {
        let mut sources: Vec<String> = self
            .configs
            .values()
            .flat_map(|t| t.plugins.iter().map(|b| b.plugin.clone()))
            .filter(|p| !p.starts_with("builtin:"))
            .collect();
        sources.sort();
        sources.dedup();
        let stamp = |path: &str| std::fs::metadata(path).ok().map(|m| (m.modified().ok(), m.len()));
        let mut seen: HashMap<String, Option<(Option<std::time::SystemTime>, u64)>> =
            sources.iter().map(|s| (s.clone(), stamp(s))).collect();
        loop {
            tokio::time::sleep(every).await;
            for source in &sources {
                let now = stamp(source);
                if seen.get(source) == Some(&now) {
                    continue;
                }
                seen.insert(source.clone(), now);
                let Ok(bytes) = std::fs::read(source) else { continue };
                let label = std::path::Path::new(source).file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
                match self.runtime.load(label, bytes, Limits::default()).await {
                    Err(e) => {
                        tracing::warn!(plugin = %source, error = %e, "changed plugin does not load; keeping the running version");
                        crate::metrics::count(
                            "smsdesk_plugin_file_reloads_total",
                            &[("file", source), ("result", "failed")],
                            1,
                        );
                    }
                    Ok(plugin) => {
                        let version = plugin.manifest().version.clone();
                        self.loaded.lock().await.insert(source.clone(), Arc::new(plugin));
                        let tenants: Vec<String> = self
                            .configs
                            .values()
                            .filter(|t| t.plugins.iter().any(|b| &b.plugin == source))
                            .map(|t| t.id.clone())
                            .collect();
                        let state = match PluginState::load(&store).await {
                            Ok(m) => m,
                            Err(e) => {
                                tracing::error!(error = %e, "reading managed bindings failed");
                                continue;
                            }
                        };
                        crate::metrics::count(
                            "smsdesk_plugin_file_reloads_total",
                            &[("file", source), ("result", "reloaded")],
                            1,
                        );
                        for tenant in tenants {
                            match self.build(&tenant, &state).await {
                                Ok(plugins) => {
                                    self.install(&tenant, plugins);
                                    tracing::info!(plugin = %source, %version, %tenant, "reloaded a changed plugin");
                                }
                                Err(e) => {
                                    tracing::warn!(plugin = %source, error = %format!("{e:#}"), "reload failed; keeping the running set")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Has `tenant`'s set been built and swapped in?
    pub fn is_loaded(&self, tenant: &str) -> bool {
        self.by_tenant.read().unwrap_or_else(|p| p.into_inner()).contains_key(tenant)
    }

    /// Is `tenant` configured?
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.configs.contains_key(tenant)
    }
}

/// Component bytes from a path or `builtin:NAME`.
pub fn read_source(source: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(name) = source.strip_prefix("builtin:") {
        let guest = smsdesk_artifacts::first_party::ALL.iter().find(|g| g.name == name).with_context(|| {
            let names: Vec<&str> = smsdesk_artifacts::first_party::ALL.iter().map(|g| g.name).collect();
            format!("no built-in plugin `{name}` (built-ins: {})", names.join(", "))
        })?;
        return Ok(guest.bytes.to_vec());
    }
    std::fs::read(source).with_context(|| format!("cannot read plugin {source}"))
}
