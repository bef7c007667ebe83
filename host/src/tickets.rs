//! Tickets, pure logic: statuses and what may follow what, references,
//! SLA targets, CSAT answers, canned responses, and each tenant's ticket
//! settings ([`TicketsConfig`]). Storage is in `store/tickets.rs`; the agent
//! API in `http/agents.rs`.
//!
//! A conversation *is* a ticket: the host opens one when a customer writes
//! and none is active, and the customer's next message within the reopen
//! window reopens a resolved one.

pub mod hours;
pub mod rules;

use crate::domain::Priority;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use hours::BusinessHours;

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Needs an answer.
    Open,
    /// Waiting on the customer (their reply makes it open again).
    Pending,
    /// Put aside until a time (then, or at the customer's reply, open again).
    Snoozed,
    /// Done; the customer's reply within the reopen window reopens it.
    Resolved,
    /// Done for good; a new message opens a new ticket.
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] = [Status::Open, Status::Pending, Status::Snoozed, Status::Resolved, Status::Closed];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Snoozed => "snoozed",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Still being worked on (new customer messages land here).
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::Pending | Status::Snoozed)
    }
}

/// Priority as stored.
pub fn priority_str(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

/// Priority from its stored name.
pub fn parse_priority(s: &str) -> Option<Priority> {
    Some(match s {
        "low" => Priority::Low,
        "normal" => Priority::Normal,
        "high" => Priority::High,
        "urgent" => Priority::Urgent,
        _ => return None,
    })
}

/// `PREFIX-N`, the reference agents and customers quote.
pub fn reference(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number}")
}

/// The number in a reference (`DEMO-12` with prefix `DEMO` → 12); case-insensitive.
pub fn parse_reference(prefix: &str, text: &str) -> Option<i64> {
    let (p, n) = text.trim().rsplit_once('-')?;
    if !p.eq_ignore_ascii_case(prefix) {
        return None;
    }
    n.parse().ok().filter(|n| *n > 0)
}

/// A CSAT answer: a lone digit 1–5, maybe with a little punctuation or
/// words around it ("5", "5!", "4 stars", "I'd say 3"). Anything with
/// more than one digit, or longer than a short answer, is not a rating.
pub fn parse_rating(body: &str) -> Option<u8> {
    let text = body.trim();
    if text.chars().count() > 24 {
        return None;
    }
    let digits: Vec<char> = text.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.as_slice() {
        [d] if ('1'..='5').contains(d) => Some(*d as u8 - b'0'),
        _ => None,
    }
}

/// Minutes per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerPriority {
    /// Urgent.
    pub urgent: i64,
    /// High.
    pub high: i64,
    /// Normal.
    pub normal: i64,
    /// Low.
    pub low: i64,
}

impl PerPriority {
    /// The value for `p`.
    pub fn get(&self, p: Priority) -> i64 {
        match p {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }
}

/// SLA targets in business minutes, per priority.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// From the handoff to the first human reply.
    #[serde(default = "default_first_response")]
    pub first_response: PerPriority,
    /// From the handoff to resolution.
    #[serde(default = "default_resolution")]
    pub resolution: PerPriority,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig { first_response: default_first_response(), resolution: default_resolution() }
    }
}

fn default_first_response() -> PerPriority {
    PerPriority { urgent: 15, high: 30, normal: 60, low: 240 }
}
fn default_resolution() -> PerPriority {
    PerPriority { urgent: 120, high: 240, normal: 480, low: 1440 }
}

/// When a survey goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CsatOn {
    /// Never.
    Off,
    /// When an agent resolves a ticket (the default).
    Agent,
    /// Whenever a ticket is resolved, by an agent or by automation.
    All,
}

/// The satisfaction survey.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CsatConfig {
    /// When it is sent.
    #[serde(default = "default_csat_on")]
    pub on: CsatOn,
    /// Its text.
    #[serde(default = "default_csat_text")]
    pub text: String,
}

impl Default for CsatConfig {
    fn default() -> Self {
        CsatConfig { on: default_csat_on(), text: default_csat_text() }
    }
}

fn default_csat_on() -> CsatOn {
    CsatOn::Agent
}
fn default_csat_text() -> String {
    "How did we do? Reply 1-5 (5 = great).".into()
}

/// A tenant's helpdesk settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsConfig {
    /// Reference prefix (default: the tenant id in capitals).
    #[serde(default)]
    pub prefix: Option<String>,
    /// A customer's reply within this many hours reopens a resolved ticket;
    /// after it the ticket is closed and a new one opens.
    #[serde(default = "default_reopen_hours")]
    pub reopen_window_hours: i64,
    /// When the team works, in the tenant's time zone (`"mon-fri 09:00-17:00"`, `"24/7"`).
    #[serde(default = "default_hours")]
    pub business_hours: Vec<String>,
    /// Whole days the team is off, in the tenant's time zone
    /// (`"2026-12-25"`, or with a name: `"2026-12-25 Christmas Day"`): SLA
    /// clocks stop and the after-hours notice names the day people are back.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Sent once per handoff that happens outside business hours (never
    /// while a bot handles the conversation); `{next_open}` is replaced by
    /// when the team is back. An empty text turns it off.
    #[serde(default = "default_after_hours")]
    pub after_hours_reply: String,
    /// SLA targets.
    #[serde(default)]
    pub sla: SlaConfig,
    /// The satisfaction survey.
    #[serde(default)]
    pub csat: CsatConfig,
    /// Canned responses by name: text with `{customer_name}`, `{order_id}`,
    /// `{reference}`, `{agent_name}`, `{brand}` (and any CRM attribute).
    #[serde(default)]
    pub canned: BTreeMap<String, String>,
}

impl Default for TicketsConfig {
    fn default() -> Self {
        TicketsConfig {
            prefix: None,
            reopen_window_hours: default_reopen_hours(),
            business_hours: default_hours(),
            holidays: Vec::new(),
            after_hours_reply: default_after_hours(),
            sla: SlaConfig::default(),
            csat: CsatConfig::default(),
            canned: BTreeMap::new(),
        }
    }
}

fn default_reopen_hours() -> i64 {
    72
}
fn default_hours() -> Vec<String> {
    vec![hours::DEFAULT_HOURS.to_string()]
}
fn default_after_hours() -> String {
    "Thanks for your message. Our team is away right now and will answer from {next_open}.".into()
}

/// Variables a canned response can use, from the ticket and the CRM profile.
pub fn canned_variables(
    profile: Option<&serde_json::Value>,
    reference: &str,
    agent_name: &str,
    brand: &str,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    if let Some(p) = profile {
        if let Some(name) = p.get("name").and_then(|v| v.as_str()) {
            vars.insert("customer_name".to_string(), name.to_string());
            if let Some(first) = name.split_whitespace().next() {
                vars.insert("first_name".to_string(), first.to_string());
            }
        }
        // Attributes are `[[key, value], …]` (as the host stores profiles) or an object.
        let mut attributes: Vec<(String, String)> = Vec::new();
        match p.get("attributes") {
            Some(serde_json::Value::Array(pairs)) => {
                for pair in pairs {
                    if let (Some(k), Some(v)) = (pair.get(0).and_then(|k| k.as_str()), pair.get(1)) {
                        attributes
                            .push((k.to_string(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
                    }
                }
            }
            Some(serde_json::Value::Object(map)) => {
                for (k, v) in map {
                    attributes.push((k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
                }
            }
            _ => {}
        }
        for (k, v) in attributes {
            let key = k.replace('-', "_");
            if key == "last_order_id" || key == "order_id" {
                vars.entry("order_id".to_string()).or_insert_with(|| v.clone());
            }
            vars.entry(key).or_insert(v);
        }
    }
    vars.insert("reference".into(), reference.to_string());
    vars.insert("agent_name".into(), agent_name.to_string());
    vars.insert("brand".into(), brand.to_string());
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_a_lone_digit() {
        for (text, want) in [
            ("5", Some(5)),
            (" 1 ", Some(1)),
            ("4!", Some(4)),
            ("3 stars", Some(3)),
            ("I'd say 2", Some(2)),
            ("0", None),
            ("6", None),
            ("10", None),
            ("12345", None),
            ("my order 5 never arrived and I am upset", None),
            ("thanks", None),
        ] {
            assert_eq!(parse_rating(text), want, "{text:?}");
        }
    }

    #[test]
    fn references_round_trip() {
        assert_eq!(reference("DEMO", 12), "DEMO-12");
        assert_eq!(parse_reference("DEMO", "demo-12"), Some(12));
        assert_eq!(parse_reference("DEMO", "ACME-12"), None);
        assert_eq!(parse_reference("DEMO", "DEMO-0"), None);
        assert_eq!(parse_reference("MY-BRAND", "MY-BRAND-7"), Some(7));
    }

    #[test]
    fn canned_variables_come_from_the_profile() {
        let profile = serde_json::json!({"name": "Dana Cruz", "attributes": {"order-id": "A-1001", "tier": "gold"}});
        let vars = canned_variables(Some(&profile), "DEMO-3", "Ana", "Demo");
        assert_eq!(vars["customer_name"], "Dana Cruz");
        assert_eq!(vars["first_name"], "Dana");
        assert_eq!(vars["order_id"], "A-1001");
        assert_eq!(vars["reference"], "DEMO-3");
        // As the host stores a CRM profile.
        let stored = serde_json::json!({"id": "c1", "name": "Sam", "attributes": [["last-order-id", "1042"]]});
        let vars = canned_variables(Some(&stored), "DEMO-4", "Ana", "Demo");
        assert_eq!(vars["order_id"], "1042");
        assert_eq!(vars["last_order_id"], "1042");
    }
}
