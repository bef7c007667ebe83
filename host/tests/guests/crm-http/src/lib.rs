//! Test guest: a CRM plugin that looks customers up over brokered HTTP
//! (contract 0.2.0). It asks for `outbound-http:localhost`; the tests grant
//! plain HTTP and loopback for `localhost` and attach the CRM's API key as a
//! header secret, which this plugin never sees.
use smsdesk_sdk::*;

struct CrmHttp;

impl Plugin for CrmHttp {
    const NAME: &'static str = "crm-http";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Looks customers up in a CRM over HTTP";

    fn capabilities() -> Vec<Capability> {
        vec![Capability::OutboundHttp("localhost".into()), Capability::RawPhoneNumbers]
    }
}

impl Crm for CrmHttp {
    fn lookup(phone: &str, _tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {
        let base: String =
            config::get("url")?.ok_or_else(|| PluginError::bad_config("`url` (the CRM's base URL) is not set"))?;
        let phone = phone.replace('+', "%2B");
        // The plugin's own Authorization header must lose to the one the host injects.
        let response = http::Request::get(format!("{base}/customers?phone={phone}"))
            .header("accept", "application/json")
            .header("authorization", "plugin-made-this-up")
            .send()?;
        match response.status {
            404 => Ok(None),
            200 => {
                let c: serde_json::Value = response.json()?;
                let text = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_string);
                Ok(Some(CustomerProfile {
                    id: text("id").ok_or_else(|| PluginError::unavailable("CRM answer without an id"))?,
                    name: text("name"),
                    tier: text("tier"),
                    // Every other text field becomes an attribute (`last-order-id`, …).
                    attributes: c
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| !["id", "name", "tier"].contains(&k.as_str()))
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect(),
                }))
            }
            status => Err(PluginError::unavailable(format!("CRM answered {status}: {}", response.text()))),
        }
    }
}

export!(CrmHttp: crm);
