//! Test guest: version 2.0.0 of the responder `greeter`, for install,
//! upgrade and rollback tests. It answers every message with its version, so
//! a test can tell which version served a message.
use smsdesk_sdk::*;

struct Greeter;

impl Plugin for Greeter {
    const NAME: &'static str = "greeter";
    const VERSION: &'static str = "2.0.0";
    // Asks for more than 1.0.0 did: upgrading needs the admin's approval.
    fn capabilities() -> Vec<Capability> {
        vec![Capability::OutboundHttp("crm.example.com".into())]
    }
}

impl Responder for Greeter {
    fn respond(message: &InboundMessage, _: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
        let greeting: String = config::get("greeting")?.unwrap_or_else(|| "hello".to_string());
        Ok(Decision::reply(format!("greeter {}: {greeting} ({})", Self::VERSION, message.body)))
    }
}

export!(Greeter: responder);
