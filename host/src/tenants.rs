//! The tenants this host serves, as configured: lookup by number or
//! Messaging Service, by API token, and each tenant's provider.

use crate::config::TenantConfig;
use crate::consent::QuietHours;
use crate::messaging::provider::Provider;
use std::collections::HashMap;
use std::sync::Arc;

/// One tenant, ready to use.
#[derive(Debug)]
pub struct Tenant {
    /// The configuration.
    pub config: TenantConfig,
    /// Its provider.
    pub provider: Provider,
    /// When proactive messages may go.
    pub quiet_hours: QuietHours,
    /// When the team works (SLA clocks run, no after-hours notice).
    pub business_hours: crate::tickets::BusinessHours,
}

/// All tenants, indexed.
#[derive(Debug, Default)]
pub struct Tenants {
    by_id: HashMap<String, Arc<Tenant>>,
    by_number: HashMap<String, Arc<Tenant>>,
    by_service: HashMap<String, Arc<Tenant>>,
    by_token: HashMap<String, Arc<Tenant>>,
    /// SHA-256 of a user's token → (tenant, user).
    by_user_token: HashMap<String, (Arc<Tenant>, crate::config::UserConfig)>,
    /// SHA-256 of a host admin's token → the admin.
    admins: HashMap<String, crate::config::UserConfig>,
}

impl Tenants {
    /// Index the configured tenants.
    pub fn new(configs: &[TenantConfig]) -> Tenants {
        let mut t = Tenants::default();
        for c in configs {
            let tenant = Arc::new(Tenant {
                provider: Provider::from_config(&c.provider),
                // Configuration was checked at load; a bad window falls back to the federal one.
                quiet_hours: QuietHours::from_config(&c.consent.quiet_hours).unwrap_or_default(),
                // Checked at load too; a bad schedule falls back to the default one.
                business_hours: crate::tickets::BusinessHours::parse(&c.tickets.business_hours, &c.time_zone)
                    .and_then(|h| h.with_holidays(&c.tickets.holidays))
                    .or_else(|_| {
                        crate::tickets::BusinessHours::parse(&[crate::tickets::hours::DEFAULT_HOURS.into()], "UTC")
                    })
                    .expect("the default schedule parses"),
                config: c.clone(),
            });
            t.by_id.insert(c.id.clone(), tenant.clone());
            for n in &c.numbers {
                t.by_number.insert(n.clone(), tenant.clone());
            }
            if let Some(sid) = &c.messaging_service_sid {
                t.by_service.insert(sid.clone(), tenant.clone());
            }
            if let Some(token) = &c.api_token {
                t.by_token.insert(token.clone(), tenant.clone());
            }
            for u in &c.users {
                if let Some(hash) = u.token_hash() {
                    t.by_user_token.insert(hash, (tenant.clone(), u.clone()));
                }
            }
        }
        t
    }

    /// By id.
    pub fn get(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.by_id.get(id)
    }

    /// The id of the tenant that lists `number` as its own, if any.
    pub fn number_owner(&self, number: &str) -> Option<&str> {
        self.by_number.get(number).map(|t| t.config.id.as_str())
    }

    /// The tenant a webhook about our number `number` (through Messaging
    /// Service `service`) belongs to. A pool's numbers need not be listed, so
    /// a configured service decides alone; but when the number is configured
    /// too, both must be the same tenant's — otherwise one tenant could store
    /// messages, and answer, on another tenant's number (`Err` with the
    /// service's and the number's tenants).
    #[allow(clippy::type_complexity)]
    pub fn for_recipient(
        &self,
        number: &str,
        service: Option<&str>,
    ) -> Result<Option<&Arc<Tenant>>, (&Arc<Tenant>, &Arc<Tenant>)> {
        let by_service = service.and_then(|s| self.by_service.get(s));
        let by_number = self.by_number.get(number);
        match (by_service, by_number) {
            (Some(s), Some(n)) if s.config.id != n.config.id => Err((s, n)),
            (Some(s), _) => Ok(Some(s)),
            (None, n) => Ok(n),
        }
    }

    /// The tenant whose read-API token this is.
    pub fn for_token(&self, token: &str) -> Option<&Arc<Tenant>> {
        // Tokens are compared through a hash map; equal-length secrets of
        // admins' choosing make timing differences uninteresting here.
        self.by_token.get(token)
    }

    /// Add the host's administrators.
    pub fn with_admins(mut self, admins: &[crate::config::UserConfig]) -> Tenants {
        for a in admins {
            if let Some(hash) = a.token_hash() {
                self.admins.insert(hash, a.clone());
            }
        }
        self
    }

    /// The host administrator whose token this is.
    pub fn admin_for_token(&self, token: &str) -> Option<&crate::config::UserConfig> {
        self.admins.get(&crate::config::sha256_hex(token))
    }

    /// The tenant and user whose personal token this is (looked up by the
    /// token's SHA-256, so only hashes need be configured).
    pub fn for_user_token(&self, token: &str) -> Option<&(Arc<Tenant>, crate::config::UserConfig)> {
        self.by_user_token.get(&crate::config::sha256_hex(token))
    }

    /// Every tenant.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }
}
