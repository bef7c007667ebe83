//! `faq-responder`: answers the common questions and hands the rest to people.
//!
//! - order status: a reply built from the CRM profile when there is one
//!   (`last-order-id`, `order-status`, `eta`, `tracking-url` attributes),
//!   otherwise how to track an order;
//! - returns and refunds: the returns policy;
//! - store hours: the hours, and the conversation is resolved;
//! - billing disputes, angry or urgent language, explicit requests for a
//!   person, cancellations, and anything classified with low confidence (or
//!   not at all): a handoff to a human with the reason, priority and team.
//!
//! Every text is configurable per tenant; `{name}`, `{order_id}`,
//! `{order_status}`, `{eta}` and `{tracking_url}` are filled from the profile.
//!
//! ```toml
//! min_confidence = 0.5
//! store_hours = "Mon-Sat 9:00-18:00"
//! returns = "Returns are free within 30 days: {returns_url}"
//! returns_url = "https://example.com/returns"
//! tracking_url = "https://example.com/track"
//! ```

use serde::Deserialize;
use smsdesk_sdk::{
    ConversationContext, CustomerProfile, Decision, InboundMessage, Intent, Plugin, PluginError, Priority, Responder,
};

/// The plugin type exported as a component.
pub struct FaqResponder;

impl Plugin for FaqResponder {
    const NAME: &'static str = "faq-responder";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Answers order status, returns and hours; hands everything else to a human";
}

impl Responder for FaqResponder {
    fn respond(
        _message: &InboundMessage,
        context: &ConversationContext,
        intents: &[Intent],
    ) -> Result<Decision, PluginError> {
        let config: Config = smsdesk_sdk::config::document()?;
        Ok(decide(&config, context.profile.as_ref(), intents))
    }
}

smsdesk_sdk::export!(FaqResponder: responder);

/// Texts and thresholds, all with defaults.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Below this confidence the top intent is not trusted and a human takes over.
    pub min_confidence: f32,
    /// Reply for order status when the CRM knows the customer's last order.
    pub order_status_known: String,
    /// Reply for order status without a profile.
    pub order_status_unknown: String,
    /// Reply for returns and refunds.
    pub returns: String,
    /// Where returns start.
    pub returns_url: String,
    /// Where orders are tracked.
    pub tracking_url: String,
    /// Reply for store hours; `{store_hours}` is filled in.
    pub hours: String,
    /// The store hours.
    pub store_hours: String,
    /// Sent with every handoff so the customer knows a person is coming.
    pub handoff_reply: String,
    /// Team for billing disputes.
    pub billing_team: String,
    /// Team for cancellations.
    pub retention_team: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_confidence: 0.5,
            order_status_known:
                "Hi {name}! Your order #{order_id} is {order_status}{eta}. Track it here: {tracking_url}".into(),
            order_status_unknown:
                "You can track your order at {tracking_url}. Reply with your order number and we'll check on it.".into(),
            returns: "Returns are free within 30 days. Start one at {returns_url} and we'll email a label.".into(),
            returns_url: "https://example.com/returns".into(),
            tracking_url: "https://example.com/track".into(),
            hours: "We're open {store_hours}.".into(),
            store_hours: "Mon-Fri 9:00-18:00 and Sat 10:00-16:00".into(),
            handoff_reply: "Thanks, a teammate will text you back shortly.".into(),
            billing_team: "billing".into(),
            retention_team: "retention".into(),
        }
    }
}

/// Decide what to do with a message given its intents (highest confidence first).
pub fn decide(config: &Config, profile: Option<&CustomerProfile>, intents: &[Intent]) -> Decision {
    let confident = |label: &str| intents.iter().any(|i| i.label == label && i.confidence >= config.min_confidence);
    let handoff =
        |reason: &str, priority: Priority| Decision::handoff(reason, priority).with_reply(config.handoff_reply.clone());

    // People first: anger, explicit requests and money disputes go to humans even
    // when another intent scores higher.
    if confident("upset") {
        return handoff("Customer sounds upset or says it is urgent", Priority::Urgent).with_tags(["upset"]);
    }
    if confident("human-request") {
        return handoff("Customer asked for a person", Priority::Normal).with_tags(["human-request"]);
    }
    if confident("billing") {
        return handoff("Billing question or payment dispute", Priority::High)
            .team(config.billing_team.clone())
            .with_tags(["billing"]);
    }
    if confident("cancellation") {
        return handoff("Customer wants to cancel", Priority::High)
            .team(config.retention_team.clone())
            .with_tags(["cancellation"]);
    }

    let Some(top) = intents.first() else {
        return handoff("No intent recognised", Priority::Normal);
    };
    if top.confidence < config.min_confidence {
        return handoff(
            &format!("Low confidence: best guess `{}` at {:.2}", top.label, top.confidence),
            Priority::Normal,
        );
    }
    match top.label.as_str() {
        "order-status" => {
            let known = profile.and_then(|p| p.attribute("last-order-id")).is_some();
            let template = if known { &config.order_status_known } else { &config.order_status_unknown };
            Decision::reply(fill(template, config, profile)).with_tags(["order-status"])
        }
        "returns" => Decision::reply(fill(&config.returns, config, profile)).with_tags(["returns"]),
        "store-hours" => Decision::reply(fill(&config.hours, config, profile)).with_tags(["store-hours"]).resolved(),
        other => handoff(&format!("No automated answer for `{other}`"), Priority::Normal),
    }
}

/// Fill `{placeholders}` from the configuration and the profile.
pub fn fill(template: &str, config: &Config, profile: Option<&CustomerProfile>) -> String {
    let attr = |key: &str| profile.and_then(|p| p.attribute(key)).unwrap_or("").to_string();
    let name = profile.and_then(|p| p.name.clone()).unwrap_or_else(|| "there".to_string());
    let eta = match profile.and_then(|p| p.attribute("eta")) {
        Some(eta) if !eta.is_empty() => format!(", expected {eta}"),
        _ => String::new(),
    };
    let tracking = profile
        .and_then(|p| p.attribute("tracking-url"))
        .map(str::to_string)
        .unwrap_or_else(|| config.tracking_url.clone());
    template
        .replace("{name}", &name)
        .replace("{order_id}", &attr("last-order-id"))
        .replace("{order_status}", &attr("order-status"))
        .replace("{eta}", &eta)
        .replace("{tracking_url}", &tracking)
        .replace("{returns_url}", &config.returns_url)
        .replace("{store_hours}", &config.store_hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intents(list: &[(&str, f32)]) -> Vec<Intent> {
        list.iter().map(|(l, c)| Intent::new(*l, *c)).collect()
    }

    fn ana() -> CustomerProfile {
        CustomerProfile {
            id: "cus_1".into(),
            name: Some("Ana".into()),
            tier: Some("gold".into()),
            attributes: vec![
                ("last-order-id".into(), "1042".into()),
                ("order-status".into(), "in transit".into()),
                ("eta".into(), "Tuesday".into()),
            ],
        }
    }

    #[test]
    fn order_status_uses_the_profile() {
        let d = decide(&Config::default(), Some(&ana()), &intents(&[("order-status", 0.95)]));
        assert_eq!(
            d.reply.as_deref(),
            Some("Hi Ana! Your order #1042 is in transit, expected Tuesday. Track it here: https://example.com/track")
        );
        assert!(d.handoff.is_none());
        assert_eq!(d.add_tags, vec!["order-status".to_string()]);
    }

    #[test]
    fn order_status_without_profile_explains_tracking() {
        let d = decide(&Config::default(), None, &intents(&[("order-status", 0.9)]));
        assert!(d.reply.unwrap().starts_with("You can track your order at https://example.com/track"));
    }

    #[test]
    fn hours_resolve_and_returns_reply() {
        let d = decide(&Config::default(), None, &intents(&[("store-hours", 0.9)]));
        assert!(d.resolve);
        assert!(d.reply.unwrap().contains("Mon-Fri"));
        let d = decide(&Config::default(), None, &intents(&[("returns", 0.8)]));
        assert!(d.reply.unwrap().contains("https://example.com/returns"));
    }

    #[test]
    fn people_topics_hand_off_even_when_ranked_lower() {
        let d = decide(&Config::default(), None, &intents(&[("order-status", 0.95), ("upset", 0.6)]));
        let h = d.handoff.unwrap();
        assert_eq!(h.priority, Priority::Urgent);
        let d = decide(&Config::default(), None, &intents(&[("billing", 0.9)]));
        assert_eq!(d.handoff.unwrap().team.as_deref(), Some("billing"));
        let d = decide(&Config::default(), None, &intents(&[("human-request", 0.9)]));
        assert!(d.handoff.is_some());
        assert_eq!(d.reply.as_deref(), Some("Thanks, a teammate will text you back shortly."));
    }

    #[test]
    fn low_or_no_confidence_hands_off() {
        let d = decide(&Config::default(), None, &intents(&[("order-status", 0.3)]));
        assert!(d.handoff.unwrap().reason.contains("Low confidence"));
        let d = decide(&Config::default(), None, &[]);
        assert_eq!(d.handoff.unwrap().reason, "No intent recognised");
    }
}
