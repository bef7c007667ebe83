//! Consent, owned by the host: what an inbound text means for consent
//! (keywords and revocation in the customer's own words), the state derived
//! from the append-only ledger, quiet hours, and the outbound gate every send
//! passes. Pure logic: no SQL, no HTTP, no plugins — the pipeline, the outbox
//! and the CLI call it, and the property test drives it.

pub mod detector;
pub mod gate;
pub mod keywords;
pub mod ledger;
pub mod quiet;

pub use detector::{Check, Reason, Verdict, check};
pub use gate::{GateDecision, GateInput, Purpose, decide};
pub use keywords::{Keywords, normalize};
pub use ledger::{ConsentEvent, ConsentState, EventKind, Source};
pub use quiet::QuietHours;

/// The opt-out confirmation (FCC 47 CFR 64.1200(a)(12), CTIA): brand, no
/// more messages, how to opt back in; no marketing.
pub fn opt_out_confirmation(brand: &str) -> String {
    format!(
        "{brand}: You are unsubscribed and will receive no more messages from this number. Reply START to resubscribe."
    )
}

/// The disclosure version recorded with an opt-in by START: the text of
/// [`opt_in_confirmation`] (change the version when the text changes).
pub const SMS_OPT_IN_DISCLOSURE: &str = "sms-start-confirmation-v1";

/// The confirmation after START.
pub fn opt_in_confirmation(brand: &str) -> String {
    format!(
        "{brand}: You are subscribed again to customer support texts. Reply HELP for help, STOP to opt out. Msg & data rates may apply."
    )
}

/// The answer to HELP when a tenant configured none: brand, support
/// contact, how to opt out, rates.
pub fn default_help(brand: &str, contact: &str) -> String {
    format!(
        "{brand} customer support: text us at {contact} anytime. Reply STOP to opt out. Msg & data rates may apply."
    )
}

/// What the host does about consent with one inbound message, before any
/// plugin runs.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundConsent {
    /// The check behind it (keyword or rule).
    pub check: Check,
    /// The ledger event to append, with its purpose.
    pub event: Option<(EventKind, &'static str)>,
    /// A reply from the host itself (confirmation or HELP).
    pub reply: Option<(Purpose, String)>,
    /// Whether plugins may handle the message.
    pub continue_bot: bool,
    /// Why an agent should look (ambiguous text, or a message from an opted-out number).
    pub flag: Option<String>,
}

/// Texts about the tenant the host's own replies need.
#[derive(Debug, Clone)]
pub struct Brand<'a> {
    /// Brand name.
    pub name: &'a str,
    /// The configured HELP answer, if any.
    pub help_text: Option<&'a str>,
    /// How customers reach support (for the default HELP answer).
    pub support_contact: &'a str,
}

/// Decide the consent side of an inbound text, given the sender's state.
/// A STOP (or a detected revocation) ends the bot flow at once and is
/// confirmed once per opted-out period; START matters only to an opted-out
/// number (otherwise "yes" is an ordinary answer for the bot); HELP is
/// answered by the host; an ambiguous text goes to an agent.
pub fn on_inbound(text: &str, state: &ConsentState, keywords: &Keywords, brand: &Brand) -> InboundConsent {
    let check = check(text, keywords);
    let base = InboundConsent { check: check.clone(), event: None, reply: None, continue_bot: false, flag: None };
    match check.verdict {
        Verdict::OptOut => {
            let kind = if matches!(check.reason, Reason::Keyword(_)) {
                EventKind::OptOut
            } else {
                EventKind::RevocationDetected
            };
            let reply = (!state.opted_out).then(|| (Purpose::OptOutConfirmation, opt_out_confirmation(brand.name)));
            InboundConsent { event: Some((kind, "all")), reply, ..base }
        }
        Verdict::OptIn if state.opted_out => InboundConsent {
            event: Some((EventKind::OptIn, "informational")),
            reply: Some((Purpose::OptInConfirmation, opt_in_confirmation(brand.name))),
            ..base
        },
        Verdict::Help => {
            let text = match brand.help_text {
                Some(t) => t.to_string(),
                None => default_help(brand.name, brand.support_contact),
            };
            InboundConsent { event: Some((EventKind::Help, "all")), reply: Some((Purpose::Help, text)), ..base }
        }
        Verdict::Ambiguous => {
            let flag =
                format!("Possible opt-out ({}): confirm with the customer before any other message", check.reason);
            InboundConsent { flag: Some(flag), ..base }
        }
        _ if state.opted_out => InboundConsent {
            flag: Some("The customer is opted out: nothing can be sent until they text START".into()),
            ..base
        },
        _ => InboundConsent { continue_bot: true, ..base },
    }
}

/// A plugin may add an opt-out signal (an intent labelled `opt-out` with at
/// least this confidence); it can never remove one.
pub const PLUGIN_OPT_OUT_CONFIDENCE: f32 = 0.8;

/// The host's answer to a classifier's opt-out signal: a detected revocation,
/// confirmed once per opted-out period, and the end of the bot flow. `None`
/// when the intents carry no signal.
pub fn plugin_signal(intents: &[crate::domain::Intent], state: &ConsentState, brand: &str) -> Option<InboundConsent> {
    intents.iter().find(|i| i.label == "opt-out" && i.confidence >= PLUGIN_OPT_OUT_CONFIDENCE)?;
    Some(InboundConsent {
        check: Check { verdict: Verdict::OptOut, reason: Reason::Rule("plugin-signal") },
        event: Some((EventKind::RevocationDetected, "all")),
        reply: (!state.opted_out).then(|| (Purpose::OptOutConfirmation, opt_out_confirmation(brand))),
        continue_bot: false,
        flag: None,
    })
}
