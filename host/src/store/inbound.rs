//! Inbound messages and their processing jobs.

use super::{Sql, Store, StoreResult};
use sqlx::Row;
use std::collections::HashMap;

/// A verified, redacted inbound message to store with its processing job.
#[derive(Debug, Clone)]
pub struct NewInbound {
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// The provider's message id (`MessageSid`), the dedupe key.
    pub provider_sid: String,
    /// The customer's number.
    pub from: String,
    /// The tenant's number (or sender) it was sent to.
    pub to: String,
    /// Redacted text.
    pub body: String,
    /// MMS media URLs.
    pub media_urls: Vec<String>,
    /// GSM-7 or UCS-2.
    pub encoding: &'static str,
    /// Segments of the body.
    pub segments: u32,
}

/// What storing an inbound message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Stored with a new job (the message id).
    Stored(i64),
    /// Already stored earlier (a provider retry); nothing new was written.
    Duplicate,
}

/// A processing job claimed by a pipeline worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job.
    pub id: i64,
    /// The inbound message it processes.
    pub message_id: i64,
    /// How many times it was claimed, this time included.
    pub attempts: i64,
}

impl Store {
    /// Store a batch of inbound messages and their jobs in one transaction
    /// (group commit). A message whose provider id is already stored is a
    /// duplicate and creates nothing.
    pub async fn insert_inbound_batch(&self, batch: &[NewInbound]) -> StoreResult<Vec<InboundOutcome>> {
        self.inbound_waiting.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let result = self.insert_inbound_batch_now(batch).await;
        self.inbound_waiting.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        result
    }

    async fn insert_inbound_batch_now(&self, batch: &[NewInbound]) -> StoreResult<Vec<InboundOutcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let media: Vec<String> =
            batch.iter().map(|m| serde_json::to_string(&m.media_urls).unwrap_or_else(|_| "[]".into())).collect();
        let mut tx = self.writer.begin().await?;
        // One INSERT for the whole batch; a provider id already stored (or
        // twice in this batch) inserts nothing and is a duplicate.
        let mut insert = Sql::new(
            "INSERT INTO messages (tenant_id, direction, author, from_number, to_number, body, media_urls,
                 encoding, segments, provider_sid, status, status_rank, created_at, updated_at) ",
        );
        insert.push_values(batch.iter().zip(&media), |mut row, (m, media)| {
            row.push_bind(&m.tenant_id)
                .push("'inbound'")
                .push("'customer'")
                .push_bind(&m.from)
                .push_bind(&m.to)
                .push_bind(&m.body)
                .push_bind(media)
                .push_bind(m.encoding)
                .push_bind(m.segments as i64)
                .push_bind(&m.provider_sid)
                .push("'received'")
                .push("0")
                .push_bind(now)
                .push_bind(now);
        });
        insert
            .push(" ON CONFLICT (tenant_id, direction, provider_sid) DO NOTHING RETURNING id, tenant_id, provider_sid");
        let mut stored: HashMap<(String, String), i64> =
            insert.build().fetch_all(&mut *tx).await?.iter().map(|r| ((r.get(1), r.get(2)), r.get(0))).collect();
        let outcomes: Vec<InboundOutcome> = batch
            .iter()
            .map(|m| match stored.remove(&(m.tenant_id.clone(), m.provider_sid.clone())) {
                Some(id) => InboundOutcome::Stored(id),
                None => InboundOutcome::Duplicate,
            })
            .collect();
        // Jobs in arrival order, so a conversation's messages are processed in order.
        let ids: Vec<i64> =
            outcomes.iter().filter_map(|o| if let InboundOutcome::Stored(id) = o { Some(*id) } else { None }).collect();
        if !ids.is_empty() {
            let mut jobs = Sql::new("INSERT INTO jobs (message_id, status, created_at, updated_at) ");
            jobs.push_values(&ids, |mut row, id| {
                row.push_bind(*id).push("'pending'").push_bind(now).push_bind(now);
            });
            jobs.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Claim up to `limit` of the oldest jobs that are pending and not locked
    /// by a live worker. A worker that dies leaves its lease to expire, and the
    /// jobs are claimed again (processing is at-least-once; replies are
    /// deduplicated by key).
    pub async fn claim_jobs(&self, lease_ms: i64, limit: i64) -> StoreResult<Vec<ClaimedJob>> {
        self.after_inbound().await;
        let now = self.now();
        let mut tx = self.begin_background().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET locked_until = $1, lease_owner = $4, attempts = attempts + 1, updated_at = $2
             WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' AND locked_until < $2 ORDER BY id LIMIT $3{})
             RETURNING id, message_id, attempts",
            self.engine.skip_locked()
        )))
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .bind(self.owner.as_ref())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut jobs: Vec<ClaimedJob> =
            rows.iter().map(|r| ClaimedJob { id: r.get(0), message_id: r.get(1), attempts: r.get(2) }).collect();
        jobs.sort_by_key(|j| j.id);
        Ok(jobs)
    }

    /// Release a job for a later retry, recording why.
    pub async fn retry_job(&self, job_id: i64, delay_ms: i64, error: &str) -> StoreResult<()> {
        let now = self.now();
        sqlx::query(
            "UPDATE jobs SET locked_until = $1, lease_owner = NULL, last_error = $2, updated_at = $3
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(now + delay_ms)
        .bind(error)
        .bind(now)
        .bind(job_id)
        .bind(self.owner.as_ref())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Jobs not yet done (for tests and health).
    pub async fn pending_jobs(&self) -> StoreResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM jobs WHERE status = 'pending'").fetch_one(&self.reader).await?.get(0))
    }

    /// Keep this process's leases alive: push out every lease it holds on
    /// work still pending (the heartbeat, `server::start`). A process that
    /// stops renewing loses its leases when they run out, and any worker of
    /// any process takes the work.
    pub async fn renew_leases(&self, lease_ms: i64) -> StoreResult<(u64, u64)> {
        let until = self.now() + lease_ms;
        let mut renewed = [0u64; 2];
        for (i, table) in ["jobs", "outbox"].into_iter().enumerate() {
            renewed[i] = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET locked_until = $1 WHERE status = 'pending' AND lease_owner = $2"
            )))
            .bind(until)
            .bind(self.owner.as_ref())
            .execute(&self.writer)
            .await?
            .rows_affected();
        }
        Ok((renewed[0], renewed[1]))
    }

    /// Release the leases of work still pending that `whose` names.
    /// `Store::release_leases` (start-up) and `hand_back_leases` choose.
    pub(super) async fn release_leases_of(&self, whose: Leases<'_>) -> StoreResult<(u64, u64)> {
        let mut released = [0u64; 2];
        for (i, table) in ["jobs", "outbox"].into_iter().enumerate() {
            let mut q = Sql::new(format!(
                "UPDATE {table} SET locked_until = 0, lease_owner = NULL WHERE status = 'pending' AND locked_until > 0"
            ));
            match whose {
                Leases::All => {}
                Leases::EarlierRunsOf(replica) => {
                    // Not `LIKE`, which would read `_` and `%` in a name as
                    // patterns; `SUBSTR` counts characters, not bytes.
                    q.push(" AND SUBSTR(lease_owner, 1, CAST(")
                        .push_bind(replica.chars().count() as i64 + 1)
                        .push(" AS INTEGER)) = ");
                    q.push_bind(format!("{replica}#")).push(" AND lease_owner <> ").push_bind(self.owner.as_ref());
                }
                Leases::Mine => {
                    q.push(" AND lease_owner = ").push_bind(self.owner.as_ref());
                }
            }
            released[i] = q.build().execute(&self.writer).await?.rows_affected();
        }
        Ok((released[0], released[1]))
    }

    /// Hand back the leases this process holds (shutting down): the work
    /// is anyone's at once, and a worker of this process that is still
    /// running can no longer record a result for it (results are fenced to
    /// the lease's holder).
    pub async fn hand_back_leases(&self) -> StoreResult<(u64, u64)> {
        self.release_leases_of(Leases::Mine).await
    }
}

/// Whose leases `release_leases_of` releases.
#[derive(Debug, Clone, Copy)]
pub(super) enum Leases<'a> {
    /// Every process's (SQLite: one process owns the file).
    All,
    /// Those an earlier run of this replica held (its name before the `#`;
    /// never this process's own).
    EarlierRunsOf(&'a str),
    /// This process's own.
    Mine,
}
