//! Test guest: exports only a manifest, no role. The host must reject it.
#![cfg(target_arch = "wasm32")]
wit_bindgen::generate!({ world: "plugin", path: "../../../../wit/v0.1.0" });

use smsdesk::plugin::types::PluginInfo;

struct NoRoles;

impl exports::smsdesk::plugin::manifest::Guest for NoRoles {
    fn get() -> PluginInfo {
        PluginInfo {
            name: "no-roles".into(),
            version: "0.1.0".into(),
            description: "exports nothing useful".into(),
            roles: vec![],
            capabilities: vec![],
        }
    }
}

export!(NoRoles);
