//! Messaging: provider webhooks' signatures, redaction of inbound text, and
//! segment math. (Providers and the outbox join here.)

pub mod redact;
pub mod segments;
pub mod signature;
