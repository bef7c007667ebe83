//! The consent ledger's events and the state derived from them. The ledger
//! is append-only (the store refuses updates and deletes); the current state
//! of a number is never stored, it is folded from its events every time.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Consent given (START, or express consent recorded through the API or an import).
    OptIn,
    /// An opt-out keyword.
    OptOut,
    /// HELP was asked.
    Help,
    /// The detector (or a plugin signal) found a revocation in the customer's own words.
    RevocationDetected,
    /// The provider reported the number opted out (Twilio error 21610).
    ProviderOptOut,
}

impl EventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OptIn => "opt-in",
            EventKind::OptOut => "opt-out",
            EventKind::Help => "help",
            EventKind::RevocationDetected => "revocation-detected",
            EventKind::ProviderOptOut => "provider-opt-out",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "opt-in" => EventKind::OptIn,
            "opt-out" => EventKind::OptOut,
            "help" => EventKind::Help,
            "revocation-detected" => EventKind::RevocationDetected,
            "provider-opt-out" => EventKind::ProviderOptOut,
            _ => return None,
        })
    }

    /// Does this event stop messages?
    pub fn revokes(self) -> bool {
        matches!(self, EventKind::OptOut | EventKind::RevocationDetected | EventKind::ProviderOptOut)
    }
}

/// Who or what the evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The customer's own message.
    Customer,
    /// A support agent recorded it.
    Agent,
    /// The API.
    Api,
    /// An import of existing consent records.
    Import,
    /// The provider (error 21610).
    Provider,
}

impl Source {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Customer => "customer",
            Source::Agent => "agent",
            Source::Api => "api",
            Source::Import => "import",
            Source::Provider => "provider",
        }
    }
}

/// What consent covers. Opt-outs cover everything (`all`): one revocation
/// stops every program of the tenant.
pub const PURPOSES: &[&str] = &["all", "informational", "promotional"];

/// One ledger record, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsentEvent {
    /// Ledger id (order of events).
    pub id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// The contact's number.
    pub phone: String,
    /// The program: the tenant number or Messaging Service it concerns.
    pub program: String,
    /// `all`, `informational` or `promotional`.
    pub purpose: String,
    /// What happened.
    pub event: EventKind,
    /// Where the evidence comes from.
    pub source: Source,
    /// The keyword or detector rule (or provider error code).
    pub matched: Option<String>,
    /// The inbound message that carried it.
    pub message_id: Option<i64>,
    /// The exact text.
    pub text: Option<String>,
    /// The version of the disclosure shown when consent was given.
    pub disclosure_version: Option<String>,
    /// When (ms).
    pub created_at: i64,
}

/// The state of one number, folded from its events in ledger order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentState {
    /// No message may go to the number (but the one confirmation).
    pub opted_out: bool,
    /// The inbound message whose opt-out began the current opted-out period
    /// (the one a confirmation may answer); `None` for provider opt-outs.
    pub opted_out_by_message: Option<i64>,
    /// Express consent to informational messages.
    pub informational: bool,
    /// Express written consent to promotional messages.
    pub promotional: bool,
}

impl ConsentState {
    /// Fold events (oldest first).
    pub fn derive<'a>(events: impl IntoIterator<Item = &'a ConsentEvent>) -> ConsentState {
        let mut state = ConsentState::default();
        for e in events {
            state.apply(e.event, &e.purpose, e.message_id);
        }
        state
    }

    /// Apply one event.
    pub fn apply(&mut self, event: EventKind, purpose: &str, message_id: Option<i64>) {
        match event {
            e if e.revokes() => {
                if !self.opted_out {
                    self.opted_out = true;
                    self.opted_out_by_message = message_id;
                }
                self.informational = false;
                self.promotional = false;
            }
            EventKind::OptIn => {
                self.opted_out = false;
                self.opted_out_by_message = None;
                match purpose {
                    "promotional" => {
                        self.promotional = true;
                        self.informational = true;
                    }
                    "informational" | "all" => self.informational = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The ledger as CSV (RFC 4180: a header line, quoted fields, CRLF line ends).
pub fn to_csv(events: &[ConsentEvent]) -> String {
    fn field(s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
    let mut out = String::from(
        "id,tenant,contact,program,purpose,event,source,matched,message_id,text,disclosure_version,recorded_at\r\n",
    );
    for e in events {
        let at = jiff::Timestamp::from_millisecond(e.created_at).map(|t| t.to_string()).unwrap_or_default();
        let cells = [
            e.id.to_string(),
            field(&e.tenant_id),
            field(&e.phone),
            field(&e.program),
            field(&e.purpose),
            e.event.as_str().to_string(),
            e.source.as_str().to_string(),
            field(e.matched.as_deref().unwrap_or("")),
            e.message_id.map(|m| m.to_string()).unwrap_or_default(),
            field(e.text.as_deref().unwrap_or("")),
            field(e.disclosure_version.as_deref().unwrap_or("")),
            at,
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The ledger as JSON: every event with its evidence and time, and the state
/// each contact is in now.
pub fn to_json(tenant: &str, events: &[ConsentEvent]) -> serde_json::Value {
    let mut contacts: Vec<&str> = events.iter().map(|e| e.phone.as_str()).collect();
    contacts.sort();
    contacts.dedup();
    let states: serde_json::Map<String, serde_json::Value> = contacts
        .iter()
        .map(|c| {
            let s = ConsentState::derive(events.iter().filter(|e| e.phone == *c));
            let v = serde_json::json!({
                "opted_out": s.opted_out,
                "informational": s.informational,
                "promotional": s.promotional,
            });
            (c.to_string(), v)
        })
        .collect();
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            let at = jiff::Timestamp::from_millisecond(e.created_at).map(|t| t.to_string()).unwrap_or_default();
            v["recorded_at"] = serde_json::Value::String(at);
            v
        })
        .collect();
    serde_json::json!({ "tenant": tenant, "events": events, "current": states })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, kind: EventKind, purpose: &str) -> ConsentEvent {
        ConsentEvent {
            id,
            tenant_id: "t".into(),
            phone: "+15551234567".into(),
            program: "+15557650100".into(),
            purpose: purpose.into(),
            event: kind,
            source: Source::Customer,
            matched: None,
            message_id: Some(id * 10),
            text: None,
            disclosure_version: None,
            created_at: id,
        }
    }

    #[test]
    fn state_follows_the_ledger() {
        let none = ConsentState::derive(&[]);
        assert!(!none.opted_out && !none.informational && !none.promotional);
        let events = [event(1, EventKind::OptIn, "promotional"), event(2, EventKind::Help, "all")];
        let s = ConsentState::derive(&events);
        assert!(s.promotional && s.informational && !s.opted_out);
        let events = [event(1, EventKind::OptIn, "promotional"), event(2, EventKind::OptOut, "all")];
        let s = ConsentState::derive(&events);
        assert!(s.opted_out && !s.informational && !s.promotional);
        assert_eq!(s.opted_out_by_message, Some(20));
        // A second STOP does not move the start of the period.
        let events = [event(2, EventKind::OptOut, "all"), event(3, EventKind::RevocationDetected, "all")];
        assert_eq!(ConsentState::derive(&events).opted_out_by_message, Some(20));
        let events = [event(2, EventKind::OptOut, "all"), event(3, EventKind::OptIn, "informational")];
        let s = ConsentState::derive(&events);
        assert!(!s.opted_out && s.informational && !s.promotional);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut e = event(1, EventKind::OptOut, "all");
        e.text = Some("stop, \"now\"".into());
        let csv = to_csv(&[e]);
        let line = csv.lines().nth(1).unwrap();
        assert!(line.starts_with("1,\"t\",\"+15551234567\",\"+15557650100\",\"all\",opt-out,customer,"), "{line}");
        assert!(line.contains("\"stop, \"\"now\"\"\""), "{line}");
        assert!(line.ends_with("1970-01-01T00:00:00.001Z"), "{line}");
    }
}
