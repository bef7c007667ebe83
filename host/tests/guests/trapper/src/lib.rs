//! Test guest: panics when the text is "panic", otherwise executes `unreachable`.
use smsdesk_sdk::*;

struct Trapper;

impl Plugin for Trapper {
    const NAME: &'static str = "trapper";
    const VERSION: &'static str = "0.1.0";
}

impl Classifier for Trapper {
    fn classify(message: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        if message.body == "panic" {
            panic!("the trapper guest panicked on purpose");
        }
        #[cfg(target_arch = "wasm32")]
        core::arch::wasm32::unreachable();
        #[cfg(not(target_arch = "wasm32"))]
        unreachable!("only traps on wasm32");
    }
}

export!(Trapper: classifier);
