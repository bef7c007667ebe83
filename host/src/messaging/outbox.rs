//! Outbox workers: the only way a message leaves the host. Each claims due
//! entries, settles those in doubt by asking the provider, asks the consent
//! gate about the rest (send, block or defer), commits the start of each
//! attempt, hands what may go to the tenant's provider, and records the
//! result: accepted, retried later with backoff (429, 503, refused
//! connections), in doubt (timeouts, gateway errors), failed for good with the
//! provider's error code (21610 also records an opt-out), blocked or deferred
//! with the gate's reason.
//!
//! Exactly once at the provider: a send whose attempt was committed but whose
//! result was not (the process died mid-call) is never sent again blindly.
//! It waits [`SETTLE_MS`], then the provider's message list is searched for
//! it (same recipient, sender and text, created since the attempt, not
//! already recorded on another message); found, it is recorded as sent,
//! otherwise sent now.

use super::provider::OutboundSms;
use crate::consent::quiet::us_candidate_zones;
use crate::consent::{ConsentState, GateDecision, GateInput, Purpose, decide};
use crate::store::{ClaimedSend, SendResult, Store};
use crate::tenants::Tenants;
use jiff::tz::TimeZone;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Attempts before a transiently failing message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// Most entries a worker claims and sends at once.
const BATCH: i64 = 32;
/// How long a send whose process died mid-call waits before it is settled:
/// long after the dead process's request has finished at the provider.
pub const SETTLE_MS: i64 = 10_000;

/// Sends queued messages.
#[derive(Clone)]
pub struct Outbox {
    /// The database.
    pub store: Store,
    /// Tenants and their providers.
    pub tenants: Arc<Tenants>,
    /// Woken when messages are queued.
    pub notify: Arc<Notify>,
    /// Where providers post status changes (None: no callbacks).
    pub status_callback: Option<String>,
    /// Live ticket events (a message went out, or was blocked).
    pub events: crate::events::Events,
}

/// Delay before retry `attempt` (1-based): 0.5 s, 1 s, 2 s, … capped at a minute.
pub fn backoff_ms(attempt: i64) -> i64 {
    (500i64 << (attempt - 1).clamp(0, 7)).min(60_000)
}

impl Outbox {
    /// Run `n` workers until the process ends.
    /// Start `n` workers; they stop claiming work when `stop` becomes
    /// `true`, and end when the batch they hold is done.
    pub fn spawn_workers(
        &self,
        n: usize,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let outbox = self.clone();
                let stop = stop.clone();
                tokio::spawn(async move { outbox.work(stop).await })
            })
            .collect()
    }

    async fn work(self, stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let notified = self.notify.notified();
            match self.run_once().await {
                Ok(0) => {
                    let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "claiming outbox entries failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Claim one batch of due sends and carry it through (settle, gate,
    /// attempt on record, provider calls, results recorded): what each
    /// worker does in a loop, and what a test steps one batch at a time.
    /// Returns how many sends it claimed (0: nothing was due).
    pub async fn run_once(&self) -> Result<usize, crate::store::StoreError> {
        let sends = self.store.claim_sends(crate::store::LEASE_MS, BATCH).await?;
        let claimed = sends.len();
        if claimed == 0 {
            return Ok(0);
        }

        // Sends in doubt are settled first, then the consent gate
        // decides; the start of every call is committed before
        // the providers are called concurrently, and every result
        // (sent, blocked, deferred, failed) is recorded in one
        // transaction.
        let (sends, mut results) = self.settle(sends).await;
        let sends = match self.gate(sends).await {
            Ok((sends, decided)) => {
                results.extend(decided);
                sends
            }
            Err(e) => {
                // Nothing is sent without a decision; the leases expire.
                tracing::error!(error = %e, "reading consent for the gate failed");
                Vec::new()
            }
        };
        let ids: Vec<i64> = sends.iter().map(|s| s.id).collect();
        let sends = match self.store.begin_attempts(&ids, SETTLE_MS).await {
            Ok(leased) => {
                if leased.len() < sends.len() {
                    tracing::warn!(
                        dropped = sends.len() - leased.len(),
                        "sends whose lease another worker holds now were not sent"
                    );
                }
                sends.into_iter().filter(|s| leased.contains(&s.id)).collect()
            }
            Err(e) => {
                // Nothing is sent without its attempt on record; the leases expire.
                tracing::error!(error = %e, "recording the start of sends failed");
                Vec::new()
            }
        };
        let mut running = tokio::task::JoinSet::new();
        for send in sends {
            let outbox = self.clone();
            running.spawn(async move {
                let result = outbox.send(&send).await;
                (send, result)
            });
        }
        while let Some(done) = running.join_next().await {
            if let Ok(pair) = done {
                results.push(pair);
            }
        }
        for (send, result) in &results {
            let r = match result {
                SendResult::Sent { .. } => "sent",
                SendResult::Retry { .. } => "retry",
                SendResult::InDoubt { .. } => "in_doubt",
                SendResult::Failed { .. } => "failed",
                SendResult::Blocked { .. } => "blocked",
                SendResult::Released => "released",
                SendResult::Deferred { .. } => "deferred",
            };
            crate::metrics::count("smsdesk_outbox_sends_total", &[("tenant", &send.tenant_id), ("result", r)], 1);
        }
        if let Err(e) = self.store.record_sends(&results).await {
            // The leases expire and the sends are retried.
            tracing::error!(error = %e, "recording sends failed");
        } else if self.events.listening() {
            let ids: Vec<i64> = results.iter().map(|(s, _)| s.message_id).collect();
            if let Ok(tickets) = self.store.conversations_of_messages(&ids).await {
                for (tenant, ticket) in tickets {
                    self.events.publish(&tenant, ticket, "message");
                }
            }
        }
        Ok(claimed)
    }

    /// Settle the sends whose earlier attempt may have reached the provider:
    /// the provider's copy, if it has one that no other message claims, is
    /// recorded as the send; otherwise the send goes back to be sent. Returns
    /// the sends still to make and the settled results.
    pub async fn settle(&self, sends: Vec<ClaimedSend>) -> (Vec<ClaimedSend>, Vec<(ClaimedSend, SendResult)>) {
        let mut pass = Vec::with_capacity(sends.len());
        let mut settled = Vec::new();
        // Provider ids given to a send of this batch.
        let mut taken: HashSet<(String, String)> = HashSet::new();
        for mut send in sends {
            let (Some(since), Some(tenant)) = (send.in_doubt_since, self.tenants.get(&send.tenant_id)) else {
                pass.push(send);
                continue;
            };
            let sms = OutboundSms {
                from: &send.from,
                to: &send.to,
                body: &send.body,
                idempotency_key: &send.idempotency_key,
                status_callback: None,
            };
            let found = match tenant.provider.find(&sms, since).await {
                Ok(found) => {
                    let sids: Vec<String> = found.iter().map(|a| a.sid.clone()).collect();
                    match self.store.known_provider_sids(&send.tenant_id, &sids).await {
                        Ok(known) => Ok(found.into_iter().find(|a| {
                            !known.contains(&a.sid) && !taken.contains(&(send.tenant_id.clone(), a.sid.clone()))
                        })),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.message),
            };
            let outcome = match &found {
                Ok(Some(_)) => "found",
                Ok(None) => "absent",
                Err(_) => "unanswered",
            };
            crate::metrics::count(
                "smsdesk_outbox_settled_total",
                &[("tenant", &send.tenant_id), ("result", outcome)],
                1,
            );
            match found {
                Ok(Some(accepted)) => {
                    tracing::info!(outbox = send.id, sid = %accepted.sid, "a send in doubt was at the provider; not sent again");
                    taken.insert((send.tenant_id.clone(), accepted.sid.clone()));
                    settled.push((send, SendResult::Sent { sid: accepted.sid, status: accepted.status }));
                }
                Ok(None) => {
                    tracing::info!(outbox = send.id, "a send in doubt is not at the provider; sending it");
                    send.in_doubt_since = None;
                    pass.push(send);
                }
                Err(error) if send.attempts < MAX_ATTEMPTS => {
                    tracing::warn!(outbox = send.id, %error, "could not settle a send in doubt; asking again later");
                    let delay_ms = backoff_ms(send.attempts);
                    settled.push((send, SendResult::InDoubt { delay_ms, error }));
                }
                Err(error) => {
                    let error = format!(
                        "in doubt after {} attempts: the provider may have it but could not be asked ({error}); not sent again",
                        send.attempts
                    );
                    settled.push((send, SendResult::Failed { code: None, error }));
                }
            }
        }
        (pass, settled)
    }

    /// Ask the consent gate about each claimed send: those it lets through,
    /// and the decisions for those it blocks or defers.
    pub async fn gate(
        &self,
        sends: Vec<ClaimedSend>,
    ) -> Result<(Vec<ClaimedSend>, Vec<(ClaimedSend, SendResult)>), crate::store::StoreError> {
        let now_ms = self.store.now();
        let now = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let contacts: Vec<(&str, &str)> = sends.iter().map(|s| (s.tenant_id.as_str(), s.to.as_str())).collect();
        let events = self.store.consent_events_for(&contacts).await?;
        let proactive = sends.iter().any(|s| Purpose::parse(&s.category).is_some_and(Purpose::proactive));
        let (zones, mut recent) = if proactive {
            (
                self.store.contact_time_zones(&contacts).await?,
                self.store.proactive_sends_since(&contacts, now_ms - 24 * 3_600_000).await?,
            )
        } else {
            Default::default()
        };
        drop(contacts);
        let mut pass = Vec::with_capacity(sends.len());
        let mut decided = Vec::new();
        let mut in_flight = std::collections::HashSet::new();
        for send in sends {
            let key = (send.tenant_id.clone(), send.to.clone());
            // One message per recipient per batch: they arrive in order, and
            // what one send teaches (a 21610 opt-out) is known before the next.
            if in_flight.contains(&key) {
                decided.push((send, SendResult::Released));
                continue;
            }
            let state = ConsentState::derive(events.get(&key).into_iter().flatten());
            let (Some(purpose), Some(tenant)) = (Purpose::parse(&send.category), self.tenants.get(&send.tenant_id))
            else {
                let reason = format!("unknown category `{}` or tenant `{}`", send.category, send.tenant_id);
                decided.push((send, SendResult::Blocked { reason }));
                continue;
            };
            let tz = zones
                .get(&key)
                .and_then(|z| TimeZone::get(z).ok())
                .or_else(|| TimeZone::get(&tenant.config.time_zone).ok());
            let candidate_zones = match tz {
                Some(tz) => vec![tz],
                None => us_candidate_zones(),
            };
            let subject_key = (send.tenant_id.clone(), send.to.clone(), send.subject.clone().unwrap_or_default());
            let decision = decide(&GateInput {
                purpose,
                state: &state,
                answers_message: send.answers_message_id,
                now,
                zones: &candidate_zones,
                quiet_hours: &tenant.quiet_hours,
                recent_same_subject: recent.get(&subject_key).map(Vec::as_slice).unwrap_or(&[]),
                frequency_cap: tenant.config.consent.frequency_cap,
                expires_at: send.expires_at,
            });
            match decision {
                GateDecision::Send => {
                    if purpose.proactive() {
                        // Counted at once, so one batch cannot overrun the cap.
                        recent.entry(subject_key).or_default().push(now_ms);
                    }
                    in_flight.insert(key);
                    pass.push(send);
                }
                GateDecision::Block(reason) => {
                    tracing::info!(outbox = send.id, %reason, "consent gate blocked a send");
                    decided.push((send, SendResult::Blocked { reason }));
                }
                GateDecision::Defer { until, reason } => {
                    tracing::info!(outbox = send.id, until, %reason, "consent gate deferred a send");
                    decided.push((send, SendResult::Deferred { until, reason }));
                }
            }
        }
        Ok((pass, decided))
    }

    async fn send(&self, send: &ClaimedSend) -> SendResult {
        let Some(tenant) = self.tenants.get(&send.tenant_id) else {
            return SendResult::Failed { code: None, error: "tenant is no longer configured".into() };
        };
        // A reply leaves only from a sender of its own tenant (the webhook
        // refuses a number and service of two tenants; this holds it here too).
        if let Some(owner) = self.tenants.number_owner(&send.from)
            && owner != send.tenant_id
        {
            tracing::error!(outbox = send.id, from = %send.from, "refused to send from another tenant's number");
            return SendResult::Failed { code: None, error: format!("{} is another tenant's number", send.from) };
        }
        let sms = OutboundSms {
            from: &send.from,
            to: &send.to,
            body: &send.body,
            idempotency_key: &send.idempotency_key,
            status_callback: self.status_callback.as_deref(),
        };
        let started = std::time::Instant::now();
        let sent = tenant.provider.send(&sms).await;
        crate::metrics::observe(
            "smsdesk_provider_request_duration_seconds",
            &[("provider", tenant.provider.kind())],
            started.elapsed().as_secs_f64(),
        );
        match sent {
            Ok(accepted) => SendResult::Sent { sid: accepted.sid, status: accepted.status },
            Err(e) if e.in_doubt && send.attempts < MAX_ATTEMPTS => {
                tracing::warn!(outbox = send.id, attempt = send.attempts, error = %e.message, "send in doubt; settling it later");
                SendResult::InDoubt { delay_ms: backoff_ms(send.attempts), error: e.message }
            }
            Err(e) if e.in_doubt => {
                let error = format!("{}; the provider may have it; not sent again", e.message);
                SendResult::Failed { code: None, error }
            }
            Err(e) if e.transient && send.attempts < MAX_ATTEMPTS => {
                tracing::warn!(outbox = send.id, attempt = send.attempts, error = %e.message, "send failed; retrying");
                SendResult::Retry { delay_ms: backoff_ms(send.attempts), error: e.message }
            }
            Err(e) => {
                tracing::warn!(outbox = send.id, code = ?e.code, error = %e.message, "send failed permanently");
                SendResult::Failed { code: e.code, error: e.message }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff_ms(1), 500);
        assert_eq!(super::backoff_ms(2), 1000);
        assert_eq!(super::backoff_ms(4), 4000);
        assert_eq!(super::backoff_ms(20), 60_000);
    }
}
