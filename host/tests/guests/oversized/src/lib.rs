//! Test guest: returns more than the host accepts.
use smsdesk_sdk::*;

struct Oversized;

impl Plugin for Oversized {
    const NAME: &'static str = "oversized";
    const VERSION: &'static str = "0.1.0";
}

impl Classifier for Oversized {
    fn classify(_: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        Ok((0..1000).map(|i| Intent::new(format!("intent-{i}"), 0.5)).collect())
    }
}

impl Responder for Oversized {
    fn respond(_: &InboundMessage, _: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
        Ok(Decision::reply("x".repeat(5000)))
    }
}

export!(Oversized: classifier, responder);
