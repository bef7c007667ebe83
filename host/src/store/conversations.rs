//! Contacts, conversations and their messages; applying a pipeline outcome.

use super::{Store, StoreError, StoreResult, now_ms};
use crate::domain::{Author, Decision, Intent, Turn};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// An inbound message as the pipeline loads it.
#[derive(Debug, Clone)]
pub struct InboundRow {
    /// Message id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// Customer number.
    pub from: String,
    /// Tenant number.
    pub to: String,
    /// Redacted body.
    pub body: String,
    /// Media URLs.
    pub media_urls: Vec<String>,
    /// Receive time (ms).
    pub created_at: i64,
}

/// The conversation a message belongs to, after identification.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    /// Conversation id.
    pub id: i64,
    /// Contact id.
    pub contact_id: i64,
    /// `bot` or `human`.
    pub owner: String,
    /// Cached CRM profile (JSON) and when it was fetched (ms).
    pub profile: Option<(String, i64)>,
}

/// A message as the read API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// inbound | outbound.
    pub direction: String,
    /// customer | bot | agent | system.
    pub author: String,
    /// Text.
    pub body: String,
    /// GSM-7 | UCS-2.
    pub encoding: String,
    /// Segments.
    pub segments: i64,
    /// Provider status.
    pub status: String,
    /// Provider message id.
    pub provider_sid: Option<String>,
    /// Provider error code, if any.
    pub error_code: Option<String>,
    /// Created (ms).
    pub created_at: i64,
}

/// A conversation in a list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    /// Id.
    pub id: i64,
    /// Customer number.
    pub contact: String,
    /// open | resolved.
    pub status: String,
    /// bot | human.
    pub owner: String,
    /// Why it went to a human.
    pub handoff_reason: Option<String>,
    /// Handoff priority.
    pub handoff_priority: Option<String>,
    /// Handoff team.
    pub handoff_team: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Last intents found.
    pub intents: Vec<Intent>,
    /// The newest message.
    pub last_message: Option<MessageRow>,
    /// Updated (ms).
    pub updated_at: i64,
}

/// One conversation with everything in it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: ConversationSummary,
    /// The CRM profile, if any (JSON).
    pub profile: Option<serde_json::Value>,
    /// Messages, oldest first.
    pub messages: Vec<MessageRow>,
    /// Plugin calls made for it.
    pub traces: Vec<super::TraceRow>,
}

/// What the pipeline decided for a message, applied in one transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The job to mark done.
    pub job_id: i64,
    /// The inbound message.
    pub message_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// Intents found.
    pub intents: Vec<Intent>,
    /// The decision (a failure has become a handoff by now).
    pub decision: Decision,
    /// A reply to queue, with the sender and recipient.
    pub reply: Option<super::NewOutbound>,
    /// Plugin calls made for the message.
    pub traces: Vec<super::NewTrace>,
    /// A human owns the conversation: record the traces, finish the job, change nothing else.
    pub human_owned: bool,
    /// A CRM answer to cache: (contact id, profile JSON or `null`).
    pub profile_cache: Option<(i64, String)>,
}

fn message_row(r: &SqliteRow) -> MessageRow {
    MessageRow {
        id: r.get("id"),
        direction: r.get("direction"),
        author: r.get("author"),
        body: r.get("body"),
        encoding: r.get("encoding"),
        segments: r.get("segments"),
        status: r.get("status"),
        provider_sid: r.get("provider_sid"),
        error_code: r.get("error_code"),
        created_at: r.get("created_at"),
    }
}

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<Vec<T>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("JSON list: {e}")))
}

impl Store {
    /// Load an inbound message for processing.
    pub async fn inbound(&self, message_id: i64) -> StoreResult<InboundRow> {
        let r = sqlx::query(
            "SELECT id, tenant_id, from_number, to_number, body, media_urls, created_at FROM messages WHERE id = $1",
        )
        .bind(message_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(InboundRow {
            id: r.get(0),
            tenant_id: r.get(1),
            from: r.get(2),
            to: r.get(3),
            body: r.get(4),
            media_urls: json_list(r.get::<&str, _>(5))?,
            created_at: r.get(6),
        })
    }

    /// Find or create each message's contact and open conversation, and file
    /// the message in it — for a batch of messages, in one transaction.
    pub async fn identify_batch(&self, messages: &[InboundRow]) -> StoreResult<Vec<ConversationRow>> {
        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        let mut out = Vec::with_capacity(messages.len());
        for message in messages {
            out.push(Self::identify_in(&mut tx, message, now).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn identify_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        message: &InboundRow,
        now: i64,
    ) -> StoreResult<ConversationRow> {
        let contact = sqlx::query(
            "INSERT INTO contacts (tenant_id, phone, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, phone) DO UPDATE SET phone = excluded.phone
             RETURNING id, profile_json, profile_fetched_at",
        )
        .bind(&message.tenant_id)
        .bind(&message.from)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        let contact_id: i64 = contact.get(0);
        let profile = match (contact.get::<Option<String>, _>(1), contact.get::<Option<i64>, _>(2)) {
            (Some(json), Some(at)) => Some((json, at)),
            _ => None,
        };
        let existing = sqlx::query(
            "SELECT id, owner FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND status = 'open'
             ORDER BY id DESC LIMIT 1",
        )
        .bind(&message.tenant_id)
        .bind(contact_id)
        .fetch_optional(&mut **tx)
        .await?;
        let (id, owner) = match existing {
            Some(r) => (r.get::<i64, _>(0), r.get::<String, _>(1)),
            None => {
                let r = sqlx::query(
                    "INSERT INTO conversations (tenant_id, contact_id, tenant_number, status, owner, created_at,
                         updated_at, last_message_at)
                     VALUES ($1, $2, $3, 'open', 'bot', $4, $4, $4) RETURNING id",
                )
                .bind(&message.tenant_id)
                .bind(contact_id)
                .bind(&message.to)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
                (r.get(0), "bot".to_string())
            }
        };
        sqlx::query("UPDATE messages SET conversation_id = $1 WHERE id = $2")
            .bind(id)
            .bind(message.id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE conversations SET last_message_at = $1, updated_at = $1 WHERE id = $2")
            .bind(message.created_at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(ConversationRow { id, contact_id, owner, profile })
    }

    /// The turns before `message_id` in a conversation, oldest first (at most `limit`).
    pub async fn history(&self, conversation_id: i64, message_id: i64, limit: i64) -> StoreResult<Vec<Turn>> {
        let rows = sqlx::query(
            "SELECT author, body, created_at FROM messages WHERE conversation_id = $1 AND id < $2
             ORDER BY id DESC LIMIT $3",
        )
        .bind(conversation_id)
        .bind(message_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut turns: Vec<Turn> = rows
            .iter()
            .map(|r| {
                let author = match r.get::<&str, _>(0) {
                    "customer" => Author::Customer,
                    "bot" => Author::Bot,
                    "agent" => Author::Agent,
                    _ => Author::System,
                };
                Turn { author, body: r.get(1), at: rfc3339(r.get(2)) }
            })
            .collect();
        turns.reverse();
        Ok(turns)
    }

    /// Apply the outcomes of a batch of messages in one transaction: queue
    /// each reply (once per idempotency key), update the conversations, record
    /// the plugin calls and mark the jobs done — all or nothing.
    pub async fn apply_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        let traces: Vec<&super::NewTrace> = outcomes.iter().flat_map(|o| &o.traces).collect();
        Self::insert_traces_in(&mut tx, &traces, now).await?;
        for outcome in outcomes {
            Self::apply_in(&mut tx, outcome, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn apply_in(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, outcome: &Outcome, now: i64) -> StoreResult<()> {
        if let Some((contact_id, json)) = &outcome.profile_cache {
            sqlx::query("UPDATE contacts SET profile_json = $1, profile_fetched_at = $2 WHERE id = $3")
                .bind(json)
                .bind(now)
                .bind(contact_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query("UPDATE jobs SET status = 'done', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(outcome.job_id)
            .execute(&mut **tx)
            .await?;
        if outcome.human_owned {
            return Ok(());
        }
        if let Some(reply) = &outcome.reply {
            Self::enqueue_in(tx, reply, now).await?;
        }
        let row = sqlx::query("SELECT tags FROM conversations WHERE id = $1")
            .bind(outcome.conversation_id)
            .fetch_one(&mut **tx)
            .await?;
        let mut tags: Vec<String> = json_list(row.get::<&str, _>(0))?;
        for tag in &outcome.decision.add_tags {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        let tags = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
        let intents = serde_json::to_string(&outcome.intents).unwrap_or_else(|_| "[]".into());
        let handoff = outcome.decision.handoff.as_ref();
        let priority =
            handoff.and_then(|h| serde_json::to_value(h.priority).ok()).and_then(|v| v.as_str().map(str::to_string));
        // One statement for every conversation change: tags and intents always;
        // owner and handoff fields on a handoff; status on a resolve.
        sqlx::query(
            "UPDATE conversations SET tags = $1, intents = $2, updated_at = $3,
                 owner = CASE WHEN $4 THEN 'human' ELSE owner END,
                 handoff_reason = CASE WHEN $4 THEN $5 ELSE handoff_reason END,
                 handoff_priority = CASE WHEN $4 THEN $6 ELSE handoff_priority END,
                 handoff_team = CASE WHEN $4 THEN $7 ELSE handoff_team END,
                 status = CASE WHEN $8 THEN 'resolved' ELSE status END
             WHERE id = $9",
        )
        .bind(tags)
        .bind(intents)
        .bind(now)
        .bind(handoff.is_some())
        .bind(handoff.map(|h| h.reason.clone()))
        .bind(priority)
        .bind(handoff.and_then(|h| h.team.clone()))
        .bind(handoff.is_none() && outcome.decision.resolve)
        .bind(outcome.conversation_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A tenant's conversations, most recently active first.
    pub async fn conversations(&self, tenant_id: &str, limit: i64) -> StoreResult<Vec<ConversationSummary>> {
        self.summaries(tenant_id, None, limit).await
    }

    async fn summaries(&self, tenant_id: &str, only: Option<i64>, limit: i64) -> StoreResult<Vec<ConversationSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, k.phone, c.status, c.owner, c.handoff_reason, c.handoff_priority, c.handoff_team, c.tags,
                    c.intents, c.updated_at
             FROM conversations c JOIN contacts k ON k.id = c.contact_id
             WHERE c.tenant_id = $1 AND ($2 IS NULL OR c.id = $2)
             ORDER BY c.last_message_at DESC, c.id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(only)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let last = sqlx::query(
                "SELECT id, direction, author, body, encoding, segments, status, provider_sid, error_code, created_at
                 FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
            out.push(ConversationSummary {
                id,
                contact: r.get(1),
                status: r.get(2),
                owner: r.get(3),
                handoff_reason: r.get(4),
                handoff_priority: r.get(5),
                handoff_team: r.get(6),
                tags: json_list(r.get::<&str, _>(7))?,
                intents: json_list(r.get::<&str, _>(8))?,
                last_message: last.as_ref().map(message_row),
                updated_at: r.get(9),
            });
        }
        Ok(out)
    }

    /// One conversation of a tenant with its messages and plugin traces; `None`
    /// if it does not exist or belongs to another tenant.
    pub async fn conversation(&self, tenant_id: &str, id: i64) -> StoreResult<Option<ConversationDetail>> {
        let Some(summary) = self.summaries(tenant_id, Some(id), 1).await?.pop() else {
            return Ok(None);
        };
        let profile = sqlx::query(
            "SELECT k.profile_json FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&self.reader)
        .await?
        .get::<Option<String>, _>(0)
        .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
        .filter(|v| !v.is_null());
        let messages = sqlx::query(
            "SELECT id, direction, author, body, encoding, segments, status, provider_sid, error_code, created_at
             FROM messages WHERE conversation_id = $1 AND tenant_id = $2 ORDER BY id",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(message_row)
        .collect();
        let traces = self.traces(tenant_id, id).await?;
        Ok(Some(ConversationDetail { summary, profile, messages, traces }))
    }
}

/// Milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
