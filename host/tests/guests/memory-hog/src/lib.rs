//! Test guest: allocates without bound in `classify`.
use smsdesk_sdk::*;

struct MemoryHog;

impl Plugin for MemoryHog {
    const NAME: &'static str = "memory-hog";
    const VERSION: &'static str = "0.1.0";
}

impl Classifier for MemoryHog {
    fn classify(_: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
            if std::hint::black_box(hoard.len()) == usize::MAX {
                return Ok(Vec::new());
            }
        }
    }
}

export!(MemoryHog: classifier);
