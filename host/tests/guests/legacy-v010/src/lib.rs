//! Test guest: a plugin built against the frozen contract `0.1.0` with plain
//! `wit-bindgen` (no SDK), kept so a host that runs newer contracts is seen to
//! still load and run it: classifier and responder, using the 0.1.0
//! `config`, `logging` and `kv` imports.
#![cfg(target_arch = "wasm32")]
wit_bindgen::generate!({ world: "classifier-responder-plugin", path: "../../../../wit/v0.1.0" });

use smsdesk::plugin::types::{
    Capability, ConversationContext, Decision, InboundMessage, Intent, PluginError, PluginInfo, Role,
};
use smsdesk::plugin::{config, kv, logging};

struct Legacy;

impl exports::smsdesk::plugin::manifest::Guest for Legacy {
    fn get() -> PluginInfo {
        PluginInfo {
            name: "legacy-v010".into(),
            version: "0.1.0".into(),
            description: "built against smsdesk:plugin@0.1.0".into(),
            roles: vec![Role::Classifier, Role::Responder],
            capabilities: vec![Capability::KeyValue],
        }
    }
}

impl exports::smsdesk::plugin::classifier::Guest for Legacy {
    fn classify(message: InboundMessage, _: ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let mut intents = Vec::new();
        if message.body.to_lowercase().contains("hello") {
            intents.push(Intent { label: "greeting".into(), confidence: 0.9 });
        }
        Ok(intents)
    }
}

impl exports::smsdesk::plugin::responder::Guest for Legacy {
    fn respond(_: InboundMessage, _: ConversationContext, intents: Vec<Intent>) -> Result<Decision, PluginError> {
        let calls = match kv::get("calls") {
            Ok(Some(v)) => String::from_utf8_lossy(&v).parse::<u32>().unwrap_or(0) + 1,
            Ok(None) => 1,
            Err(_) => 0,
        };
        let _ = kv::set("calls", calls.to_string().as_bytes());
        let greeting = config::get("greeting").unwrap_or_else(|| "\"hi\"".into());
        let greeting = greeting.trim_matches('"').to_string();
        logging::log(logging::Level::Info, "legacy responder answered", &[("calls".into(), calls.to_string())]);
        let label = intents.first().map(|i| i.label.clone()).unwrap_or_else(|| "none".into());
        Ok(Decision {
            reply: Some(format!("{greeting} from 0.1.0 ({label}, call {calls})")),
            handoff: None,
            add_tags: vec![],
            resolve: false,
        })
    }
}

export!(Legacy);
