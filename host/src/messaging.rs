//! Messaging: everything about SMS on the wire — provider webhook signatures,
//! card redaction of inbound text, segment math, providers, and the outbox
//! workers (the only way a message leaves).

pub mod outbox;
pub mod provider;
pub mod redact;
pub mod segments;
pub mod signature;
pub mod template;
