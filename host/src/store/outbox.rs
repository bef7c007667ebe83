//! The outbox: queued outbound messages, their sending state and provider statuses.

use super::consent::NewConsentEvent;
use super::{Sql, Store, StoreError, StoreResult, push_case, push_list};
use crate::consent::{EventKind, Source};

/// Twilio's error for a recipient who opted out at the carrier.
pub const PROVIDER_OPT_OUT_CODE: &str = "21610";
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

/// A message to queue for sending.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// Tenant.
    pub tenant_id: String,
    /// Conversation it belongs to.
    pub conversation_id: Option<i64>,
    /// Sent once per key: a retried stage cannot queue a second copy.
    pub idempotency_key: String,
    /// bot | agent | system.
    pub author: &'static str,
    /// conversational | informational | promotional.
    pub category: &'static str,
    /// The tenant's number.
    pub from: String,
    /// The customer.
    pub to: String,
    /// Text.
    pub body: String,
    /// GSM-7 | UCS-2.
    pub encoding: &'static str,
    /// Segments.
    pub segments: u32,
    /// What it is about (frequency caps count per subject), e.g. a template name.
    pub subject: Option<String>,
    /// For an opt-out confirmation: the inbound opt-out it answers.
    pub answers_message_id: Option<i64>,
    /// Not to be sent after this (ms).
    pub expires_at: Option<i64>,
}

/// An outbox entry claimed by a sender.
#[derive(Debug, Clone)]
pub struct ClaimedSend {
    /// Outbox id.
    pub id: i64,
    /// The outbound message.
    pub message_id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Text.
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// conversational | informational | promotional | opt-out-confirmation | opt-in-confirmation | help.
    pub category: String,
    /// Subject for frequency caps.
    pub subject: Option<String>,
    /// For an opt-out confirmation: the inbound opt-out it answers.
    pub answers_message_id: Option<i64>,
    /// Not to be sent after this (ms).
    pub expires_at: Option<i64>,
    /// When an earlier provider call began whose result was never recorded
    /// (the process died, or the call's outcome was unknown): the provider
    /// may have the message, so it is settled by asking before any re-send.
    pub in_doubt_since: Option<i64>,
}

/// What became of one send.
#[derive(Debug, Clone)]
pub enum SendResult {
    /// The provider accepted it.
    Sent {
        /// Provider id.
        sid: String,
        /// Initial status.
        status: String,
    },
    /// The provider may or may not have taken it (a timeout after the request
    /// went out, a gateway error, an unanswerable lookup): asked about before
    /// any new attempt, after `delay_ms`.
    InDoubt {
        /// Delay before it is settled.
        delay_ms: i64,
        /// What happened.
        error: String,
    },
    /// A transient failure that the provider answered (it did not take the
    /// message): try again later.
    Retry {
        /// Delay before the next attempt.
        delay_ms: i64,
        /// What happened.
        error: String,
    },
    /// A permanent failure: never retried; the code is kept on the message.
    Failed {
        /// Provider error code.
        code: Option<String>,
        /// What happened.
        error: String,
    },
    /// The consent gate refused it for good.
    Blocked {
        /// Why.
        reason: String,
    },
    /// Not handled in this batch (another message to the same recipient
    /// went first); claimed again at once, not counted as an attempt.
    Released,
    /// The consent gate holds it until `until` (quiet hours, frequency cap).
    Deferred {
        /// When it may go (ms).
        until: i64,
        /// Why.
        reason: String,
    },
}

/// Where a status stands in a message's life; statuses only move forward.
/// Final outcomes share a rank, so `delivered` never falls back to `sent`
/// and a late `undelivered` cannot overwrite `delivered`; `read` follows only
/// a message that was not failed, undelivered, canceled or blocked
/// (`apply_status` holds that).
pub fn status_rank(status: &str) -> Option<i64> {
    Some(match status {
        "accepted" | "scheduled" | "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered" | "undelivered" | "failed" | "canceled" | "partially_delivered" => 4,
        "read" => 5,
        _ => return None,
    })
}

impl Store {
    /// Queue messages in the caller's transaction: each becomes an outbound
    /// message and an outbox entry, once per idempotency key (a key already
    /// queued queues nothing). Returns how many were queued.
    pub(super) async fn enqueue_batch_in(
        tx: &mut Transaction<'_, Any>,
        batch: &[&NewOutbound],
        now: i64,
    ) -> StoreResult<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let mut insert = Sql::new(
            "INSERT INTO messages (tenant_id, conversation_id, direction, author, from_number, to_number, body,
                 encoding, segments, status, status_rank, idempotency_key, created_at, updated_at) ",
        );
        insert.push_values(batch.iter().copied(), |mut row, m| {
            row.push_bind(&m.tenant_id)
                .push_bind(m.conversation_id)
                .push("'outbound'")
                .push_bind(m.author)
                .push_bind(&m.from)
                .push_bind(&m.to)
                .push_bind(&m.body)
                .push_bind(m.encoding)
                .push_bind(m.segments as i64)
                .push("'queued'")
                .push("1")
                .push_bind(&m.idempotency_key)
                .push_bind(now)
                .push_bind(now);
        });
        insert.push(
            " ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
              RETURNING id, idempotency_key",
        );
        let mut queued: HashMap<String, i64> =
            insert.build().fetch_all(&mut **tx).await?.iter().map(|r| (r.get(1), r.get(0))).collect();
        let entries: Vec<(&NewOutbound, i64)> =
            batch.iter().filter_map(|m| queued.remove(&m.idempotency_key).map(|id| (*m, id))).collect();
        if entries.is_empty() {
            return Ok(0);
        }
        let mut outbox = Sql::new(
            "INSERT INTO outbox (tenant_id, message_id, idempotency_key, category, subject, answers_message_id,
                 expires_at, status, next_attempt_at, created_at, updated_at, recipient) ",
        );
        outbox.push_values(&entries, |mut row, (m, id)| {
            row.push_bind(&m.tenant_id)
                .push_bind(*id)
                .push_bind(&m.idempotency_key)
                .push_bind(m.category)
                .push_bind(&m.subject)
                .push_bind(m.answers_message_id)
                .push_bind(m.expires_at)
                .push("'pending'")
                .push_bind(now)
                .push_bind(now)
                .push_bind(now)
                .push_bind(&m.to);
        });
        outbox.build().execute(&mut **tx).await?;
        Ok(entries.len())
    }

    /// Claim up to `limit` of the oldest due entries, leasing them for `lease_ms`.
    pub async fn claim_sends(&self, lease_ms: i64, limit: i64) -> StoreResult<Vec<ClaimedSend>> {
        self.after_inbound().await;
        let now = self.now();
        let mut tx = self.begin_background().await?;
        // One claim at a time (PostgreSQL: until this commits; SQLite: the
        // one writer), so each sees the leases the one before it took.
        if let Some(serialise) = self.engine.serialise_claims() {
            sqlx::query(serialise).execute(&mut *tx).await?;
        }
        // Not a send whose recipient has another send leased (in flight):
        // one at a time per number, whichever worker or process holds it.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET locked_until = $1, lease_owner = $4, attempts = attempts + 1, updated_at = $2
             WHERE id IN (SELECT id FROM outbox o WHERE status = 'pending' AND next_attempt_at <= $2
                          AND locked_until < $2
                          AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.status = 'pending'
                              AND b.tenant_id = o.tenant_id AND b.recipient = o.recipient
                              AND b.locked_until >= $2 AND b.id <> o.id)
                          ORDER BY id LIMIT $3{})
             RETURNING id, message_id, tenant_id, idempotency_key, attempts, category, subject, answers_message_id,
                 expires_at, attempt_at",
            self.engine.skip_locked()
        )))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .bind(self.owner.as_ref())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT id, from_number, to_number, body FROM messages WHERE id IN ");
        push_list(&mut q, rows.iter().map(|r| r.get::<i64, _>(1)));
        let mut texts: HashMap<i64, (String, String, String)> = q
            .build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|m| (m.get(0), (m.get(1), m.get(2), m.get(3))))
            .collect();
        let mut sends = Vec::with_capacity(rows.len());
        for r in rows {
            let message_id: i64 = r.get(1);
            let (from, to, body) = texts
                .remove(&message_id)
                .ok_or_else(|| StoreError::Corrupt(format!("outbound message {message_id} is missing")))?;
            sends.push(ClaimedSend {
                id: r.get(0),
                message_id,
                tenant_id: r.get(2),
                idempotency_key: r.get(3),
                attempts: r.get(4),
                category: r.get(5),
                subject: r.get(6),
                answers_message_id: r.get(7),
                expires_at: r.get(8),
                in_doubt_since: r.get(9),
                from,
                to,
                body,
            });
        }
        sends.sort_by_key(|s| s.id);
        Ok(sends)
    }

    /// Mark the start of provider calls, committed before any call is made:
    /// until its result is recorded, each entry is in doubt. Should the
    /// process die, the entry becomes due again only after `settle_ms` (when
    /// the dead process's request has long finished at the provider) and is
    /// then settled by asking the provider. Returns the entries this process
    /// still leases: only those may be sent.
    pub async fn begin_attempts(&self, outbox_ids: &[i64], settle_ms: i64) -> StoreResult<HashSet<i64>> {
        if outbox_ids.is_empty() {
            return Ok(HashSet::new());
        }
        self.after_inbound().await;
        let now = self.now();
        // Fencing: only sends this process still leases; one whose lease ran
        // out (this process stalled) may be another worker's now.
        let mut q = Sql::new("UPDATE outbox SET attempt_at = ");
        q.push_bind(now).push(", next_attempt_at = ").push_bind(now + settle_ms);
        q.push(" WHERE status = 'pending' AND lease_owner = ").push_bind(self.owner.as_ref()).push(" AND id IN ");
        push_list(&mut q, outbox_ids.iter().copied());
        q.push(" RETURNING id");
        Ok(q.build().fetch_all(&self.writer).await?.iter().map(|r| r.get(0)).collect())
    }

    /// Of these provider ids, those already recorded on one of the tenant's
    /// messages (settling an in-doubt send never claims a message twice).
    pub async fn known_provider_sids(&self, tenant_id: &str, sids: &[String]) -> StoreResult<HashSet<String>> {
        if sids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut q = Sql::new("SELECT provider_sid FROM messages WHERE tenant_id = ");
        q.push_bind(tenant_id).push(" AND provider_sid IN ");
        push_list(&mut q, sids.iter().map(String::as_str));
        Ok(q.build().fetch_all(&self.writer).await?.iter().map(|r| r.get(0)).collect())
    }

    /// Record what happened to a batch of sends, in one transaction.
    pub async fn record_sends(&self, results: &[(ClaimedSend, SendResult)]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        // Accepted sends, the common case, in two statements for the batch.
        let sent: Vec<(&ClaimedSend, &str, &str)> = results
            .iter()
            .filter_map(|(send, r)| match r {
                SendResult::Sent { sid, status } => Some((send, sid.as_str(), status.as_str())),
                _ => None,
            })
            .collect();
        if !sent.is_empty() {
            let mut q =
                Sql::new("UPDATE outbox SET status = 'sent', attempt_at = NULL, lease_owner = NULL, updated_at = ");
            q.push_bind(now).push(", sent_at = ").push_bind(now).push(" WHERE id IN ");
            push_list(&mut q, sent.iter().map(|(s, _, _)| s.id));
            q.build().execute(&mut *tx).await?;
            // Statuses only move forward: a callback may already have come.
            let mut q = Sql::new("UPDATE messages SET provider_sid = ");
            push_case(&mut q, "id", sent.iter().map(|(s, sid, _)| (s.message_id, *sid)));
            q.push(", status = CASE");
            for (s, _, status) in &sent {
                let rank = status_rank(status).unwrap_or(1);
                q.push(" WHEN id = ").push_bind(s.message_id).push(" AND status_rank < ").push_bind(rank);
                q.push(" THEN ").push_bind(*status);
            }
            q.push(" ELSE status END, status_rank = CASE");
            for (s, _, status) in &sent {
                let rank = status_rank(status).unwrap_or(1);
                q.push(" WHEN id = ").push_bind(s.message_id).push(" AND status_rank < ").push_bind(rank);
                q.push(" THEN ").push_bind(rank);
            }
            q.push(" ELSE status_rank END, updated_at = ").push_bind(now).push(" WHERE id IN ");
            push_list(&mut q, sent.iter().map(|(s, _, _)| s.message_id));
            q.build().execute(&mut *tx).await?;
        }
        let mut opt_outs = Vec::new();
        for (send, result) in results {
            match result {
                SendResult::Sent { .. } => {}
                SendResult::Released => {
                    sqlx::query(
                        "UPDATE outbox SET locked_until = 0, lease_owner = NULL, attempts = attempts - 1, attempt_at = NULL
                         WHERE id = $1 AND lease_owner = $2",
                    )
                    .bind(send.id)
                    .bind(self.owner.as_ref())
                    .execute(&mut *tx)
                    .await?;
                }
                SendResult::Blocked { reason } => {
                    sqlx::query(
                        "UPDATE outbox SET status = 'blocked', attempt_at = NULL, lease_owner = NULL, last_error = $1,
                             updated_at = $2
                         WHERE id = $3",
                    )
                    .bind(reason)
                    .bind(now)
                    .bind(send.id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE messages SET status = 'blocked', status_rank = 4, updated_at = $1 WHERE id = $2",
                    )
                    .bind(now)
                    .bind(send.message_id)
                    .execute(&mut *tx)
                    .await?;
                    Self::send_decision_in(&mut tx, send, "blocked", reason, None, now).await?;
                }
                SendResult::Deferred { until, reason } => {
                    // Waiting is not an attempt.
                    sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $1, locked_until = 0, lease_owner = NULL,
                             attempts = attempts - 1, attempt_at = NULL, last_error = $2, updated_at = $3
                         WHERE id = $4 AND lease_owner = $5",
                    )
                    .bind(until)
                    .bind(reason)
                    .bind(now)
                    .bind(send.id)
                    .bind(self.owner.as_ref())
                    .execute(&mut *tx)
                    .await?;
                    Self::send_decision_in(&mut tx, send, "deferred", reason, Some(*until), now).await?;
                }
                SendResult::Retry { delay_ms, error } | SendResult::InDoubt { delay_ms, error } => {
                    // In doubt, attempt_at stays: the next claim asks the provider first.
                    let in_doubt = i64::from(matches!(result, SendResult::InDoubt { .. }));
                    sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $1, locked_until = 0, lease_owner = NULL, last_error = $2,
                             updated_at = $3, attempt_at = CASE WHEN $4 = 1 THEN attempt_at ELSE NULL END
                         WHERE id = $5 AND lease_owner = $6",
                    )
                    .bind(now + delay_ms)
                    .bind(error)
                    .bind(now)
                    .bind(in_doubt)
                    .bind(send.id)
                    .bind(self.owner.as_ref())
                    .execute(&mut *tx)
                    .await?;
                }
                SendResult::Failed { code, error } => {
                    sqlx::query(
                        "UPDATE outbox SET status = 'failed', attempt_at = NULL, lease_owner = NULL, last_error = $1,
                             updated_at = $2
                         WHERE id = $3",
                    )
                    .bind(error)
                    .bind(now)
                    .bind(send.id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE messages SET status = 'failed', status_rank = 4, error_code = $1, updated_at = $2
                         WHERE id = $3",
                    )
                    .bind(code)
                    .bind(now)
                    .bind(send.message_id)
                    .execute(&mut *tx)
                    .await?;
                    // Twilio 21610: the recipient replied STOP at the carrier.
                    if code.as_deref() == Some(PROVIDER_OPT_OUT_CODE) {
                        opt_outs.push(NewConsentEvent {
                            tenant_id: send.tenant_id.clone(),
                            phone: send.to.clone(),
                            program: send.from.clone(),
                            purpose: "all".into(),
                            event: EventKind::ProviderOptOut,
                            source: Source::Provider,
                            matched: Some(PROVIDER_OPT_OUT_CODE.into()),
                            message_id: None,
                            text: Some(error.clone()),
                            disclosure_version: None,
                        });
                    }
                }
            }
        }
        let opt_outs: Vec<&NewConsentEvent> = opt_outs.iter().collect();
        Self::append_consent_in(&mut tx, &opt_outs, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn send_decision_in(
        tx: &mut Transaction<'_, Any>,
        send: &ClaimedSend,
        decision: &str,
        reason: &str,
        until: Option<i64>,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO send_decisions (outbox_id, tenant_id, decision, reason, until_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(send.id)
        .bind(&send.tenant_id)
        .bind(decision)
        .bind(reason)
        .bind(until)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Queue one message to a contact, filed in the contact's open
    /// conversation (opened if there is none): notifications and agent
    /// replies. Returns the outbound message id, or `None` if the key was
    /// already queued.
    pub async fn enqueue_to_contact(&self, mut message: NewOutbound) -> StoreResult<Option<(i64, i64)>> {
        let now = self.now();
        let mut tx = self.writer.begin().await?;
        let contact: i64 = sqlx::query(
            "INSERT INTO contacts (tenant_id, phone, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, phone) DO UPDATE SET phone = excluded.phone RETURNING id",
        )
        .bind(&message.tenant_id)
        .bind(&message.to)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let open: Option<i64> = sqlx::query(
            "SELECT id FROM conversations WHERE contact_id = $1 AND status = 'open' ORDER BY id DESC LIMIT 1",
        )
        .bind(contact)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get(0));
        let conversation = match open {
            Some(id) => id,
            None => {
                // A proactive message opens a ticket with its reference, like a customer's.
                let refs = Self::take_ticket_refs_in(&mut tx, &[(message.tenant_id.clone(), 1)]).await?;
                let ref_no = refs.get(&message.tenant_id).copied().unwrap_or(0) + 1;
                sqlx::query(
                    "INSERT INTO conversations (tenant_id, contact_id, tenant_number, status, owner, created_at,
                         updated_at, last_message_at, ref_no)
                     VALUES ($1, $2, $3, 'open', 'bot', $4, $4, $4, $5) RETURNING id",
                )
                .bind(&message.tenant_id)
                .bind(contact)
                .bind(&message.from)
                .bind(now)
                .bind(ref_no)
                .fetch_one(&mut *tx)
                .await?
                .get(0)
            }
        };
        message.conversation_id = Some(conversation);
        let queued = Self::enqueue_batch_in(&mut tx, &[&message], now).await?;
        let id: Option<i64> = if queued == 1 {
            sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(conversation)
                .execute(&mut *tx)
                .await?;
            sqlx::query("SELECT id FROM messages WHERE idempotency_key = $1")
                .bind(&message.idempotency_key)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0))
        } else {
            None
        };
        tx.commit().await?;
        Ok(id.map(|id| (id, conversation)))
    }

    /// The gate's record for an outbox entry: (decision, reason, until), oldest first.
    pub async fn send_decisions(&self, outbound_message_id: i64) -> StoreResult<Vec<(String, String, Option<i64>)>> {
        let rows = sqlx::query(
            "SELECT d.decision, d.reason, d.until_at FROM send_decisions d JOIN outbox o ON o.id = d.outbox_id
             WHERE o.message_id = $1 ORDER BY d.id",
        )
        .bind(outbound_message_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// Apply a provider status callback. Moves forward only; returns whether
    /// anything changed (`false` for unknown ids and stale or repeated statuses).
    pub async fn apply_status(
        &self,
        tenant_id: &str,
        provider_sid: &str,
        status: &str,
        error_code: Option<&str>,
    ) -> StoreResult<bool> {
        let Some(rank) = status_rank(status) else { return Ok(false) };
        let done = sqlx::query(
            "UPDATE messages SET status = $1, status_rank = $2, error_code = COALESCE($3, error_code), updated_at = $4
             WHERE provider_sid = $5 AND tenant_id = $6 AND direction = 'outbound' AND status_rank < $2
                 AND ($2 < 5 OR status NOT IN ('failed', 'undelivered', 'canceled', 'blocked'))",
        )
        .bind(status)
        .bind(rank)
        .bind(error_code)
        .bind(self.now())
        .bind(provider_sid)
        .bind(tenant_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Outbox entries by status, for tests and health: (pending, sent, failed).
    pub async fn outbox_counts(&self) -> StoreResult<(i64, i64, i64)> {
        let r = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) AS BIGINT),
                    CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM outbox",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok((r.get(0), r.get(1), r.get(2)))
    }

    /// Sends claimed by a worker whose result is not recorded yet (every
    /// recorded result clears the lease's owner).
    pub async fn sends_in_flight(&self) -> StoreResult<i64> {
        let q = "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND lease_owner IS NOT NULL";
        Ok(sqlx::query(q).fetch_one(&self.reader).await?.get(0))
    }

    /// Work waiting: (pipeline jobs pending, outbox sends pending).
    pub async fn backlog(&self) -> StoreResult<(i64, i64)> {
        let jobs = sqlx::query("SELECT COUNT(*) FROM jobs WHERE status = 'pending'").fetch_one(&self.reader).await?;
        let sends = sqlx::query("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetch_one(&self.reader).await?;
        Ok((jobs.get(0), sends.get(0)))
    }
}
