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
    format!("{brand}: You are unsubscribed and will receive no more messages from this number. Reply START to resubscribe.")
}

/// The confirmation after START.
pub fn opt_in_confirmation(brand: &str) -> String {
    format!("{brand}: You are subscribed again to customer support texts. Reply HELP for help, STOP to opt out. Msg & data rates may apply.")
}

/// The answer to HELP when a tenant configured none: brand, support
/// contact, how to opt out, rates.
pub fn default_help(brand: &str, contact: &str) -> String {
    format!("{brand} customer support: text us at {contact} anytime. Reply STOP to opt out. Msg & data rates may apply.")
}
