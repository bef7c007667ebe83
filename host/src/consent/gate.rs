//! The outbound gate: the outbox asks it about every send, right before the
//! provider call. Nothing goes to an opted-out number except the single
//! confirmation of that opt-out; informational messages need express consent,
//! promotional ones express written consent; proactive traffic respects
//! quiet hours and frequency caps by waiting, not by being dropped.

use super::ledger::ConsentState;
use super::quiet::QuietHours;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// What a message is, for consent (the outbox's `category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A reply inside a conversation the customer started (implied consent).
    Conversational,
    /// A proactive update: shipping delay, failed payment, appointment.
    Informational,
    /// Marketing.
    Promotional,
    /// The one confirmation of an opt-out.
    OptOutConfirmation,
    /// The confirmation of START.
    OptInConfirmation,
    /// The answer to HELP.
    Help,
}

impl Purpose {
    /// The stored category.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Conversational => "conversational",
            Purpose::Informational => "informational",
            Purpose::Promotional => "promotional",
            Purpose::OptOutConfirmation => "opt-out-confirmation",
            Purpose::OptInConfirmation => "opt-in-confirmation",
            Purpose::Help => "help",
        }
    }

    /// From the stored category.
    pub fn parse(s: &str) -> Option<Purpose> {
        Some(match s {
            "conversational" => Purpose::Conversational,
            "informational" => Purpose::Informational,
            "promotional" => Purpose::Promotional,
            "opt-out-confirmation" => Purpose::OptOutConfirmation,
            "opt-in-confirmation" => Purpose::OptInConfirmation,
            "help" => Purpose::Help,
            _ => return None,
        })
    }

    /// Proactive traffic: quiet hours and frequency caps apply.
    pub fn proactive(self) -> bool {
        matches!(self, Purpose::Informational | Purpose::Promotional)
    }
}

/// Everything the gate looks at for one send.
#[derive(Debug, Clone)]
pub struct GateInput<'a> {
    /// What the message is.
    pub purpose: Purpose,
    /// The recipient's consent, derived from the ledger.
    pub state: &'a ConsentState,
    /// For a confirmation: the inbound opt-out message it answers.
    pub answers_message: Option<i64>,
    /// Now.
    pub now: Timestamp,
    /// The recipient's possible time zones (one when known).
    pub zones: &'a [TimeZone],
    /// The tenant's allowed window.
    pub quiet_hours: &'a QuietHours,
    /// When proactive messages on the same subject went to this recipient in
    /// the last 24 hours (ms).
    pub recent_same_subject: &'a [i64],
    /// Most proactive messages on one subject per 24 hours.
    pub frequency_cap: usize,
    /// Not to be sent after this (ms).
    pub expires_at: Option<i64>,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateDecision {
    /// Send now.
    Send,
    /// Never send; the reason is recorded.
    Block(String),
    /// Try again at `until` (ms); the reason is recorded.
    Defer {
        /// When it may go.
        until: i64,
        /// Why it waits.
        reason: String,
    },
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Decide one send.
pub fn decide(input: &GateInput) -> GateDecision {
    let now_ms = input.now.as_millisecond();
    if let Some(expires) = input.expires_at
        && now_ms > expires
    {
        return GateDecision::Block("its validity period ended before it could be sent".into());
    }
    let state = input.state;
    if state.opted_out {
        return match input.purpose {
            Purpose::OptOutConfirmation
                if input.answers_message.is_some() && input.answers_message == state.opted_out_by_message =>
            {
                GateDecision::Send
            }
            Purpose::OptOutConfirmation => GateDecision::Block("the recipient's opt-out was already confirmed".into()),
            _ => GateDecision::Block("the recipient opted out".into()),
        };
    }
    match input.purpose {
        Purpose::OptOutConfirmation => {
            return GateDecision::Block("the recipient opted in again before the confirmation went out".into());
        }
        Purpose::Informational if !state.informational => {
            return GateDecision::Block("no express consent to informational messages".into());
        }
        Purpose::Promotional if !state.promotional => {
            return GateDecision::Block("no express written consent to promotional messages".into());
        }
        _ => {}
    }
    if !input.purpose.proactive() {
        return GateDecision::Send;
    }
    match input.quiet_hours.next_allowed(input.now, input.zones) {
        Some(t) if t == input.now => {}
        Some(t) => {
            let zones: Vec<&str> = input.zones.iter().filter_map(|z| z.iana_name()).collect();
            return GateDecision::Defer {
                until: t.as_millisecond(),
                reason: format!("quiet hours ({}) in {}", input.quiet_hours.name, zones.join(", ")),
            };
        }
        None => return GateDecision::Block("no time is inside quiet hours in every candidate zone".into()),
    }
    let recent: Vec<i64> = input.recent_same_subject.iter().copied().filter(|t| now_ms - t < DAY_MS).collect();
    if recent.len() >= input.frequency_cap {
        let mut sorted = recent;
        sorted.sort();
        let frees_at = sorted[sorted.len() - input.frequency_cap] + DAY_MS;
        return GateDecision::Defer {
            until: frees_at,
            reason: format!("frequency cap: {} on this subject in 24 hours", input.frequency_cap),
        };
    }
    GateDecision::Send
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(purpose: Purpose, state: &'a ConsentState, zones: &'a [TimeZone], q: &'a QuietHours) -> GateInput<'a> {
        GateInput {
            purpose,
            state,
            answers_message: None,
            now: "2026-11-27T17:00:00Z".parse().unwrap(), // 12:00 in New York
            zones,
            quiet_hours: q,
            recent_same_subject: &[],
            frequency_cap: 3,
            expires_at: None,
        }
    }

    #[test]
    fn opted_out_numbers_get_only_their_one_confirmation() {
        let zones = [TimeZone::get("America/New_York").unwrap()];
        let q = QuietHours::default();
        let out = ConsentState { opted_out: true, opted_out_by_message: Some(7), ..Default::default() };
        for p in [Purpose::Conversational, Purpose::Informational, Purpose::Promotional, Purpose::Help] {
            assert!(matches!(decide(&input(p, &out, &zones, &q)), GateDecision::Block(_)), "{p:?}");
        }
        let mut confirm = input(Purpose::OptOutConfirmation, &out, &zones, &q);
        confirm.answers_message = Some(7);
        assert_eq!(decide(&confirm), GateDecision::Send);
        confirm.answers_message = Some(8);
        assert!(matches!(decide(&confirm), GateDecision::Block(_)));
    }

    #[test]
    fn consent_levels_and_proactive_rules() {
        let zones = [TimeZone::get("America/New_York").unwrap()];
        let q = QuietHours::default();
        let none = ConsentState::default();
        assert_eq!(decide(&input(Purpose::Conversational, &none, &zones, &q)), GateDecision::Send);
        assert!(matches!(decide(&input(Purpose::Informational, &none, &zones, &q)), GateDecision::Block(_)));
        let info = ConsentState { informational: true, ..Default::default() };
        assert_eq!(decide(&input(Purpose::Informational, &info, &zones, &q)), GateDecision::Send);
        assert!(matches!(decide(&input(Purpose::Promotional, &info, &zones, &q)), GateDecision::Block(_)));
        // 23:00 in New York: deferred to 08:00.
        let mut late = input(Purpose::Informational, &info, &zones, &q);
        late.now = "2026-11-28T04:00:00Z".parse().unwrap();
        let eight: Timestamp = "2026-11-28T13:00:00Z".parse().unwrap();
        assert!(matches!(decide(&late), GateDecision::Defer { until, .. } if until == eight.as_millisecond()));
        // A conversational reply at 23:00 is not proactive: it goes.
        late.purpose = Purpose::Conversational;
        assert_eq!(decide(&late), GateDecision::Send);
        // The fourth on one subject in a day waits until the oldest is a day old.
        let mut capped = input(Purpose::Informational, &info, &zones, &q);
        let now = capped.now.as_millisecond();
        let recent = [now - 3_600_000, now - 7_200_000, now - 10_800_000];
        capped.recent_same_subject = &recent;
        assert_eq!(
            decide(&capped),
            GateDecision::Defer {
                until: now - 10_800_000 + DAY_MS,
                reason: "frequency cap: 3 on this subject in 24 hours".into()
            }
        );
        capped.expires_at = Some(now - 1);
        assert!(matches!(decide(&capped), GateDecision::Block(_)));
    }
}
