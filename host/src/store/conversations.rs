//! Contacts, conversations and their messages; applying a pipeline outcome.

use super::{Store, StoreError, StoreResult, push_case, push_list};
use crate::domain::{Author, Decision, Intent, Turn};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashMap;

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
    /// Consent ledger events the message caused.
    pub consent: Vec<super::NewConsentEvent>,
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
    /// Load inbound messages for processing, in the order of `ids`.
    pub async fn inbound_batch(&self, ids: &[i64]) -> StoreResult<Vec<InboundRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT id, tenant_id, from_number, to_number, body, media_urls, created_at FROM messages WHERE id IN ",
        );
        push_list(&mut q, ids);
        let mut found: HashMap<i64, InboundRow> = HashMap::with_capacity(ids.len());
        for r in q.build().fetch_all(&self.reader).await? {
            let row = InboundRow {
                id: r.get(0),
                tenant_id: r.get(1),
                from: r.get(2),
                to: r.get(3),
                body: r.get(4),
                media_urls: json_list(r.get::<&str, _>(5))?,
                created_at: r.get(6),
            };
            found.insert(row.id, row);
        }
        ids.iter()
            .map(|id| found.remove(id).ok_or_else(|| StoreError::Corrupt(format!("message {id} is missing"))))
            .collect()
    }

    /// Find or create each message's contact and open conversation, and file
    /// the message in it — for a batch of messages, in one transaction of a
    /// few set-based statements (not a few statements per message).
    pub async fn identify_batch(&self, messages: &[InboundRow]) -> StoreResult<Vec<ConversationRow>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        self.after_inbound().await;
        let now = self.now();
        // Each distinct (tenant, customer) once: an upsert may not touch a row twice.
        let mut keys: Vec<(&str, &str)> = Vec::new();
        for m in messages {
            let key = (m.tenant_id.as_str(), m.from.as_str());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut tx = self.writer.begin().await?;

        let mut upsert = QueryBuilder::<Sqlite>::new("INSERT INTO contacts (tenant_id, phone, created_at) ");
        upsert.push_values(&keys, |mut row, (tenant, phone)| {
            row.push_bind(*tenant).push_bind(*phone).push_bind(now);
        });
        upsert.push(
            " ON CONFLICT (tenant_id, phone) DO UPDATE SET phone = excluded.phone
              RETURNING id, tenant_id, phone, profile_json, profile_fetched_at",
        );
        struct Contact {
            id: i64,
            profile: Option<(String, i64)>,
        }
        let mut contacts: HashMap<(String, String), Contact> = HashMap::with_capacity(keys.len());
        for r in upsert.build().fetch_all(&mut *tx).await? {
            let profile = match (r.get::<Option<String>, _>(3), r.get::<Option<i64>, _>(4)) {
                (Some(json), Some(at)) => Some((json, at)),
                _ => None,
            };
            contacts.insert((r.get(1), r.get(2)), Contact { id: r.get(0), profile });
        }
        let contact_of = |m: &InboundRow| {
            contacts
                .get(&(m.tenant_id.clone(), m.from.clone()))
                .ok_or_else(|| StoreError::Corrupt(format!("contact for {} was not upserted", m.from)))
        };

        // The open conversation of each contact (the newest if several).
        let contact_ids: Vec<i64> = contacts.values().map(|c| c.id).collect();
        let mut open = QueryBuilder::<Sqlite>::new(
            "SELECT contact_id, id, owner FROM conversations WHERE status = 'open' AND contact_id IN ",
        );
        push_list(&mut open, contact_ids.iter().copied());
        open.push(" ORDER BY id");
        let mut conversation_of: HashMap<i64, (i64, String)> = HashMap::new();
        for r in open.build().fetch_all(&mut *tx).await? {
            conversation_of.insert(r.get(0), (r.get(1), r.get(2)));
        }

        // Open a conversation for each contact that has none.
        let mut missing: Vec<(&InboundRow, i64)> = Vec::new();
        for m in messages {
            let contact = contact_of(m)?.id;
            if !conversation_of.contains_key(&contact) && !missing.iter().any(|(_, c)| *c == contact) {
                missing.push((m, contact));
            }
        }
        if !missing.is_empty() {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO conversations (tenant_id, contact_id, tenant_number, status, owner, created_at,
                     updated_at, last_message_at) ",
            );
            insert.push_values(&missing, |mut row, (m, contact)| {
                row.push_bind(&m.tenant_id)
                    .push_bind(*contact)
                    .push_bind(&m.to)
                    .push("'open'")
                    .push("'bot'")
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(now);
            });
            insert.push(" RETURNING contact_id, id");
            for r in insert.build().fetch_all(&mut *tx).await? {
                conversation_of.insert(r.get(0), (r.get(1), "bot".to_string()));
            }
        }

        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let contact = contact_of(m)?;
            let (id, owner) = conversation_of
                .get(&contact.id)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt(format!("no conversation for contact {}", contact.id)))?;
            out.push(ConversationRow { id, contact_id: contact.id, owner, profile: contact.profile.clone() });
        }

        // File each message in its conversation.
        let mut file = QueryBuilder::<Sqlite>::new("UPDATE messages SET conversation_id = ");
        push_case(&mut file, "id", messages.iter().zip(&out).map(|(m, c)| (m.id, c.id)));
        file.push(" WHERE id IN ");
        push_list(&mut file, messages.iter().map(|m| m.id));
        file.build().execute(&mut *tx).await?;

        // Each conversation's last activity: its newest message of the batch.
        let mut latest: Vec<(i64, i64)> = Vec::new();
        for (m, c) in messages.iter().zip(&out) {
            match latest.iter_mut().find(|(id, _)| *id == c.id) {
                Some((_, at)) => *at = (*at).max(m.created_at),
                None => latest.push((c.id, m.created_at)),
            }
        }
        let mut touch = QueryBuilder::<Sqlite>::new("UPDATE conversations SET last_message_at = ");
        push_case(&mut touch, "id", latest.iter().copied());
        touch.push(", updated_at = ").push_bind(now).push(" WHERE id IN ");
        push_list(&mut touch, latest.iter().map(|(id, _)| *id));
        touch.build().execute(&mut *tx).await?;

        tx.commit().await?;
        Ok(out)
    }

    /// For each (conversation, message): the turns before the message, oldest
    /// first (at most `limit`) — one query for the whole batch.
    pub async fn history_batch(&self, wanted: &[(i64, i64)], limit: i64) -> StoreResult<Vec<Vec<Turn>>> {
        let mut out: Vec<Vec<Turn>> = vec![Vec::new(); wanted.len()];
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut q = QueryBuilder::<Sqlite>::new("");
        for (k, (conversation, message)) in wanted.iter().enumerate() {
            if k > 0 {
                q.push(" UNION ALL ");
            }
            q.push(format!("SELECT {k} AS k, author, body, created_at, id FROM (SELECT author, body, created_at, id"));
            q.push(" FROM messages WHERE conversation_id = ").push_bind(*conversation);
            q.push(" AND id < ").push_bind(*message);
            q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            q.push(format!(") AS h{k}"));
        }
        q.push(" ORDER BY k, id");
        for r in q.build().fetch_all(&self.reader).await? {
            let k: i64 = r.get(0);
            let author = match r.get::<&str, _>(1) {
                "customer" => Author::Customer,
                "bot" => Author::Bot,
                "agent" => Author::Agent,
                _ => Author::System,
            };
            if let Some(turns) = out.get_mut(k as usize) {
                turns.push(Turn { author, body: r.get(2), at: rfc3339(r.get(3)) });
            }
        }
        Ok(out)
    }

    /// Apply the outcomes of a batch of messages in one transaction: queue
    /// each reply (once per idempotency key), update the conversations, record
    /// the plugin calls and mark the jobs done — all or nothing, in a fixed
    /// handful of statements whatever the batch size.
    pub async fn apply_outcomes(&self, outcomes: &[Outcome]) -> StoreResult<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        // Fold the batch's changes per conversation, in message order, as if
        // applied one after another.
        struct Change<'a> {
            id: i64,
            add_tags: Vec<&'a String>,
            intents: &'a [Intent],
            handoff: Option<&'a crate::domain::Handoff>,
            resolve: bool,
            replied: bool,
        }
        let mut changes: Vec<Change> = Vec::new();
        for o in outcomes.iter().filter(|o| !o.human_owned) {
            let i = match changes.iter().position(|c| c.id == o.conversation_id) {
                Some(i) => i,
                None => {
                    changes.push(Change {
                        id: o.conversation_id,
                        add_tags: Vec::new(),
                        intents: &[],
                        handoff: None,
                        resolve: false,
                        replied: false,
                    });
                    changes.len() - 1
                }
            };
            let c = &mut changes[i];
            c.add_tags.extend(&o.decision.add_tags);
            if !o.intents.is_empty() {
                c.intents = &o.intents;
            }
            if let Some(h) = &o.decision.handoff {
                c.handoff = Some(h);
            } else if o.decision.resolve {
                c.resolve = true;
            }
            c.replied |= o.reply.is_some();
        }
        // A human-owned conversation gets no bot reply, but the host's own
        // consent replies (confirmations, HELP) still go.
        let replies: Vec<&super::NewOutbound> = outcomes
            .iter()
            .filter_map(|o| o.reply.as_ref().filter(|r| !o.human_owned || r.category != "conversational"))
            .collect();
        let consent: Vec<&super::NewConsentEvent> = outcomes.iter().flat_map(|o| &o.consent).collect();
        let profiles: Vec<&(i64, String)> = outcomes.iter().filter_map(|o| o.profile_cache.as_ref()).collect();
        let traces: Vec<&super::NewTrace> = outcomes.iter().flat_map(|o| &o.traces).collect();

        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        Self::insert_traces_in(&mut tx, &traces, now).await?;
        Self::append_consent_in(&mut tx, &consent, now).await?;
        if !profiles.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE contacts SET profile_json = ");
            push_case(&mut q, "id", profiles.iter().map(|(id, json)| (*id, json.as_str())));
            q.push(", profile_fetched_at = ").push_bind(now).push(" WHERE id IN ");
            push_list(&mut q, profiles.iter().map(|(id, _)| *id));
            q.build().execute(&mut *tx).await?;
        }
        let mut done = QueryBuilder::<Sqlite>::new("UPDATE jobs SET status = 'done', updated_at = ");
        done.push_bind(now).push(" WHERE id IN ");
        push_list(&mut done, outcomes.iter().map(|o| o.job_id));
        done.build().execute(&mut *tx).await?;
        Self::enqueue_batch_in(&mut tx, &replies, now).await?;

        if !changes.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new("SELECT id, tags FROM conversations WHERE id IN ");
            push_list(&mut q, changes.iter().map(|c| c.id));
            let mut current: HashMap<i64, Vec<String>> = HashMap::with_capacity(changes.len());
            for r in q.build().fetch_all(&mut *tx).await? {
                current.insert(r.get(0), json_list(r.get::<&str, _>(1))?);
            }
            // Per conversation: tags, intents, owner, handoff fields, status.
            let mut rows = Vec::with_capacity(changes.len());
            for c in &changes {
                let mut tags = current.remove(&c.id).unwrap_or_default();
                for tag in &c.add_tags {
                    if !tags.contains(tag) {
                        tags.push((*tag).clone());
                    }
                }
                let priority = c
                    .handoff
                    .and_then(|h| serde_json::to_value(h.priority).ok())
                    .and_then(|v| v.as_str().map(str::to_string));
                rows.push((
                    c.id,
                    serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
                    serde_json::to_string(c.intents).unwrap_or_else(|_| "[]".into()),
                    c.handoff.map(|h| (h.reason.clone(), priority, h.team.clone())),
                    c.resolve,
                    c.replied,
                ));
            }
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE conversations SET tags = ");
            push_case(&mut q, "id", rows.iter().map(|r| (r.0, r.1.as_str())));
            q.push(", intents = ");
            push_case(&mut q, "id", rows.iter().map(|r| (r.0, r.2.as_str())));
            q.push(", updated_at = ").push_bind(now);
            let handed: Vec<_> = rows.iter().filter_map(|r| r.3.as_ref().map(|h| (r.0, h))).collect();
            if !handed.is_empty() {
                let ids = || handed.iter().map(|(id, _)| *id);
                q.push(", owner = CASE WHEN id IN ");
                push_list(&mut q, ids());
                q.push(" THEN 'human' ELSE owner END, handoff_reason = CASE id");
                for (id, (reason, _, _)) in &handed {
                    q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(reason.as_str());
                }
                q.push(" ELSE handoff_reason END, handoff_priority = CASE id");
                for (id, (_, priority, _)) in &handed {
                    q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(priority.as_deref());
                }
                q.push(" ELSE handoff_priority END, handoff_team = CASE id");
                for (id, (_, _, team)) in &handed {
                    q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(team.as_deref());
                }
                q.push(" ELSE handoff_team END");
            }
            let resolved: Vec<i64> = rows.iter().filter(|r| r.4 && r.3.is_none()).map(|r| r.0).collect();
            if !resolved.is_empty() {
                q.push(", status = CASE WHEN id IN ");
                push_list(&mut q, resolved);
                q.push(" THEN 'resolved' ELSE status END");
            }
            let replied: Vec<i64> = rows.iter().filter(|r| r.5).map(|r| r.0).collect();
            if !replied.is_empty() {
                q.push(", last_message_at = CASE WHEN id IN ");
                push_list(&mut q, replied);
                q.push(" THEN ").push_bind(now).push(" ELSE last_message_at END");
            }
            q.push(" WHERE id IN ");
            push_list(&mut q, rows.iter().map(|r| r.0));
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A tenant's conversations, most recently active first.
    pub async fn conversations(&self, tenant_id: &str, limit: i64) -> StoreResult<Vec<ConversationSummary>> {
        // One read transaction: every row from the same snapshot.
        let mut tx = self.reader.begin().await?;
        let out = Self::summaries(&mut tx, tenant_id, None, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn summaries(
        tx: &mut sqlx::Transaction<'_, Sqlite>,
        tenant_id: &str,
        only: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationSummary>> {
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
        .fetch_all(&mut **tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let last = sqlx::query(
                "SELECT id, direction, author, body, encoding, segments, status, provider_sid, error_code, created_at
                 FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut **tx)
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
        // One read transaction: the summary, messages and traces agree (a
        // reply is never shown without the outcome it came with).
        let mut tx = self.reader.begin().await?;
        let Some(summary) = Self::summaries(&mut tx, tenant_id, Some(id), 1).await?.pop() else {
            return Ok(None);
        };
        let profile = sqlx::query(
            "SELECT k.profile_json FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
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
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(message_row)
        .collect();
        let traces = Self::traces(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
        Ok(Some(ConversationDetail { summary, profile, messages, traces }))
    }
}

/// Milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
