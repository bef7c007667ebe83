//! The raw facts a report is computed from (`crate::reports`), read for one
//! tenant and period in one read transaction.

use super::{Store, StoreResult};
use sqlx::Row;

/// One conversation opened in the period.
#[derive(Debug, Clone)]
pub struct ReportConversation {
    /// Status now.
    pub status: String,
    /// A person worked it.
    pub human_involved: bool,
    /// Times reopened.
    pub reopened: i64,
    /// Resolved (ms), if it is resolved or closed.
    pub resolved_at: Option<i64>,
    /// Handed to a human (ms).
    pub handed_off_at: Option<i64>,
    /// First human reply (ms).
    pub first_human_response_at: Option<i64>,
    /// The customer's first message (ms).
    pub first_inbound_at: Option<i64>,
    /// The first reply by a bot (ms).
    pub first_bot_reply_at: Option<i64>,
    /// Segments of every message in it.
    pub segments: i64,
}

/// An outbound message handed to the provider in the period.
#[derive(Debug, Clone)]
pub struct ReportSend {
    /// Provider status now.
    pub status: String,
    /// Provider error code.
    pub error_code: Option<String>,
}

/// Everything a report needs.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// Inbound messages received in the period.
    pub messages_in: i64,
    /// Outbound messages handed to the provider in the period.
    pub sends: Vec<ReportSend>,
    /// Conversations opened in the period.
    pub conversations: Vec<ReportConversation>,
    /// Tickets resolved in the period: (reopened count).
    pub resolved: Vec<i64>,
    /// Surveys sent in the period.
    pub surveys_sent: i64,
    /// Ratings received in the period.
    pub ratings: Vec<i64>,
    /// Distinct customers who wrote in the period.
    pub contacts_writing: i64,
    /// Distinct customers who opted out in the period.
    pub contacts_opting_out: i64,
}

impl Store {
    /// The facts for a report on `tenant_id` over `[since, until)` (ms).
    pub async fn report_data(&self, tenant_id: &str, since: i64, until: i64) -> StoreResult<ReportData> {
        let mut tx = self.snapshot().await?;
        let messages_in = sqlx::query(
            "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND direction = 'inbound'
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let mut d = ReportData { messages_in, ..ReportData::default() };
        d.sends = sqlx::query(
            "SELECT status, error_code FROM messages WHERE tenant_id = $1 AND direction = 'outbound'
             AND provider_sid IS NOT NULL AND created_at >= $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| ReportSend { status: r.get(0), error_code: r.get(1) })
        .collect();
        d.conversations = sqlx::query(
            "SELECT c.status, c.human_involved, c.reopened, c.resolved_at, c.handed_off_at, c.first_human_response_at,
                    (SELECT MIN(created_at) FROM messages WHERE conversation_id = c.id AND direction = 'inbound'),
                    (SELECT MIN(created_at) FROM messages WHERE conversation_id = c.id AND direction = 'outbound'
                        AND author = 'bot'),
                    (SELECT CAST(COALESCE(SUM(segments), 0) AS BIGINT) FROM messages WHERE conversation_id = c.id)
             FROM conversations c WHERE c.tenant_id = $1 AND c.created_at >= $2 AND c.created_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| ReportConversation {
            status: r.get(0),
            human_involved: r.get::<i64, _>(1) != 0,
            reopened: r.get(2),
            resolved_at: r.get(3),
            handed_off_at: r.get(4),
            first_human_response_at: r.get(5),
            first_inbound_at: r.get(6),
            first_bot_reply_at: r.get(7),
            segments: r.get(8),
        })
        .collect();
        d.resolved = sqlx::query(
            "SELECT reopened FROM conversations WHERE tenant_id = $1 AND status IN ('resolved', 'closed')
             AND resolved_at >= $2 AND resolved_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
        d.surveys_sent = sqlx::query(
            "SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND csat_sent_at >= $2 AND csat_sent_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        d.ratings = sqlx::query(
            "SELECT csat_rating FROM conversations WHERE tenant_id = $1 AND csat_rating IS NOT NULL
             AND csat_at >= $2 AND csat_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
        d.contacts_writing = sqlx::query(
            "SELECT COUNT(DISTINCT from_number) FROM messages WHERE tenant_id = $1 AND direction = 'inbound'
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        d.contacts_opting_out = sqlx::query(
            "SELECT COUNT(DISTINCT phone) FROM consent_events WHERE tenant_id = $1
             AND event IN ('opt-out', 'revocation-detected', 'provider-opt-out')
             AND created_at >= $2 AND created_at < $3",
        )
        .bind(tenant_id)
        .bind(since)
        .bind(until)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        tx.commit().await?;
        Ok(d)
    }
}

/// A recorded plugin call: (plugin, role, outcome, error kind, detail).
pub type RecordedCall = (String, String, String, Option<String>, Option<String>);

/// An inbound message as a replay sees it: what the plugins had, and what
/// the running plugins decided.
#[derive(Debug, Clone)]
pub struct ReplayRow {
    /// The inbound message.
    pub message: super::InboundRow,
    /// Its conversation.
    pub conversation_id: i64,
    /// The contact's cached CRM profile (JSON), as it is now.
    pub profile_json: Option<String>,
    /// Plugin calls made for it: (plugin, role, outcome, error kind, detail).
    pub traces: Vec<RecordedCall>,
    /// The bot's reply to it, if one was queued.
    pub reply: Option<String>,
}

impl Store {
    /// A tenant's inbound messages in `[since, until)` (or in the given
    /// conversations), oldest first, at most `limit`, with their traces and replies.
    pub async fn replay_rows(
        &self,
        tenant_id: &str,
        since: Option<i64>,
        until: Option<i64>,
        conversations: &[i64],
        limit: i64,
    ) -> StoreResult<Vec<ReplayRow>> {
        let mut tx = self.snapshot().await?;
        let mut q = super::Sql::new(
            "SELECT m.id, m.tenant_id, m.from_number, m.to_number, m.body, m.media_urls, m.created_at,
                    m.conversation_id, k.profile_json,
                    (SELECT r.body FROM outbox o JOIN messages r ON r.id = o.message_id
                     WHERE o.idempotency_key = 'reply:' || m.id) AS reply
             FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id
             WHERE m.direction = 'inbound' AND m.tenant_id = ",
        );
        q.push_bind(tenant_id.to_string());
        if let Some(s) = since {
            q.push(" AND m.created_at >= ").push_bind(s);
        }
        if let Some(u) = until {
            q.push(" AND m.created_at < ").push_bind(u);
        }
        if !conversations.is_empty() {
            q.push(" AND m.conversation_id IN ");
            super::push_list(&mut q, conversations.iter().copied());
        }
        q.push(" ORDER BY m.id LIMIT ").push_bind(limit);
        let mut out = Vec::new();
        for r in q.build().fetch_all(&mut *tx).await? {
            let id: i64 = r.get(0);
            let traces = sqlx::query(
                "SELECT plugin, role, outcome, error_kind, detail FROM plugin_traces WHERE message_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|t| (t.get(0), t.get(1), t.get(2), t.get(3), t.get(4)))
            .collect();
            out.push(ReplayRow {
                message: super::InboundRow {
                    id,
                    tenant_id: r.get(1),
                    from: r.get(2),
                    to: r.get(3),
                    body: r.get(4),
                    media_urls: serde_json::from_str(r.get::<&str, _>(5)).unwrap_or_default(),
                    created_at: r.get(6),
                },
                conversation_id: r.get(7),
                profile_json: r.get(8),
                traces,
                reply: r.get(9),
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}
