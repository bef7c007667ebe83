//! Test guest: answers with the sender's number as it sees it. It does not
//! ask for `raw-phone-numbers`, so the host shows it the number masked.
use smsdesk_sdk::*;

struct EchoFrom;

impl Plugin for EchoFrom {
    const NAME: &'static str = "echo-from";
    const VERSION: &'static str = "0.1.0";
}

impl Responder for EchoFrom {
    fn respond(message: &InboundMessage, _: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
        Ok(Decision::reply(format!("you are {}", message.from)))
    }
}

export!(EchoFrom: responder);
