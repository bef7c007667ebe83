//! Test guest: loops forever in `classify` and `respond`.
use smsdesk_sdk::*;

struct Looper;

impl Plugin for Looper {
    const NAME: &'static str = "looper";
    const VERSION: &'static str = "0.1.0";
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Classifier for Looper {
    fn classify(_: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        spin()
    }
}

impl Responder for Looper {
    fn respond(_: &InboundMessage, _: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
        spin()
    }
}

export!(Looper: classifier, responder);
