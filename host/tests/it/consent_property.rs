//! The consent property: no message other than the one confirmation is ever
//! sent to a number after its opt-out and before a new opt-in.
//!
//! Random sequences of inbound texts (keywords, own words, ambiguous and
//! ordinary texts, in bursts that share a stale view of consent as a
//! pipeline batch does), plugin decisions (replies, handoffs, opt-out
//! signals), agent replies, proactive sends, consent recorded through the
//! API, carrier opt-outs (21610) and the passing of time are driven through
//! the host's own consent functions — `on_inbound` (the consent stage),
//! `plugin_signal`, the ledger fold and the outbox gate `decide` — composed
//! the way the pipeline and the outbox compose them. An independent oracle
//! then replays the ledger and the send log.
//!
//! Cases: `SMSDESK_PROPTEST_CASES` (default 10,000); a failure prints the
//! seed, and `SMSDESK_PROPTEST_SEED` replays one case.

use smsdesk::consent::{
    Brand, ConsentEvent, ConsentState, EventKind, GateDecision, GateInput, Keywords, Purpose, QuietHours, Source,
    decide, on_inbound, plugin_signal,
};
use smsdesk::domain::Intent;
use std::io::Write;

/// A small seeded generator (xorshift64*), shared with `consent_system`.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What customers text: keywords in several forms, revocations in their
/// own words, things that only look like them, HELP, START and ordinary texts.
pub const TEXTS: &[&str] = &[
    "STOP",
    "stop.",
    "Stop!",
    "STOPALL",
    "unsubscribe",
    "CANCEL",
    "end",
    "QUIT",
    "revoke",
    "optout",
    "opt out",
    "ARRET",
    "START",
    "yes",
    "UNSTOP",
    "HELP",
    "info",
    "please stop texting me",
    "remove me from this list",
    "no más mensajes",
    "Stop. Thank you",
    "omg stop",
    "not interested",
    "where is my order",
    "don't stop the refund",
    "stop by tomorrow?",
    "yes please",
    "I want a refund",
    "thanks!",
    "cancel my order please",
];

#[derive(Debug, Clone)]
struct Queued {
    purpose: Purpose,
    answers: Option<i64>,
    subject: Option<String>,
    not_before: i64,
    expires_at: Option<i64>,
}

#[derive(Debug, Clone)]
enum Entry {
    Event(EventKind, Option<i64>),
    Sent(Purpose, Option<i64>),
    /// Handed to the provider, refused by the carrier (21610): an attempt all the same.
    Refused(Purpose, Option<i64>),
}

struct Case {
    rng: Rng,
    now: i64,
    ledger: Vec<ConsentEvent>,
    queue: Vec<Queued>,
    log: Vec<Entry>,
    sent_proactive: Vec<(String, i64)>,
    human_owned: bool,
    carrier_blocks_next: bool,
    next_message: i64,
    quiet: QuietHours,
    zones: Vec<jiff::tz::TimeZone>,
}

impl Case {
    fn state(&self) -> ConsentState {
        ConsentState::derive(&self.ledger)
    }

    fn record(&mut self, event: EventKind, purpose: &str, source: Source, message_id: Option<i64>) {
        self.ledger.push(ConsentEvent {
            id: self.ledger.len() as i64 + 1,
            tenant_id: "t".into(),
            phone: "+15551234567".into(),
            program: "+15557650100".into(),
            purpose: purpose.into(),
            event,
            source,
            matched: None,
            message_id,
            text: None,
            disclosure_version: None,
            created_at: self.now,
        });
        self.log.push(Entry::Event(event, message_id));
    }

    fn queue(&mut self, purpose: Purpose, answers: Option<i64>, subject: Option<String>) {
        let expires_at = (purpose.proactive() && self.rng.below(4) == 0).then(|| self.now + 3_600_000);
        self.queue.push(Queued { purpose, answers, subject, not_before: self.now, expires_at });
    }

    /// A burst of inbound texts handled as one pipeline batch: the consent
    /// stage runs in message order over the state read before the batch
    /// (each message seeing its predecessors' keyword events), while plugin
    /// signals are found later and concurrently, so they are not seen by the
    /// batch's other messages. Outcomes are applied in order.
    fn inbound_burst(&mut self) {
        let mut running = self.state();
        let brand = Brand { name: "Acme", help_text: None, support_contact: "+15557650100" };
        for _ in 0..1 + self.rng.below(3) {
            self.next_message += 1;
            let id = self.next_message;
            let text = *self.rng.pick(TEXTS);
            let stale = running.clone();
            let c = on_inbound(text, &stale, &Keywords::default(), &brand);
            if let Some((event, purpose)) = c.event {
                running.apply(event, purpose, Some(id));
            }
            let mut outcome = c.clone();
            if c.continue_bot && !self.human_owned {
                match self.rng.below(5) {
                    0 | 1 => self.queue(Purpose::Conversational, None, None),
                    2 => self.human_owned = true,
                    3 => {
                        let confidence = 0.5 + self.rng.below(50) as f32 / 100.0;
                        let intents = [Intent { label: "opt-out".into(), confidence }];
                        match plugin_signal(&intents, &stale, "Acme") {
                            Some(signal) => outcome = signal,
                            None => self.queue(Purpose::Conversational, None, None),
                        }
                    }
                    _ => {}
                }
            }
            if let Some((event, purpose)) = outcome.event {
                self.record(event, purpose, Source::Customer, Some(id));
            }
            if let Some((purpose, _)) = outcome.reply {
                let answers = (purpose == Purpose::OptOutConfirmation).then_some(id);
                self.queue(purpose, answers, None);
            }
            if outcome.flag.is_some() {
                self.human_owned = true;
            }
        }
    }

    /// The outbox: due entries through the gate, in order, with the state
    /// read once for the batch; as in the host, at most one message per
    /// recipient is handed to the provider per batch (the rest wait for the
    /// next batch, which sees what that send taught, e.g. a 21610).
    /// Returns whether anything was decided.
    fn deliver(&mut self) -> bool {
        let state = self.state();
        let now = jiff::Timestamp::from_millisecond(self.now).unwrap();
        let mut keep = Vec::new();
        let mut in_flight = false;
        let mut decided = false;
        for q in std::mem::take(&mut self.queue) {
            if q.not_before > self.now || in_flight {
                keep.push(q);
                continue;
            }
            decided = true;
            let subject = q.subject.clone().unwrap_or_default();
            let recent: Vec<i64> = self.sent_proactive.iter().filter(|(s, _)| *s == subject).map(|(_, t)| *t).collect();
            let decision = decide(&GateInput {
                purpose: q.purpose,
                state: &state,
                answers_message: q.answers,
                now,
                zones: &self.zones,
                quiet_hours: &self.quiet,
                recent_same_subject: &recent,
                frequency_cap: 3,
                expires_at: q.expires_at,
            });
            match decision {
                GateDecision::Send if self.carrier_blocks_next => {
                    // The carrier refuses it (21610): an opt-out signal, nothing sent.
                    self.carrier_blocks_next = false;
                    self.log.push(Entry::Refused(q.purpose, q.answers));
                    self.record(EventKind::ProviderOptOut, "all", Source::Provider, None);
                    in_flight = true;
                }
                GateDecision::Send => {
                    if q.purpose.proactive() {
                        self.sent_proactive.push((subject, self.now));
                    }
                    self.log.push(Entry::Sent(q.purpose, q.answers));
                    in_flight = true;
                }
                GateDecision::Block(_) => {}
                GateDecision::Defer { until, .. } => keep.push(Queued { not_before: until, ..q }),
            }
        }
        self.queue = keep;
        decided
    }

    fn step(&mut self) {
        match self.rng.below(10) {
            0..=3 => self.inbound_burst(),
            4 => self.queue(Purpose::Conversational, None, None), // an agent's reply
            5 => {
                let purpose = *self.rng.pick(&[Purpose::Informational, Purpose::Promotional]);
                let subject = self.rng.pick(&["delay", "payment"]).to_string();
                self.queue(purpose, None, Some(subject));
            }
            6 => {
                let (event, purpose) = *self.rng.pick(&[
                    (EventKind::OptIn, "informational"),
                    (EventKind::OptIn, "promotional"),
                    (EventKind::OptOut, "all"),
                ]);
                self.record(event, purpose, Source::Api, None);
            }
            7 | 8 => {
                self.deliver();
            }
            _ => {
                self.now += self.rng.below(12 * 60) as i64 * 60_000;
                if self.rng.below(3) == 0 {
                    self.human_owned = false; // an agent hands back to automation
                }
            }
        }
        if self.rng.below(20) == 0 {
            self.carrier_blocks_next = true;
        }
    }
}

/// Replay the ledger and the sends, independently of the host's fold.
fn oracle(log: &[Entry]) -> Result<(), String> {
    let (mut opted_out, mut period_by, mut confirmed) = (false, None::<i64>, false);
    for (i, entry) in log.iter().enumerate() {
        match entry {
            Entry::Event(kind, message) => match kind {
                EventKind::OptOut | EventKind::RevocationDetected | EventKind::ProviderOptOut => {
                    if !opted_out {
                        (opted_out, period_by, confirmed) = (true, *message, false);
                    }
                }
                EventKind::OptIn => opted_out = false,
                EventKind::Help => {}
            },
            Entry::Sent(purpose, answers) | Entry::Refused(purpose, answers) => {
                if opted_out {
                    let ok = *purpose == Purpose::OptOutConfirmation
                        && !confirmed
                        && period_by.is_some()
                        && *answers == period_by;
                    if !ok {
                        return Err(format!("entry {i}: {purpose:?} sent to an opted-out number: {log:#?}"));
                    }
                    confirmed = true;
                } else if *purpose == Purpose::OptOutConfirmation {
                    return Err(format!("entry {i}: a confirmation sent to a number that is not opted out: {log:#?}"));
                }
            }
        }
    }
    if opted_out && period_by.is_some() && !confirmed {
        return Err(format!("the opt-out by message {period_by:?} was never confirmed: {log:#?}"));
    }
    Ok(())
}

fn run(seed: u64) -> Result<usize, String> {
    let mut rng = Rng(seed | 1);
    let start = 1_795_000_000_000 + (rng.next() % (7 * 86_400_000)) as i64;
    let mut case = Case {
        rng,
        now: start,
        ledger: Vec::new(),
        queue: Vec::new(),
        log: Vec::new(),
        sent_proactive: Vec::new(),
        human_owned: false,
        carrier_blocks_next: false,
        next_message: 0,
        quiet: QuietHours::default(),
        zones: vec![jiff::tz::TimeZone::get("America/New_York").unwrap()],
    };
    let steps = 1 + case.rng.below(40);
    for _ in 0..steps {
        case.step();
    }
    // Everything due goes through the gate at the end (confirmations are never deferred).
    case.carrier_blocks_next = false;
    while case.deliver() {}
    oracle(&case.log)?;
    Ok(case.log.iter().filter(|e| matches!(e, Entry::Sent(..))).count())
}

#[test]
fn nothing_but_the_one_confirmation_reaches_an_opted_out_number() {
    if let Some(seed) = std::env::var("SMSDESK_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()) {
        run(seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        return;
    }
    let cases: u64 = std::env::var("SMSDESK_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let mut sends = 0;
    for i in 0..cases {
        let seed = 0x5EED_0000_0000_0000u64 ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        match run(seed) {
            Ok(n) => sends += n,
            Err(e) => panic!("case {i} failed; replay with SMSDESK_PROPTEST_SEED={seed}\n{e}"),
        }
    }
    assert!(cases < 100 || sends > cases as usize, "the cases send messages at all ({sends} sends)");
    let _ =
        writeln!(std::io::stderr(), "consent property: {cases} generated cases, {sends} messages sent, no violation");
}
