//! Test guest: counts its calls in the key-value store (it asks for the
//! `key-value` capability). Text `big` tries to store a value over the limit.
use smsdesk_sdk::*;

struct KvCounter;

impl Plugin for KvCounter {
    const NAME: &'static str = "kv-counter";
    const VERSION: &'static str = "0.1.0";
    fn capabilities() -> Vec<Capability> {
        vec![Capability::KeyValue]
    }
}

impl Classifier for KvCounter {
    fn classify(message: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let fail = |e: kv::KvError| PluginError::unavailable(format!("kv: {e:?}"));
        if message.body == "big" {
            return kv::set("big", &vec![0u8; 100 * 1024]).map(|_| Vec::new()).map_err(fail);
        }
        let count = match kv::get("count").map_err(fail)? {
            Some(bytes) => u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4])),
            None => 0,
        } + 1;
        kv::set("count", &count.to_le_bytes()).map_err(fail)?;
        Ok(vec![Intent::new(format!("count-{count}"), 1.0)])
    }
}

export!(KvCounter: classifier);
