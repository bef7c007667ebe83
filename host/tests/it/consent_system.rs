//! The consent property on the real host: generated histories of many
//! recipients at once are driven through the store, the pipeline (with the
//! first-party plugins) and the outbox (settle, the consent gate, the
//! provider over HTTP at a fake Twilio, results recorded) exactly as the
//! workers run them — one batch at a time, in an order the generator picks
//! ([`server::start_stepped`]). An oracle written from the rules, not from
//! the host's code, then replays each recipient's ledger and every request
//! the fake provider received:
//!
//! - after an opt-out (keyword, own words, a plugin's signal, the API or a
//!   carrier's 21610) nothing reaches the number until it opts in again,
//!   but one confirmation when the opt-out came in a message of its own —
//!   and that confirmation is sent;
//! - informational messages need express consent, promotional ones express
//!   written consent (an opt-in for that purpose since the last opt-out);
//! - no proactive message is attempted in quiet hours (08:00–21:00 in the
//!   tenant's zone), after its validity ended, or above the frequency cap
//!   (sends of one subject to one number in 24 hours);
//! - one request per recipient per outbox batch.
//!
//! Cases (one recipient's history each, 64 at a time): `SMSDESK_PROPTEST_CASES`
//! (default 10,000 on SQLite, 2,000 on PostgreSQL); `SMSDESK_PROPTEST_SEED`
//! picks another run (a failure names its seed).

use crate::consent_property::{Rng, TEXTS};
use crate::host::{FakeTwilio, NUMBER, first_party_plugins, tenant, twilio};
use smsdesk::clock::Clock;
use smsdesk::consent::{EventKind, Purpose, Source};
use smsdesk::messaging::segments;
use smsdesk::server;
use smsdesk::store::{NewConsentEvent, NewInbound, NewOutbound, Store, TicketChange};
use std::collections::HashMap;
use std::io::Write;

/// Texts that are neither keywords nor revocations (picked more often, so
/// that subscribers stay subscribed long enough to reach the caps).
const ORDINARY: &[&str] = &[
    "where is my order",
    "yes please",
    "I want a refund",
    "thanks!",
    "cancel my order please",
    "I want to talk to a human",
    "what are your hours",
    "stop by tomorrow?",
    "don't stop the refund",
];

const SUBJECTS: &[&str] = &["delay", "payment"];

/// A proactive message the generator queued.
struct Notice {
    purpose: Purpose,
    subject: &'static str,
    expires_at: Option<i64>,
}

#[derive(Debug)]
enum Entry {
    /// A ledger event, in ledger order.
    Event { kind: EventKind, purpose: String, message: Option<i64> },
    /// A request at the provider: when (host clock), what, and whether it was taken.
    Attempt { at: i64, body: String, accepted: bool },
}

struct Recipient {
    phone: String,
    /// Inputs still to generate (0: retired, but still checked).
    rounds_left: usize,
    conversation: Option<i64>,
    /// The last ledger id read into `log`.
    seen: i64,
    log: Vec<Entry>,
}

struct Run {
    store: Store,
    steps: server::Stepper,
    fake: FakeTwilio,
    clock: Clock,
    rng: Rng,
    people: Vec<Recipient>,
    by_phone: HashMap<String, usize>,
    notices: HashMap<u64, Notice>,
    counter: u64,
    cap: usize,
}

fn quiet_ny(at: i64) -> bool {
    let local = jiff::Timestamp::from_millisecond(at)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap());
    !(8..21).contains(&local.hour())
}

impl Run {
    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// New ledger events of these people, appended to their logs (one
    /// query, as the gate reads them).
    async fn read_ledger(&mut self, who: &[usize]) {
        if who.is_empty() {
            return;
        }
        let contacts: Vec<(&str, &str)> = who.iter().map(|&i| ("acme", self.people[i].phone.as_str())).collect();
        let mut events = self.store.consent_events_for(&contacts).await.unwrap();
        for &i in who {
            let p = &mut self.people[i];
            let seen = p.seen;
            for e in events.remove(&("acme".to_string(), p.phone.clone())).unwrap_or_default() {
                if e.id > seen {
                    p.seen = e.id;
                    p.log.push(Entry::Event { kind: e.event, purpose: e.purpose, message: e.message_id });
                }
            }
        }
    }

    /// One outbox batch, as a worker runs it; every request the fake got
    /// is put in its recipient's log, then the ledger events it caused.
    async fn deliver(&mut self) -> usize {
        let (sent_before, taken_before) =
            (self.fake.received.lock().unwrap().len(), self.fake.messages.lock().unwrap().len());
        let claimed = self.steps.outbox.run_once().await.unwrap();
        let at = self.clock.now_ms();
        let requests: Vec<(String, String)> = self.fake.received.lock().unwrap()[sent_before..]
            .iter()
            .map(|form| {
                let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
                (get("To"), get("Body"))
            })
            .collect();
        let taken: Vec<String> =
            self.fake.messages.lock().unwrap()[taken_before..].iter().map(|m| m.to.clone()).collect();
        let mut touched = Vec::new();
        for (to, body) in requests {
            let i = *self.by_phone.get(&to).unwrap_or_else(|| panic!("a request to {to}, whom nobody texted"));
            assert!(!touched.contains(&i), "two requests to {to} in one outbox batch");
            touched.push(i);
            let accepted = taken.contains(&to);
            self.people[i].log.push(Entry::Attempt { at, body, accepted });
        }
        self.read_ledger(&touched).await;
        claimed
    }

    /// Everything stored goes through the pipeline.
    async fn process(&mut self) {
        while self.steps.pipeline.run_once().await.unwrap() > 0 {}
    }

    /// Consent recorded through the API's path.
    async fn consent_api(&mut self, i: usize, event: EventKind, purpose: &str) {
        self.store
            .append_consent(&NewConsentEvent {
                tenant_id: "acme".into(),
                phone: self.people[i].phone.clone(),
                program: NUMBER.into(),
                purpose: purpose.into(),
                event,
                source: Source::Api,
                matched: None,
                message_id: None,
                text: None,
                disclosure_version: (event == EventKind::OptIn).then(|| "web-form-v3".into()),
            })
            .await
            .unwrap();
    }

    /// One round: every active recipient may act (texts, an agent's reply,
    /// a notification, consent through the API); the pipeline and the
    /// outbox run in an order picked at random; time may pass; the carrier
    /// may refuse the next request.
    async fn round(&mut self) {
        let mut inbound = Vec::new();
        let mut touched = Vec::new();
        let mut api_consent = Vec::new();
        for i in 0..self.people.len() {
            if self.people[i].rounds_left == 0 {
                continue;
            }
            self.people[i].rounds_left -= 1;
            let phone = self.people[i].phone.clone();
            match self.rng.below(10) {
                0..=2 => {
                    for _ in 0..1 + self.rng.below(3) {
                        let text =
                            if self.rng.below(3) == 0 { *self.rng.pick(TEXTS) } else { *self.rng.pick(ORDINARY) };
                        let info = segments::analyze(text);
                        let n = self.next_id();
                        inbound.push(NewInbound {
                            tenant_id: "acme".into(),
                            provider_sid: format!("SMprop{n}"),
                            from: phone.clone(),
                            to: NUMBER.into(),
                            body: text.into(),
                            media_urls: Vec::new(),
                            encoding: info.encoding.as_str(),
                            segments: info.segments,
                        });
                    }
                    touched.push(i);
                }
                3 => {
                    // An agent's reply on the customer's ticket (known from
                    // a notification's queueing, which files it there).
                    if let Some(id) = self.people[i].conversation {
                        let n = self.next_id();
                        let body = format!("Agent reply {n}");
                        let out = NewOutbound {
                            tenant_id: "acme".into(),
                            conversation_id: Some(id),
                            idempotency_key: format!("agent:{id}:{n}"),
                            author: "agent",
                            category: "conversational",
                            from: NUMBER.into(),
                            to: phone.clone(),
                            encoding: segments::analyze(&body).encoding.as_str(),
                            segments: 1,
                            body,
                            subject: None,
                            answers_message_id: None,
                            expires_at: None,
                        };
                        let _ = self.store.change_ticket("acme", id, "rosa", TicketChange::Reply(out), None).await;
                    }
                }
                4 | 5 => {
                    // A notification through the API's path (any validity).
                    let purpose = *self.rng.pick(&[Purpose::Informational, Purpose::Promotional]);
                    let subject = *self.rng.pick(SUBJECTS);
                    let now = self.clock.now_ms();
                    let expires_at = (self.rng.below(4) == 0).then(|| now + 3_600_000);
                    let n = self.next_id();
                    let body = format!("Notice {n}: {subject}");
                    self.notices.insert(n, Notice { purpose, subject, expires_at });
                    let queued = self
                        .store
                        .enqueue_to_contact(NewOutbound {
                            tenant_id: "acme".into(),
                            conversation_id: None,
                            idempotency_key: format!("notify:acme:{n}"),
                            author: "system",
                            category: purpose.as_str(),
                            from: NUMBER.into(),
                            to: phone.clone(),
                            encoding: segments::analyze(&body).encoding.as_str(),
                            segments: 1,
                            body,
                            subject: Some(subject.into()),
                            answers_message_id: None,
                            expires_at,
                        })
                        .await
                        .unwrap();
                    if let Some((_, conversation)) = queued {
                        self.people[i].conversation.get_or_insert(conversation);
                    }
                }
                6 => {
                    // Consent recorded through the API: express (written) consent or an opt-out.
                    let (event, purpose) = *self.rng.pick(&[
                        (EventKind::OptIn, "informational"),
                        (EventKind::OptIn, "promotional"),
                        (EventKind::OptOut, "all"),
                    ]);
                    self.consent_api(i, event, purpose).await;
                    // In the log before any send of this round.
                    api_consent.push(i);
                }
                _ => {}
            }
        }
        self.read_ledger(&api_consent).await;
        if !inbound.is_empty() {
            self.store.insert_inbound_batch(&inbound).await.unwrap();
        }
        // The outbox may run before the pipeline has seen the new texts
        // (a STOP not yet processed cannot be known), or after.
        if self.rng.below(2) == 0 {
            self.deliver().await;
        }
        self.process().await;
        self.read_ledger(&touched).await;
        for _ in 0..self.rng.below(3) {
            self.deliver().await;
        }
        if self.rng.below(6) == 0 {
            self.clock.set_ms(self.clock.now_ms() + self.rng.below(12 * 60) as i64 * 60_000);
        }
        if self.rng.below(10) == 0 {
            let mut script = self.fake.script.lock().unwrap();
            if script.is_empty() {
                script.push((
                    400,
                    serde_json::json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}),
                ));
            }
        }
    }

    /// Check one recipient's history against the rules.
    /// Returns how often a send took a subject to the cap.
    fn check(&self, p: &Recipient) -> Result<usize, String> {
        let mut at_cap = 0;
        let (mut opted_out, mut period_by, mut confirmed) = (false, None::<i64>, false);
        let (mut informational, mut promotional) = (false, false);
        // Accepted proactive sends: (subject, when).
        let mut sent: Vec<(&str, i64)> = Vec::new();
        let fail = |i: usize, what: String| Err(format!("{}: entry {i}: {what}\n{:#?}", p.phone, p.log));
        for (i, entry) in p.log.iter().enumerate() {
            match entry {
                Entry::Event { kind, purpose, message } => match kind {
                    EventKind::OptOut | EventKind::RevocationDetected | EventKind::ProviderOptOut => {
                        if !opted_out {
                            (opted_out, period_by, confirmed) = (true, *message, false);
                        }
                        (informational, promotional) = (false, false);
                    }
                    EventKind::OptIn => {
                        opted_out = false;
                        match purpose.as_str() {
                            "promotional" => (informational, promotional) = (true, true),
                            _ => informational = true,
                        }
                    }
                    EventKind::Help => {}
                },
                Entry::Attempt { at, body, accepted } => {
                    let confirmation = body.contains("You are unsubscribed");
                    if opted_out {
                        if !confirmation {
                            return fail(i, format!("{body:?} sent to an opted-out number"));
                        }
                        if confirmed || period_by.is_none() {
                            return fail(i, "a second confirmation, or one nobody asked for by text".into());
                        }
                        confirmed = true;
                        continue;
                    }
                    if confirmation {
                        return fail(i, "a confirmation sent to a number that is not opted out".into());
                    }
                    let Some(n) = body.strip_prefix("Notice ").and_then(|r| r.split(':').next()?.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let notice = &self.notices[&n];
                    match notice.purpose {
                        Purpose::Informational if !informational => {
                            return fail(i, "informational without express consent".into());
                        }
                        Purpose::Promotional if !promotional => {
                            return fail(i, "promotional without express written consent".into());
                        }
                        _ => {}
                    }
                    if quiet_ny(*at) {
                        return fail(i, format!("proactive in quiet hours ({at})"));
                    }
                    if notice.expires_at.is_some_and(|e| *at > e) {
                        return fail(i, "sent after its validity ended".into());
                    }
                    let recent = sent.iter().filter(|(s, t)| *s == notice.subject && at - t < 86_400_000).count();
                    if recent >= self.cap {
                        return fail(i, format!("{} sends of `{}` in 24 hours", recent + 1, notice.subject));
                    }
                    if *accepted {
                        sent.push((notice.subject, *at));
                        at_cap += usize::from(recent + 1 == self.cap);
                    }
                }
            }
        }
        if opted_out && period_by.is_some() && !confirmed {
            return Err(format!("{}: the opt-out by message {period_by:?} was never confirmed\n{:#?}", p.phone, p.log));
        }
        Ok(at_cap)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_host_keeps_every_consent_rule_for_every_recipient() {
    // PostgreSQL's statements take longer here (the server shares the two
    // cores): its half runs 2,000 recipients, enough for its claims and
    // locks; the rules are the same code on both.
    let default = if crate::support::on_postgres() { 2_000 } else { 10_000 };
    let cases: usize = std::env::var("SMSDESK_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let seed: u64 = std::env::var("SMSDESK_PROPTEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_C0DE);
    let started = std::time::Instant::now();
    let fake = FakeTwilio::default();
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed | 1);
    let clock = Clock::manual(1_795_000_000_000 + (rng.next() % (7 * 86_400_000)) as i64);
    let t = tenant(twilio(api_base), first_party_plugins());
    let cap = t.consent.frequency_cap;
    let config = crate::tickets::config_with(dir.path(), vec![t], clock.clone());
    let (host, steps) = server::start_stepped(config).await.unwrap();
    let mut run = Run {
        store: host.store.clone(),
        steps,
        fake,
        clock,
        rng,
        people: Vec::new(),
        by_phone: HashMap::new(),
        notices: HashMap::new(),
        counter: 0,
        cap,
    };
    const AT_ONCE: usize = 64;
    let mut rounds = 0;
    loop {
        let active = run.people.iter().filter(|p| p.rounds_left > 0).count();
        for _ in active..AT_ONCE {
            if run.people.len() == cases {
                break;
            }
            let phone = format!("+1212{:07}", 2_000_000 + run.people.len());
            let rounds_left = 1 + run.rng.below(10);
            let i = run.people.len();
            run.by_phone.insert(phone.clone(), i);
            run.people.push(Recipient { phone, rounds_left, conversation: None, seen: 0, log: Vec::new() });
            // Half are subscribers: express (written) consent from a web form first.
            if run.rng.below(2) == 0 {
                let purpose = *run.rng.pick(&["informational", "promotional"]);
                run.consent_api(i, EventKind::OptIn, purpose).await;
                run.read_ledger(&[i]).await;
            }
        }
        if run.people.iter().all(|p| p.rounds_left == 0) {
            break;
        }
        run.round().await;
        rounds += 1;
    }
    // The end: the carrier takes everything, and whatever is due goes
    // through the gate (confirmations are never deferred).
    run.fake.script.lock().unwrap().clear();
    loop {
        run.process().await;
        if run.deliver().await == 0 {
            break;
        }
    }
    let (mut attempts, mut at_cap) = (0, 0);
    for p in &run.people {
        match run.check(p) {
            Ok(n) => at_cap += n,
            Err(e) => panic!("seed {seed}: {e}"),
        }
        attempts += p.log.iter().filter(|e| matches!(e, Entry::Attempt { .. })).count();
    }
    let kinds = |f: &dyn Fn(&Entry) -> bool| run.people.iter().flat_map(|p| &p.log).filter(|e| f(e)).count();
    let opt_outs =
        kinds(&|e| matches!(e, Entry::Event { kind: EventKind::OptOut | EventKind::RevocationDetected, .. }));
    let carrier = kinds(&|e| matches!(e, Entry::Event { kind: EventKind::ProviderOptOut, .. }));
    let notices = kinds(&|e| matches!(e, Entry::Attempt { body, .. } if body.starts_with("Notice ")));
    let confirmations = kinds(&|e| matches!(e, Entry::Attempt { body, .. } if body.contains("You are unsubscribed")));
    // The generator reaches every rule at all.
    assert!(
        cases < 500
            || (opt_outs > cases / 10 && carrier > 0 && notices > cases / 10 && confirmations > 0 && at_cap > 0),
        "{opt_outs} opt-outs, {carrier} carrier opt-outs, {notices} notifications, {confirmations} confirmations, {at_cap} at the cap"
    );
    let _ = writeln!(
        std::io::stderr(),
        "consent on the real host: {cases} recipients, {rounds} rounds, {attempts} provider requests \
         ({notices} notifications, {confirmations} confirmations), {opt_outs} opt-outs, {carrier} carrier opt-outs, \
         {at_cap} subjects taken to the frequency cap, no violation, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    host.shutdown().await;
}
