//! Contacts, conversations and their messages; applying a pipeline outcome.

use super::{Sql, Store, StoreError, StoreResult, push_case, push_list};
use crate::domain::{Author, Decision, Intent, Turn};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use std::collections::{HashMap, HashSet};

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

impl InboundRow {
    /// The message as plugins see it.
    pub fn to_message(&self) -> crate::domain::InboundMessage {
        crate::domain::InboundMessage {
            id: self.id.to_string(),
            tenant: self.tenant_id.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            body: self.body.clone(),
            received_at: rfc3339(self.created_at),
            media_urls: self.media_urls.clone(),
        }
    }
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
    /// The message answered the ticket's satisfaction survey with this
    /// rating (recorded already; nothing else is done with it).
    pub csat_rating: Option<u8>,
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
    /// Media the customer sent (MMS), as the provider's URLs (in order).
    pub media_urls: Vec<String>,
    /// Created (ms).
    pub created_at: i64,
}

/// A conversation (a ticket) in a list.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    /// Id.
    pub id: i64,
    /// The reference people quote (`DEMO-12`).
    pub reference: String,
    /// Customer number.
    pub contact: String,
    /// open | pending | snoozed | resolved | closed.
    pub status: String,
    /// bot | human.
    pub owner: String,
    /// low | normal | high | urgent.
    pub priority: String,
    /// The user working it.
    pub assignee: Option<String>,
    /// The team whose queue it is in.
    pub team: Option<String>,
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
    /// Snoozed until (ms).
    pub snoozed_until: Option<i64>,
    /// When it went to a human (ms).
    pub handed_off_at: Option<i64>,
    /// First human reply due (ms, business hours).
    pub first_response_due: Option<i64>,
    /// When a human first answered (ms).
    pub first_human_response_at: Option<i64>,
    /// Resolution due (ms, business hours).
    pub resolution_due: Option<i64>,
    /// Resolved (ms).
    pub resolved_at: Option<i64>,
    /// By whom: `bot` or a user.
    pub resolved_by: Option<String>,
    /// Times a customer reopened it.
    pub reopened: i64,
    /// The customer's rating, 1–5.
    pub csat_rating: Option<i64>,
    /// Which targets are missed now: `first_response`, `resolution`.
    pub overdue: Vec<&'static str>,
    /// The newest message.
    pub last_message: Option<MessageRow>,
    /// Opened (ms).
    pub created_at: i64,
    /// Updated (ms).
    pub updated_at: i64,
    /// Last customer or reply activity (ms).
    pub last_message_at: i64,
}

/// What a ticket list shows.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only this one.
    pub id: Option<i64>,
    /// Statuses (empty: all).
    pub statuses: Vec<String>,
    /// `bot` or `human`.
    pub owner: Option<String>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Assigned to this user; `Some(None)`: unassigned.
    pub assignee: Option<Option<String>>,
    /// In this team's queue.
    pub team: Option<String>,
    /// Text in a message, a note, the number or the reference.
    pub text: Option<String>,
    /// Only tickets past a due time.
    pub overdue: bool,
    /// Most rows.
    pub limit: i64,
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
    /// Internal notes, oldest first.
    pub notes: Vec<super::NoteRow>,
    /// Every change, oldest first.
    pub timeline: Vec<super::TimelineEntry>,
}

/// What the pipeline decided for a message, applied in one transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The job to mark done.
    pub job_id: i64,
    /// The tenant.
    pub tenant_id: String,
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
    /// For a handoff: the SLA due times (first human reply, resolution), ms.
    pub sla: Option<(i64, i64)>,
    /// The host's own messages besides the reply (after-hours notice, survey).
    pub notices: Vec<super::NewOutbound>,
}

fn message_row(r: &AnyRow) -> MessageRow {
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
        media_urls: media_list(r.get("media_urls")),
        created_at: r.get("created_at"),
    }
}

/// The stored media list; a row that is not a JSON list shows none rather than failing the read.
fn media_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
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
        let mut q = Sql::new(
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
    ///
    /// `reopen_window_ms` gives each tenant's reopen window.
    pub async fn identify_batch(
        &self,
        messages: &[InboundRow],
        reopen_window_ms: &(dyn Fn(&str) -> i64 + Sync),
    ) -> StoreResult<Vec<ConversationRow>> {
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
        let mut tx = self.begin_background().await?;

        let mut upsert = Sql::new("INSERT INTO contacts (tenant_id, phone, created_at) ");
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

        // The newest conversation of each contact decides where a message
        // goes: an active one takes it (pending or snoozed become open), a
        // resolved one within the reopen window is reopened (or, when it
        // awaits a CSAT answer and the message is one, takes the rating), and
        // otherwise a new ticket opens (a resolved one past its window is closed).
        let contact_ids: Vec<i64> = contacts.values().map(|c| c.id).collect();
        let mut newest_q = Sql::new(
            "SELECT contact_id, id, owner, status, resolved_at, csat_sent_at, csat_rating FROM conversations
             WHERE id IN (SELECT MAX(id) FROM conversations WHERE contact_id IN ",
        );
        push_list(&mut newest_q, contact_ids.iter().copied());
        newest_q.push(" GROUP BY contact_id)");
        use crate::tickets::rules::{self, Latest, Placement};
        struct Newest {
            /// 0 for a ticket the batch opens (until it is inserted).
            id: i64,
            owner: String,
            latest: Latest,
        }
        let mut newest: HashMap<i64, Newest> = HashMap::new();
        for r in newest_q.build().fetch_all(&mut *tx).await? {
            let status: String = r.get(3);
            let status = crate::tickets::Status::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("ticket status `{status}`")))?;
            let latest = Latest {
                status,
                resolved_at: r.get(4),
                csat_waiting: r.get::<Option<i64>, _>(5).is_some() && r.get::<Option<i64>, _>(6).is_none(),
            };
            newest.insert(r.get(0), Newest { id: r.get(1), owner: r.get(2), latest });
        }

        // Decide each message in order (the rules are `tickets::rules::place`);
        // a new ticket is marked by id 0 until inserted.
        let mut events: Vec<(i64, &'static str, String)> = Vec::new(); // (conversation, kind, detail JSON)
        let mut status_changes: Vec<(i64, &'static str)> = Vec::new();
        let mut ratings: Vec<(i64, i64, u8)> = Vec::new(); // (conversation, message, rating)
        let mut placement: Vec<(i64, Option<u8>)> = Vec::with_capacity(messages.len()); // (contact, rating)
        let mut missing: Vec<(&InboundRow, i64)> = Vec::new();
        for m in messages {
            let contact = contact_of(m)?.id;
            let window = reopen_window_ms(&m.tenant_id);
            let current = newest.get(&contact);
            let decided = rules::place(current.map(|n| &n.latest), &m.body, now, window);
            let mut rating = None;
            let id = current.map_or(0, |n| n.id);
            match decided {
                Placement::Active { woke_from } => {
                    if woke_from.is_some() {
                        status_changes.push((id, "open"));
                    }
                }
                Placement::Reopen => status_changes.push((id, "reopened")),
                Placement::Rating(r) => {
                    rating = Some(r);
                    ratings.push((id, m.id, r));
                }
                Placement::New { close_latest } => {
                    if close_latest {
                        events.push((id, "status", rules::CLOSED_PAST_WINDOW.to_string()));
                        status_changes.push((id, "closed"));
                    }
                    missing.push((m, contact));
                }
            }
            // A new ticket's "opened" entry is written once it has an id.
            if let (Some(entry), false) = (decided.timeline(), matches!(decided, Placement::New { .. })) {
                events.push((id, entry.0, entry.1));
            }
            let next = decided.then(current.map(|n| n.latest));
            match (decided, newest.get_mut(&contact)) {
                (Placement::New { .. }, _) | (_, None) => {
                    newest.insert(contact, Newest { id: 0, owner: "bot".into(), latest: next });
                }
                (_, Some(n)) => n.latest = next,
            }
            placement.push((contact, rating));
        }
        if !missing.is_empty() {
            // References count per tenant: take as many numbers as the batch
            // opens tickets, from the tenant's counter (one row, locked by the
            // statement), never MAX(ref_no) + 1.
            let mut wanted: Vec<(String, i64)> = Vec::new();
            for (m, _) in &missing {
                match wanted.iter_mut().find(|(t, _)| *t == m.tenant_id) {
                    Some((_, n)) => *n += 1,
                    None => wanted.push((m.tenant_id.clone(), 1)),
                }
            }
            let mut next_ref = Self::take_ticket_refs_in(&mut tx, &wanted).await?;
            let refs: Vec<i64> = missing
                .iter()
                .map(|(m, _)| {
                    let n = next_ref.entry(m.tenant_id.clone()).or_insert(0);
                    *n += 1;
                    *n
                })
                .collect();
            let mut insert = Sql::new(
                "INSERT INTO conversations (tenant_id, contact_id, tenant_number, status, owner, created_at,
                     updated_at, last_message_at, ref_no) ",
            );
            insert.push_values(missing.iter().zip(&refs), |mut row, ((m, contact), ref_no)| {
                row.push_bind(&m.tenant_id)
                    .push_bind(*contact)
                    .push_bind(&m.to)
                    .push("'open'")
                    .push("'bot'")
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(*ref_no);
            });
            insert.push(" RETURNING contact_id, id");
            for r in insert.build().fetch_all(&mut *tx).await? {
                let (contact, id): (i64, i64) = (r.get(0), r.get(1));
                if let Some(n) = newest.get_mut(&contact) {
                    n.id = id;
                }
                events.push((id, "opened", "{}".to_string()));
            }
        }

        let mut out = Vec::with_capacity(messages.len());
        for (m, (contact_id, rating)) in messages.iter().zip(&placement) {
            let contact = contact_of(m)?;
            let n = newest
                .get(contact_id)
                .filter(|n| n.id != 0)
                .ok_or_else(|| StoreError::Corrupt(format!("no conversation for contact {contact_id}")))?;
            out.push(ConversationRow {
                id: n.id,
                contact_id: contact.id,
                owner: n.owner.clone(),
                profile: contact.profile.clone(),
                csat_rating: *rating,
            });
        }

        if !status_changes.is_empty() {
            let mut q = Sql::new("UPDATE conversations SET status = CASE id");
            for (id, change) in &status_changes {
                let to = if *change == "reopened" { "open" } else { change };
                q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(to);
            }
            q.push(" ELSE status END, reopened = reopened + CASE WHEN id IN ");
            let reopened: Vec<i64> =
                status_changes.iter().filter(|(_, c)| *c == "reopened").map(|(id, _)| *id).collect();
            push_list(&mut q, reopened.iter().copied().chain([0]));
            q.push(" THEN 1 ELSE 0 END, resolved_at = CASE WHEN id IN ");
            push_list(&mut q, reopened.iter().copied().chain([0]));
            q.push(" THEN NULL ELSE resolved_at END, snoozed_until = NULL WHERE id IN ");
            push_list(&mut q, status_changes.iter().map(|(id, _)| *id));
            q.build().execute(&mut *tx).await?;
        }
        if !ratings.is_empty() {
            let mut q = Sql::new("UPDATE conversations SET csat_rating = ");
            push_case(&mut q, "id", ratings.iter().map(|(id, _, r)| (*id, *r as i64)));
            q.push(", csat_at = ").push_bind(now).push(" WHERE id IN ");
            push_list(&mut q, ratings.iter().map(|(id, _, _)| *id));
            q.build().execute(&mut *tx).await?;
        }
        Self::ticket_events_in(
            &mut tx,
            events.iter().map(|(id, kind, detail)| (*id, "customer", *kind, detail.as_str())),
            now,
        )
        .await?;

        // File each message in its conversation.
        let mut file = Sql::new("UPDATE messages SET conversation_id = ");
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
        let mut touch = Sql::new("UPDATE conversations SET last_message_at = ");
        push_case(&mut touch, "id", latest.iter().copied());
        touch.push(", updated_at = ").push_bind(now).push(" WHERE id IN ");
        push_list(&mut touch, latest.iter().map(|(id, _)| *id));
        touch.build().execute(&mut *tx).await?;

        tx.commit().await?;
        Ok(out)
    }

    /// Take `n` ticket reference numbers for each tenant from its counter
    /// (one row per tenant, locked by the statement — never MAX(ref_no) + 1):
    /// the number just before each tenant's first.
    pub(super) async fn take_ticket_refs_in(
        tx: &mut sqlx::Transaction<'_, Any>,
        wanted: &[(String, i64)],
    ) -> StoreResult<HashMap<String, i64>> {
        let mut q = Sql::new("INSERT INTO ticket_refs (tenant_id, last_ref) ");
        q.push_values(wanted, |mut row, (tenant, n)| {
            row.push_bind(tenant.as_str()).push_bind(*n);
        });
        q.push(" ON CONFLICT (tenant_id) DO UPDATE SET last_ref = ticket_refs.last_ref + excluded.last_ref");
        q.push(" RETURNING tenant_id, last_ref");
        let mut before = HashMap::new();
        for r in q.build().fetch_all(&mut **tx).await? {
            let (tenant, last): (String, i64) = (r.get(0), r.get(1));
            let n = wanted.iter().find(|(t, _)| *t == tenant).map_or(0, |(_, n)| *n);
            before.insert(tenant, last - n);
        }
        Ok(before)
    }

    /// For each (conversation, message): the turns before the message, oldest
    /// first (at most `limit`) — one query for the whole batch.
    pub async fn history_batch(&self, wanted: &[(i64, i64)], limit: i64) -> StoreResult<Vec<Vec<Turn>>> {
        let mut out: Vec<Vec<Turn>> = vec![Vec::new(); wanted.len()];
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::new("");
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
        self.after_inbound().await;
        let mut tx = self.begin_background().await?;
        let now = self.now();
        // Fencing: only jobs this process still leases are done here. A job
        // whose lease expired (this process stalled) and was claimed by
        // another worker is that worker's now; its outcome here is dropped.
        let mut done = Sql::new("UPDATE jobs SET status = 'done', lease_owner = NULL, updated_at = ");
        done.push_bind(now).push(" WHERE status = 'pending' AND lease_owner = ").push_bind(self.owner.as_ref());
        done.push(" AND id IN ");
        push_list(&mut done, outcomes.iter().map(|o| o.job_id));
        done.push(" RETURNING id");
        let owned: HashSet<i64> = done.build().fetch_all(&mut *tx).await?.iter().map(|r| r.get(0)).collect();
        if owned.len() < outcomes.len() {
            tracing::warn!(
                dropped = outcomes.len() - owned.len(),
                "outcomes of jobs whose lease another worker holds now were dropped"
            );
        }
        let outcomes: Vec<&Outcome> = outcomes.iter().filter(|o| owned.contains(&o.job_id)).collect();
        // What the batch does to each ticket: `tickets::rules::fold_outcomes`.
        let changes =
            crate::tickets::rules::fold_outcomes(outcomes.iter().map(|o| crate::tickets::rules::OutcomeFacts {
                conversation_id: o.conversation_id,
                human_owned: o.human_owned,
                decision: &o.decision,
                intents: &o.intents,
                sla: o.sla,
                replied: o.reply.is_some(),
                survey: o.notices.iter().any(|n| n.idempotency_key.starts_with("csat:")),
            }));
        // A human-owned conversation gets no bot reply, but the host's own
        // consent replies (confirmations, HELP) still go.
        let replies: Vec<&super::NewOutbound> = outcomes
            .iter()
            .filter_map(|o| o.reply.as_ref().filter(|r| !o.human_owned || r.category != "conversational"))
            .chain(outcomes.iter().flat_map(|o| &o.notices))
            .collect();
        let consent: Vec<&super::NewConsentEvent> = outcomes.iter().flat_map(|o| &o.consent).collect();
        let profiles: Vec<&(i64, String)> = outcomes.iter().filter_map(|o| o.profile_cache.as_ref()).collect();
        let traces: Vec<&super::NewTrace> = outcomes.iter().flat_map(|o| &o.traces).collect();

        Self::insert_traces_in(&mut tx, &traces, now).await?;
        Self::append_consent_in(&mut tx, &consent, now).await?;
        if !profiles.is_empty() {
            let mut q = Sql::new("UPDATE contacts SET profile_json = ");
            push_case(&mut q, "id", profiles.iter().map(|(id, json)| (*id, json.as_str())));
            q.push(", profile_fetched_at = ").push_bind(now).push(" WHERE id IN ");
            push_list(&mut q, profiles.iter().map(|(id, _)| *id));
            q.build().execute(&mut *tx).await?;
        }
        Self::enqueue_batch_in(&mut tx, &replies, now).await?;

        if !changes.is_empty() {
            let mut q = Sql::new("SELECT id, tags FROM conversations WHERE id IN ");
            push_list(&mut q, changes.iter().map(|c| c.conversation_id));
            let mut current: HashMap<i64, Vec<String>> = HashMap::with_capacity(changes.len());
            for r in q.build().fetch_all(&mut *tx).await? {
                current.insert(r.get(0), json_list(r.get::<&str, _>(1))?);
            }
            // Per conversation: tags, intents, owner, handoff fields, status.
            let mut rows = Vec::with_capacity(changes.len());
            for c in &changes {
                let tags = c.tags(current.remove(&c.conversation_id).unwrap_or_default());
                let priority = c
                    .handoff
                    .as_ref()
                    .and_then(|h| serde_json::to_value(h.priority).ok())
                    .and_then(|v| v.as_str().map(str::to_string));
                rows.push((
                    c.conversation_id,
                    serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
                    serde_json::to_string(&c.intents).unwrap_or_else(|_| "[]".into()),
                    c.handoff.as_ref().map(|h| (h.reason.clone(), priority, h.team.clone())),
                    c.resolves(),
                    c.replied,
                ));
            }
            let mut q = Sql::new("UPDATE conversations SET tags = ");
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
                q.push(" ELSE handoff_team END, priority = CASE id");
                for (id, (_, priority, _)) in &handed {
                    q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(priority.as_deref().unwrap_or("normal"));
                }
                q.push(" ELSE priority END, human_involved = CASE WHEN id IN ");
                push_list(&mut q, ids());
                q.push(" THEN 1 ELSE human_involved END, handed_off_at = CASE WHEN id IN ");
                push_list(&mut q, ids());
                q.push(" THEN ").push_bind(now).push(" ELSE handed_off_at END");
                let due: Vec<(i64, (i64, i64))> = changes
                    .iter()
                    .filter(|c| c.handoff.is_some())
                    .filter_map(|c| c.sla.map(|s| (c.conversation_id, s)))
                    .collect();
                if !due.is_empty() {
                    // Rows not in the CASE keep their values.
                    q.push(", first_response_due = CASE id");
                    for (id, (first, _)) in &due {
                        q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*first);
                    }
                    q.push(" ELSE first_response_due END, resolution_due = CASE id");
                    for (id, (_, resolution)) in &due {
                        q.push(" WHEN ").push_bind(*id).push(" THEN ").push_bind(*resolution);
                    }
                    q.push(" ELSE resolution_due END");
                }
            }
            let resolved: Vec<i64> = rows.iter().filter(|r| r.4).map(|r| r.0).collect();
            if !resolved.is_empty() {
                q.push(", status = CASE WHEN id IN ");
                push_list(&mut q, resolved.iter().copied());
                q.push(" THEN 'resolved' ELSE status END, resolved_at = CASE WHEN id IN ");
                push_list(&mut q, resolved.iter().copied());
                q.push(" THEN ").push_bind(now).push(" ELSE resolved_at END, resolved_by = CASE WHEN id IN ");
                push_list(&mut q, resolved.iter().copied());
                q.push(" THEN 'bot' ELSE resolved_by END");
            }
            let surveyed: Vec<i64> = changes.iter().filter(|c| c.survey).map(|c| c.conversation_id).collect();
            if !surveyed.is_empty() {
                q.push(", csat_sent_at = CASE WHEN id IN ");
                push_list(&mut q, surveyed);
                q.push(" THEN ").push_bind(now).push(" ELSE csat_sent_at END");
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

            // The timeline: handoffs, resolutions, tags automation added, surveys.
            let events: Vec<(i64, &str, &str, String)> = changes
                .iter()
                .flat_map(|c| c.timeline().into_iter().map(|(actor, kind, d)| (c.conversation_id, actor, kind, d)))
                .collect();
            Self::ticket_events_in(
                &mut tx,
                events.iter().map(|(id, actor, kind, d)| (*id, *actor, *kind, d.as_str())),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A tenant's conversations, most recently active first.
    pub async fn conversations(&self, tenant_id: &str, limit: i64) -> StoreResult<Vec<ConversationSummary>> {
        self.tickets(tenant_id, &TicketFilter { limit, ..TicketFilter::default() }).await
    }

    /// A tenant's tickets matching `filter`, most recently active first.
    pub async fn tickets(&self, tenant_id: &str, filter: &TicketFilter) -> StoreResult<Vec<ConversationSummary>> {
        // One read transaction: every row from the same snapshot.
        let mut tx = self.snapshot().await?;
        let out = Self::summaries(&mut tx, tenant_id, filter, self.now()).await?;
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn summaries(
        tx: &mut sqlx::Transaction<'_, Any>,
        tenant_id: &str,
        filter: &TicketFilter,
        now: i64,
    ) -> StoreResult<Vec<ConversationSummary>> {
        let mut q = Sql::new(
            "SELECT c.id, t.ticket_prefix, c.ref_no, k.phone, c.status, c.owner, c.priority, c.assignee,
                    c.handoff_reason, c.handoff_priority, c.handoff_team, c.tags, c.intents, c.snoozed_until,
                    c.handed_off_at, c.first_response_due, c.first_human_response_at, c.resolution_due,
                    c.resolved_at, c.resolved_by, c.reopened, c.csat_rating, c.created_at, c.updated_at,
                    c.last_message_at,
                    m.id AS m_id, m.direction, m.author, m.body, m.encoding, m.segments, m.status AS m_status,
                    m.provider_sid, m.error_code, m.media_urls, m.created_at AS m_created_at
             FROM conversations c
             JOIN contacts k ON k.id = c.contact_id
             JOIN tenants t ON t.id = c.tenant_id
             LEFT JOIN messages m ON m.id = (SELECT MAX(id) FROM messages WHERE conversation_id = c.id)
             WHERE c.tenant_id = ",
        );
        q.push_bind(tenant_id.to_string());
        if let Some(id) = filter.id {
            q.push(" AND c.id = ").push_bind(id);
        }
        if !filter.statuses.is_empty() {
            q.push(" AND c.status IN ");
            push_list(&mut q, filter.statuses.iter().cloned());
        }
        if let Some(owner) = &filter.owner {
            q.push(" AND c.owner = ").push_bind(owner.clone());
        }
        // Case never matters to a search: `LOWER(…) LIKE lower-case pattern`
        // on both engines (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
        if let Some(tag) = &filter.tag {
            let json = serde_json::to_string(&tag.to_lowercase()).unwrap_or_default();
            q.push(" AND LOWER(c.tags) LIKE ").push_bind(format!("%{}%", like_escape(&json))).push(" ESCAPE '\\'");
        }
        match &filter.assignee {
            Some(Some(user)) => {
                q.push(" AND c.assignee = ").push_bind(user.clone());
            }
            Some(None) => {
                q.push(" AND c.assignee IS NULL");
            }
            None => {}
        }
        if let Some(team) = &filter.team {
            q.push(" AND c.handoff_team = ").push_bind(team.clone());
        }
        if let Some(text) = &filter.text {
            let pattern = format!("%{}%", like_escape(&text.to_lowercase()));
            let number = text.trim().rsplit('-').next().and_then(|n| n.parse::<i64>().ok());
            q.push(" AND (k.phone LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
            if let Some(n) = number {
                q.push(" OR c.ref_no = ").push_bind(n);
            }
            q.push(" OR EXISTS (SELECT 1 FROM messages x WHERE x.conversation_id = c.id AND LOWER(x.body) LIKE ")
                .push_bind(pattern.clone())
                .push(" ESCAPE '\\')");
            q.push(" OR EXISTS (SELECT 1 FROM ticket_notes n WHERE n.conversation_id = c.id AND LOWER(n.body) LIKE ")
                .push_bind(pattern)
                .push(" ESCAPE '\\'))");
        }
        if filter.overdue {
            q.push(" AND c.status IN ('open', 'pending', 'snoozed') AND ((c.first_human_response_at IS NULL AND c.first_response_due < ")
                .push_bind(now)
                .push(") OR c.resolution_due < ")
                .push_bind(now)
                .push(")");
        }
        q.push(" ORDER BY c.last_message_at DESC, c.id DESC LIMIT ").push_bind(filter.limit.max(1));
        let rows = q.build().fetch_all(&mut **tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let status: String = r.get("status");
            let active = crate::tickets::Status::parse(&status).is_some_and(|s| s.is_active());
            let first_due: Option<i64> = r.get("first_response_due");
            let first_done: Option<i64> = r.get("first_human_response_at");
            let resolution_due: Option<i64> = r.get("resolution_due");
            let mut overdue = Vec::new();
            if active && first_done.is_none() && first_due.is_some_and(|d| d < now) {
                overdue.push("first_response");
            }
            if active && resolution_due.is_some_and(|d| d < now) {
                overdue.push("resolution");
            }
            let last_message = r.get::<Option<i64>, _>("m_id").map(|id| MessageRow {
                id,
                direction: r.get("direction"),
                author: r.get("author"),
                body: r.get("body"),
                encoding: r.get("encoding"),
                segments: r.get("segments"),
                status: r.get("m_status"),
                provider_sid: r.get("provider_sid"),
                error_code: r.get("error_code"),
                media_urls: media_list(r.get("media_urls")),
                created_at: r.get("m_created_at"),
            });
            out.push(ConversationSummary {
                id: r.get("id"),
                reference: crate::tickets::reference(r.get("ticket_prefix"), r.get("ref_no")),
                contact: r.get("phone"),
                status,
                owner: r.get("owner"),
                priority: r.get("priority"),
                assignee: r.get("assignee"),
                team: r.get("handoff_team"),
                handoff_reason: r.get("handoff_reason"),
                handoff_priority: r.get("handoff_priority"),
                handoff_team: r.get("handoff_team"),
                tags: json_list(r.get::<&str, _>("tags"))?,
                intents: json_list(r.get::<&str, _>("intents"))?,
                snoozed_until: r.get("snoozed_until"),
                handed_off_at: r.get("handed_off_at"),
                first_response_due: first_due,
                first_human_response_at: first_done,
                resolution_due,
                resolved_at: r.get("resolved_at"),
                resolved_by: r.get("resolved_by"),
                reopened: r.get("reopened"),
                csat_rating: r.get("csat_rating"),
                overdue,
                last_message,
                created_at: r.get("created_at"),
                updated_at: r.get("updated_at"),
                last_message_at: r.get("last_message_at"),
            });
        }
        Ok(out)
    }

    /// One conversation of a tenant with its messages and plugin traces; `None`
    /// if it does not exist or belongs to another tenant.
    pub async fn conversation(&self, tenant_id: &str, id: i64) -> StoreResult<Option<ConversationDetail>> {
        // One read transaction: the summary, messages and traces agree (a
        // reply is never shown without the outcome it came with).
        let mut tx = self.snapshot().await?;
        let only = TicketFilter { id: Some(id), limit: 1, ..TicketFilter::default() };
        let Some(summary) = Self::summaries(&mut tx, tenant_id, &only, self.now()).await?.pop() else {
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
            "SELECT id, direction, author, body, encoding, segments, status, provider_sid, error_code, media_urls,
                    created_at
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
        let (timeline, notes) = Self::timeline(&mut tx, tenant_id, id).await?;
        tx.commit().await?;
        Ok(Some(ConversationDetail { summary, profile, messages, traces, notes, timeline }))
    }
}

/// `text` with LIKE's wildcards escaped (escape character `\`).
pub(super) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Milliseconds as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
