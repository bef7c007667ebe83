//! `demo-crm`: a CRM lookup that answers from profiles in its configuration.
//!
//! It lets the demo (and tests) run offline. Configuration per tenant:
//!
//! ```toml
//! [profiles."+15551234567"]
//! id = "cus_1001"
//! name = "Ana Silva"
//! tier = "gold"
//! attributes = { last-order-id = "1042", order-status = "in transit", eta = "Tuesday" }
//! ```

use serde::Deserialize;
use smsdesk_sdk::{Capability, Crm, CustomerProfile, Plugin, PluginError};
use std::collections::BTreeMap;

/// The plugin type exported as a component.
pub struct DemoCrm;

impl Plugin for DemoCrm {
    const NAME: &'static str = "demo-crm";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Looks customers up in profiles from its configuration (demo data)";
    // A CRM looks customers up by their number: it needs it unmasked.
    fn capabilities() -> Vec<Capability> {
        vec![Capability::RawPhoneNumbers]
    }
}

impl Crm for DemoCrm {
    fn lookup(phone: &str, _tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {
        let config: Config = smsdesk_sdk::config::document()?;
        Ok(find(&config, phone))
    }
}

smsdesk_sdk::export!(DemoCrm: crm);

/// The configuration: profiles keyed by E.164 phone number.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Known customers.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One configured customer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The CRM id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Tier or segment.
    #[serde(default)]
    pub tier: Option<String>,
    /// Further facts.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The profile for `phone`, comparing digits only so `+1 (555) 123-4567` finds `+15551234567`.
pub fn find(config: &Config, phone: &str) -> Option<CustomerProfile> {
    let wanted = digits(phone);
    if wanted.is_empty() {
        return None;
    }
    config.profiles.iter().find(|(number, _)| digits(number) == wanted).map(|(_, p)| CustomerProfile {
        id: p.id.clone(),
        name: p.name.clone(),
        tier: p.tier.clone(),
        attributes: p.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut profiles = BTreeMap::new();
        let mut attributes = BTreeMap::new();
        attributes.insert("last-order-id".to_string(), "1042".to_string());
        profiles.insert(
            "+15551234567".to_string(),
            Profile { id: "cus_1".into(), name: Some("Ana".into()), tier: None, attributes },
        );
        Config { profiles }
    }

    #[test]
    fn finds_by_digits() {
        let p = find(&config(), "+1 (555) 123-4567").unwrap();
        assert_eq!(p.name.as_deref(), Some("Ana"));
        assert_eq!(p.attribute("last-order-id"), Some("1042"));
    }

    #[test]
    fn unknown_number_is_none() {
        assert!(find(&config(), "+15550000000").is_none());
        assert!(find(&config(), "").is_none());
    }
}
