//! Outbox workers: the only way a message leaves the host. Each claims a due
//! entry, hands it to the tenant's provider with its idempotency key, and
//! records the result: accepted, retried later with backoff (timeouts, 429,
//! 5xx), or failed for good with the provider's error code.

use super::provider::OutboundSms;
use crate::store::{ClaimedSend, SendResult, Store};
use crate::tenants::Tenants;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Attempts before a transiently failing message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed entry stays leased to its worker.
const LEASE_MS: i64 = 60_000;
/// Most entries a worker claims and sends at once.
const BATCH: i64 = 32;

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
}

/// Delay before retry `attempt` (1-based): 0.5 s, 1 s, 2 s, … capped at a minute.
pub fn backoff_ms(attempt: i64) -> i64 {
    (500i64 << (attempt - 1).clamp(0, 7)).min(60_000)
}

impl Outbox {
    /// Run `n` workers until the process ends.
    pub fn spawn_workers(&self, n: usize) {
        for _ in 0..n {
            let outbox = self.clone();
            tokio::spawn(async move { outbox.work().await });
        }
    }

    async fn work(self) {
        loop {
            let notified = self.notify.notified();
            match self.store.claim_sends(LEASE_MS, BATCH).await {
                Ok(sends) if !sends.is_empty() => {
                    // Hand the batch to the providers concurrently, then record
                    // every result in one transaction.
                    let mut running = tokio::task::JoinSet::new();
                    for send in sends {
                        let outbox = self.clone();
                        running.spawn(async move {
                            let result = outbox.send(&send).await;
                            (send, result)
                        });
                    }
                    let mut results = Vec::new();
                    while let Some(done) = running.join_next().await {
                        if let Ok(pair) = done {
                            results.push(pair);
                        }
                    }
                    if let Err(e) = self.store.record_sends(&results).await {
                        // The leases expire and the sends are retried.
                        tracing::error!(error = %e, "recording sends failed");
                    }
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming outbox entries failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    async fn send(&self, send: &ClaimedSend) -> SendResult {
        let Some(tenant) = self.tenants.get(&send.tenant_id) else {
            return SendResult::Failed { code: None, error: "tenant is no longer configured".into() };
        };
        let sms = OutboundSms {
            from: &send.from,
            to: &send.to,
            body: &send.body,
            idempotency_key: &send.idempotency_key,
            status_callback: self.status_callback.as_deref(),
        };
        match tenant.provider.send(&sms).await {
            Ok(accepted) => SendResult::Sent { sid: accepted.sid, status: accepted.status },
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
