//! The outbox: queued outbound messages, their sending state and provider statuses.

use super::{Store, StoreResult, now_ms};
use sqlx::{Row, Sqlite, Transaction};

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
    /// A transient failure: try again later.
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
}

/// Where a status stands in a message's life; statuses only move forward.
/// Final outcomes share the top rank, so `delivered` never falls back to `sent`
/// and a late `undelivered` cannot overwrite `delivered`.
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
    pub(super) async fn enqueue_in(tx: &mut Transaction<'_, Sqlite>, m: &NewOutbound, now: i64) -> StoreResult<bool> {
        let exists = sqlx::query("SELECT 1 FROM outbox WHERE idempotency_key = $1")
            .bind(&m.idempotency_key)
            .fetch_optional(&mut **tx)
            .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let id: i64 = sqlx::query(
            "INSERT INTO messages (tenant_id, conversation_id, direction, author, from_number, to_number, body,
                 encoding, segments, status, status_rank, created_at, updated_at)
             VALUES ($1, $2, 'outbound', $3, $4, $5, $6, $7, $8, 'queued', 1, $9, $9) RETURNING id",
        )
        .bind(&m.tenant_id)
        .bind(m.conversation_id)
        .bind(m.author)
        .bind(&m.from)
        .bind(&m.to)
        .bind(&m.body)
        .bind(m.encoding)
        .bind(m.segments as i64)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?
        .get(0);
        sqlx::query(
            "INSERT INTO outbox (tenant_id, message_id, idempotency_key, category, status, next_attempt_at,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5)",
        )
        .bind(&m.tenant_id)
        .bind(id)
        .bind(&m.idempotency_key)
        .bind(m.category)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if let Some(c) = m.conversation_id {
            sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(c)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }

    /// Claim up to `limit` of the oldest due entries, leasing them for `lease_ms`.
    pub async fn claim_sends(&self, lease_ms: i64, limit: i64) -> StoreResult<Vec<ClaimedSend>> {
        self.after_inbound().await;
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE outbox SET locked_until = $1, attempts = attempts + 1, updated_at = $2
             WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $2
                          AND locked_until < $2 ORDER BY id LIMIT $3)
             RETURNING id, message_id, tenant_id, idempotency_key, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        let mut sends = Vec::with_capacity(rows.len());
        for r in rows {
            let message_id: i64 = r.get(1);
            let m = sqlx::query("SELECT from_number, to_number, body FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_one(&self.reader)
                .await?;
            sends.push(ClaimedSend {
                id: r.get(0),
                message_id,
                tenant_id: r.get(2),
                idempotency_key: r.get(3),
                attempts: r.get(4),
                from: m.get(0),
                to: m.get(1),
                body: m.get(2),
            });
        }
        sends.sort_by_key(|s| s.id);
        Ok(sends)
    }

    /// Record what happened to a batch of sends, in one transaction.
    pub async fn record_sends(&self, results: &[(ClaimedSend, SendResult)]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        for (send, result) in results {
            match result {
                SendResult::Sent { sid, status } => {
                    sqlx::query("UPDATE outbox SET status = 'sent', updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(send.id)
                        .execute(&mut *tx)
                        .await?;
                    let rank = status_rank(status).unwrap_or(1);
                    sqlx::query(
                        "UPDATE messages SET provider_sid = $1,
                             status = CASE WHEN status_rank < $2 THEN $3 ELSE status END,
                             status_rank = CASE WHEN status_rank < $2 THEN $2 ELSE status_rank END,
                             updated_at = $4
                         WHERE id = $5",
                    )
                    .bind(sid)
                    .bind(rank)
                    .bind(status)
                    .bind(now)
                    .bind(send.message_id)
                    .execute(&mut *tx)
                    .await?;
                }
                SendResult::Retry { delay_ms, error } => {
                    sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $1, locked_until = 0, last_error = $2, updated_at = $3
                         WHERE id = $4",
                    )
                    .bind(now + delay_ms)
                    .bind(error)
                    .bind(now)
                    .bind(send.id)
                    .execute(&mut *tx)
                    .await?;
                }
                SendResult::Failed { code, error } => {
                    sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, updated_at = $2 WHERE id = $3")
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
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Apply a provider status callback. Moves forward only; returns whether
    /// anything changed (`false` for unknown ids and stale or repeated statuses).
    pub async fn apply_status(&self, provider_sid: &str, status: &str, error_code: Option<&str>) -> StoreResult<bool> {
        let Some(rank) = status_rank(status) else { return Ok(false) };
        let done = sqlx::query(
            "UPDATE messages SET status = $1, status_rank = $2, error_code = COALESCE($3, error_code), updated_at = $4
             WHERE provider_sid = $5 AND direction = 'outbound' AND status_rank < $2",
        )
        .bind(status)
        .bind(rank)
        .bind(error_code)
        .bind(now_ms())
        .bind(provider_sid)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Outbox entries by status, for tests and health: (pending, sent, failed).
    pub async fn outbox_counts(&self) -> StoreResult<(i64, i64, i64)> {
        let r = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) FROM outbox",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok((r.get(0), r.get(1), r.get(2)))
    }
}
