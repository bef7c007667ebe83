//! Which plugins run for which tenant, loaded once at start-up.

use crate::config::TenantConfig;
use crate::domain::Role;
use crate::plugins::{CallContext, Limits, LoadedPlugin, PluginConfig, Runtime};
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::Arc;

/// A plugin bound to a tenant with that tenant's configuration.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The plugin (shared by every tenant that binds the same component).
    pub plugin: Arc<LoadedPlugin>,
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
}

/// Bindings of every tenant.
#[derive(Debug, Default)]
pub struct Bindings {
    by_tenant: HashMap<String, Arc<TenantPlugins>>,
}

impl TenantPlugins {
    /// Every binding, in configured order (CRM, classifiers, responder).
    pub fn all(&self) -> impl Iterator<Item = &Bound> {
        self.crm.iter().chain(&self.classifiers).chain(&self.responder)
    }
}

impl Bindings {
    /// Load every configured plugin (each distinct component once) and bind it.
    pub async fn load(runtime: &Runtime, tenants: &[TenantConfig]) -> anyhow::Result<Bindings> {
        let mut loaded: HashMap<String, Arc<LoadedPlugin>> = HashMap::new();
        let mut by_tenant = HashMap::new();
        for tenant in tenants {
            let mut plugins = TenantPlugins::default();
            for binding in &tenant.plugins {
                let plugin = match loaded.get(&binding.plugin) {
                    Some(p) => p.clone(),
                    None => {
                        let bytes = read_source(&binding.plugin)?;
                        let label = binding.plugin.trim_start_matches("builtin:");
                        let p = Arc::new(
                            runtime
                                .load(label, bytes, Limits::default())
                                .await
                                .with_context(|| format!("tenant `{}`: {}", tenant.id, binding.plugin))?,
                        );
                        loaded.insert(binding.plugin.clone(), p.clone());
                        p
                    }
                };
                if !plugin.has_role(binding.role) {
                    anyhow::bail!(
                        "tenant `{}`: plugin `{}` is bound as {} but does not export that role",
                        tenant.id,
                        plugin.name(),
                        binding.role
                    );
                }
                let config = match &binding.config {
                    None => PluginConfig::default(),
                    Some(table) => PluginConfig::from_json_value(serde_json::to_value(table)?)
                        .map_err(|e| anyhow::anyhow!("tenant `{}`: {}: {e}", tenant.id, binding.plugin))?,
                };
                let bound = Bound {
                    plugin,
                    call: CallContext { tenant: tenant.id.clone(), config },
                    role: binding.role,
                    breaker: Default::default(),
                };
                match binding.role {
                    Role::Crm => plugins.crm.push(bound),
                    Role::Classifier => plugins.classifiers.push(bound),
                    Role::Responder => {
                        if plugins.responder.is_none() {
                            plugins.responder = Some(bound);
                        }
                    }
                }
            }
            by_tenant.insert(tenant.id.clone(), Arc::new(plugins));
        }
        Ok(Bindings { by_tenant })
    }

    /// A tenant's plugins (none if it has no bindings).
    pub fn get(&self, tenant: &str) -> Arc<TenantPlugins> {
        self.by_tenant.get(tenant).cloned().unwrap_or_default()
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
