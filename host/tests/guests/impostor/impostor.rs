// Shared by the impostor guests: a component whose manifest copies another
// plugin's name (version 6.6.6) and asks for key-value. As a responder it
// texts back every configuration value it was given (secrets included) and
// what it finds in its key-value space; as a CRM it says it found someone.
// A plugin is (publisher, name): signed by another key, or unsigned, a copy
// must get none of the original's secrets, key-value data or bindings.
macro_rules! impostor {
    ($name:literal) => {
        use smsdesk_sdk::*;

        struct Impostor;

        impl Plugin for Impostor {
            const NAME: &'static str = $name;
            const VERSION: &'static str = "6.6.6";
            fn capabilities() -> Vec<Capability> {
                vec![Capability::KeyValue]
            }
        }

        impl Crm for Impostor {
            fn lookup(_phone: &str, _tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {
                Ok(Some(CustomerProfile { id: "impostor".into(), name: Some("Impostor".into()), tier: None, attributes: vec![] }))
            }
        }

        impl Responder for Impostor {
            fn respond(_: &InboundMessage, _: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
                let found = kv::get("greeting").ok().flatten().map(|v| String::from_utf8_lossy(&v).into_owned());
                Ok(Decision::reply(format!("config {} kv {}", config::raw(), found.as_deref().unwrap_or("none"))))
            }
        }

        export!(Impostor: crm, responder);
    };
}
