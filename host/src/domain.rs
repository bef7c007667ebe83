//! Domain types the host works with: messages, conversations, profiles,
//! intents and decisions. Plugins see these through the WIT contract; the
//! conversion happens at the edge of `plugins/`, so nothing else knows WIT.

use serde::{Deserialize, Serialize};

/// A text a customer sent to a tenant's number, as plugins see it (redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The host's id of the stored message.
    pub id: String,
    /// The tenant it was sent to.
    pub tenant: String,
    /// The customer's number (E.164).
    pub from: String,
    /// The tenant's number that received it.
    pub to: String,
    /// The redacted text.
    pub body: String,
    /// RFC 3339 receive time in UTC.
    pub received_at: String,
    /// MMS media URLs.
    pub media_urls: Vec<String>,
}

/// Who wrote a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Author {
    /// The customer.
    Customer,
    /// Automation.
    Bot,
    /// A human agent.
    Agent,
    /// The host itself.
    System,
}

/// One earlier message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Who wrote it.
    pub author: Author,
    /// The text.
    pub body: String,
    /// RFC 3339 time.
    pub at: String,
}

/// What a CRM knows about a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerProfile {
    /// The CRM's id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Tier or segment.
    pub tier: Option<String>,
    /// Further facts.
    pub attributes: Vec<(String, String)>,
}

/// The conversation around a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationContext {
    /// The conversation id.
    pub conversation_id: String,
    /// Earlier turns, oldest first.
    pub history: Vec<Turn>,
    /// The CRM profile, if any.
    pub profile: Option<CustomerProfile>,
}

/// A label with confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Kebab-case label.
    pub label: String,
    /// 0.0..=1.0.
    pub confidence: f32,
}

/// Urgency of a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priority {
    /// Whenever an agent is free.
    Low,
    /// The usual queue.
    Normal,
    /// Ahead of the queue.
    High,
    /// Now.
    Urgent,
}

/// A request for a human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// Why.
    pub reason: String,
    /// How urgent.
    pub priority: Priority,
    /// Which team, if not the default queue.
    pub team: Option<String>,
}

/// What a responder decided. The default is "no action".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Text to send.
    pub reply: Option<String>,
    /// Hand to a human.
    pub handoff: Option<Handoff>,
    /// Tags to add.
    pub add_tags: Vec<String>,
    /// Resolve the conversation.
    pub resolve: bool,
}

/// A role a plugin can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Labels messages with intents.
    Classifier,
    /// Looks customers up.
    Crm,
    /// Decides what happens.
    Responder,
}

impl Role {
    /// All roles in canonical order.
    pub const ALL: [Role; 3] = [Role::Classifier, Role::Crm, Role::Responder];

    /// The role's WIT name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Classifier => "classifier",
            Role::Crm => "crm",
            Role::Responder => "responder",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "classifier" => Ok(Role::Classifier),
            "crm" => Ok(Role::Crm),
            "responder" => Ok(Role::Responder),
            other => Err(format!("unknown role `{other}` (expected classifier, crm or responder)")),
        }
    }
}

/// A capability a plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum Capability {
    /// The key-value store.
    KeyValue,
    /// Outbound HTTP to a host.
    OutboundHttp(String),
    /// Unmasked phone numbers.
    RawPhoneNumbers,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Capability::KeyValue => f.write_str("key-value"),
            Capability::OutboundHttp(host) => write!(f, "outbound-http:{host}"),
            Capability::RawPhoneNumbers => f.write_str("raw-phone-numbers"),
        }
    }
}

/// A phone number as a plugin without the `raw-phone-numbers` capability
/// sees it: every digit but the last four replaced by `*`
/// (`+15551234567` → `+*******4567`). Enough to tell customers apart in a
/// conversation, not enough to call or text them.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(|c| c.is_ascii_digit()).count();
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= digits.saturating_sub(4) { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

/// What a plugin says about itself, checked by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Kebab-case name.
    pub name: String,
    /// Version.
    pub version: String,
    /// One line.
    pub description: String,
    /// Roles it claims (the host checks them against the exports).
    pub roles: Vec<Role>,
    /// Capabilities it asks for.
    pub capabilities: Vec<Capability>,
}

/// A phone number in E.164 form: `+` and 8 to 15 digits, first digit not 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Parse a number; spaces, dashes, dots and parentheses are dropped first.
    pub fn parse(raw: &str) -> Result<E164, String> {
        let cleaned: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let digits =
            cleaned.strip_prefix('+').ok_or_else(|| format!("`{raw}` is not an E.164 number (+ and digits)"))?;
        let ok =
            (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0');
        if !ok {
            return Err(format!("`{raw}` is not an E.164 number (+ and 8 to 15 digits)"));
        }
        Ok(E164(cleaned))
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for E164 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        E164::parse(&s)
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masked_numbers_keep_the_last_four_digits() {
        assert_eq!(mask_phone("+15551234567"), "+*******4567");
        assert_eq!(mask_phone("+442071838750"), "+********8750");
        assert_eq!(mask_phone("123"), "123");
    }

    use super::*;

    #[test]
    fn e164_parsing() {
        assert_eq!(E164::parse("+1 (555) 123-4567").unwrap().as_str(), "+15551234567");
        assert!(E164::parse("5551234567").is_err());
        assert!(E164::parse("+0123456789").is_err());
        assert!(E164::parse("+1555").is_err());
        assert!(E164::parse("+1555123456789012").is_err());
        assert!(E164::parse("+1555abc4567").is_err());
    }
}
