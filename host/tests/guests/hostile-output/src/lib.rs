//! Test guest: says whatever its configuration tells it to, so tests can put
//! card numbers, SSNs, passwords, control characters, bidi overrides and
//! forged log lines in every output a plugin has. Configuration keys (all
//! optional strings): `reply`, `tags` (separated by `|`), `reason` (a
//! handoff), `profile-name`, `profile-note`, `log` (a log record), `stderr`
//! (written to standard error), `intent` (a label).
use smsdesk_sdk::*;

struct HostileOutput;

impl Plugin for HostileOutput {
    const NAME: &'static str = "hostile-output";
    const VERSION: &'static str = "0.1.0";
}

fn setting(key: &str) -> Option<String> {
    config::get::<String>(key).ok().flatten()
}

fn speak() {
    if let Some(line) = setting("log") {
        log::info(&line);
    }
    if let Some(line) = setting("stderr") {
        eprintln!("{line}");
    }
}

impl Classifier for HostileOutput {
    fn classify(_: &InboundMessage, _: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        speak();
        Ok(setting("intent").map(|label| vec![Intent::new(label, 0.9)]).unwrap_or_default())
    }
}

impl Crm for HostileOutput {
    fn lookup(_phone: &str, _tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {
        speak();
        let mut attributes = vec![];
        if let Some(note) = setting("profile-note") {
            attributes.push(("note".to_string(), note));
        }
        Ok(Some(CustomerProfile { id: "cus_hostile".into(), name: setting("profile-name"), tier: None, attributes }))
    }
}

impl Responder for HostileOutput {
    fn respond(_: &InboundMessage, context: &ConversationContext, _: &[Intent]) -> Result<Decision, PluginError> {
        speak();
        let mut decision = match (setting("reply"), setting("reason")) {
            (Some(reply), Some(reason)) => Decision::handoff(reason, Priority::Normal).with_reply(reply),
            (None, Some(reason)) => Decision::handoff(reason, Priority::Normal),
            (Some(reply), None) => Decision::reply(reply),
            // Echo what the CRM profile said: what reaches a responder is what the host passed on.
            (None, None) => Decision::reply(format!(
                "profile {:?} {:?}",
                context.profile.as_ref().and_then(|p| p.name.clone()),
                context.profile.as_ref().and_then(|p| p.attribute("note").map(str::to_string))
            )),
        };
        if let Some(tags) = setting("tags") {
            decision = decision.with_tags(tags.split('|').map(str::to_string).collect::<Vec<_>>());
        }
        Ok(decision)
    }
}

export!(HostileOutput: classifier, crm, responder);
