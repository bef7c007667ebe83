//! Tickets: the timeline, internal notes, agents' changes (each in one
//! transaction with its timeline entry), round-robin assignment and the
//! housekeeping that wakes snoozed tickets and closes old resolved ones.

use super::{ConversationSummary, NewOutbound, Sql, Store, StoreError, StoreResult, TicketFilter, push_list};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

/// One entry of a ticket's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// Id.
    pub id: i64,
    /// `customer`, `bot`, `system` or a user id.
    pub actor: String,
    /// What happened: opened, reopened, status, assigned, tags, priority,
    /// note, reply, handoff, handback, takeover, resolved, csat_sent, csat.
    pub kind: String,
    /// The particulars.
    pub detail: serde_json::Value,
    /// When (ms).
    pub at: i64,
}

/// An internal note.
#[derive(Debug, Clone, Serialize)]
pub struct NoteRow {
    /// Id.
    pub id: i64,
    /// The user who wrote it.
    pub author: String,
    /// Text (never sent to the customer).
    pub body: String,
    /// When (ms).
    pub at: i64,
}

/// Who gets a ticket.
#[derive(Debug, Clone)]
pub enum Assignee {
    /// This user.
    User(String),
    /// Nobody.
    Nobody,
    /// The next of `members` after the team's last pick.
    RoundRobin {
        /// The team.
        team: String,
        /// Its members, in a stable order.
        members: Vec<String>,
    },
}

/// One change an agent makes.
#[derive(Debug, Clone)]
pub enum TicketChange {
    /// Move to a status (`snooze_until` with `snoozed`).
    Status {
        /// The new status.
        to: crate::tickets::Status,
        /// For `snoozed`: until when (ms).
        snooze_until: Option<i64>,
    },
    /// Give it to someone (and maybe move it to a team).
    Assign {
        /// Who.
        assignee: Assignee,
        /// The team's queue, if it changes.
        team: Option<String>,
    },
    /// Add and remove tags.
    Tags {
        /// Added.
        add: Vec<String>,
        /// Removed.
        remove: Vec<String>,
    },
    /// Set the priority.
    Priority(String),
    /// Give the conversation back to automation.
    Handback,
    /// A human takes the conversation (bots fall silent).
    TakeOver,
    /// An internal note.
    Note(String),
    /// A reply to the customer, through the outbox.
    Reply(NewOutbound),
}

/// What a change did.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeResult {
    /// The ticket after the change.
    pub ticket: ConversationSummary,
    /// For a reply: the queued message id (`None` if the idempotency key was used before).
    pub message_id: Option<i64>,
    /// For round-robin: who got it.
    pub assigned_to: Option<String>,
    /// A survey was queued with this change.
    pub survey_queued: bool,
}

impl Store {
    /// Append timeline entries `(conversation, actor, kind, detail JSON)` in the caller's transaction.
    pub(super) async fn ticket_events_in<'a>(
        tx: &mut Transaction<'_, Any>,
        events: impl IntoIterator<Item = (i64, &'a str, &'a str, &'a str)>,
        now: i64,
    ) -> StoreResult<()> {
        let events: Vec<_> = events.into_iter().collect();
        if events.is_empty() {
            return Ok(());
        }
        let mut q =
            Sql::new("INSERT INTO ticket_events (tenant_id, conversation_id, actor, kind, detail, created_at) ");
        q.push_values(&events, |mut row, (id, actor, kind, detail)| {
            row.push("(SELECT tenant_id FROM conversations WHERE id = ")
                .push_bind_unseparated(*id)
                .push_unseparated(")")
                .push_bind(*id)
                .push_bind(actor.to_string())
                .push_bind(kind.to_string())
                .push_bind(detail.to_string())
                .push_bind(now);
        });
        q.build().execute(&mut **tx).await?;
        Ok(())
    }

    /// A ticket's timeline and notes, oldest first.
    pub(super) async fn timeline(
        tx: &mut Transaction<'_, Any>,
        tenant_id: &str,
        id: i64,
    ) -> StoreResult<(Vec<TimelineEntry>, Vec<NoteRow>)> {
        let timeline = sqlx::query(
            "SELECT id, actor, kind, detail, created_at FROM ticket_events
             WHERE conversation_id = $1 AND tenant_id = $2 ORDER BY id",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| TimelineEntry {
            id: r.get(0),
            actor: r.get(1),
            kind: r.get(2),
            detail: serde_json::from_str(r.get::<&str, _>(3)).unwrap_or(serde_json::Value::Null),
            at: r.get(4),
        })
        .collect();
        let notes = sqlx::query(
            "SELECT id, author, body, created_at FROM ticket_notes
             WHERE conversation_id = $1 AND tenant_id = $2 ORDER BY id",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|r| NoteRow { id: r.get(0), author: r.get(1), body: r.get(2), at: r.get(3) })
        .collect();
        Ok((timeline, notes))
    }

    /// The id of a tenant's ticket by reference number.
    pub async fn ticket_by_ref(&self, tenant_id: &str, ref_no: i64) -> StoreResult<Option<i64>> {
        Ok(sqlx::query("SELECT id FROM conversations WHERE tenant_id = $1 AND ref_no = $2")
            .bind(tenant_id)
            .bind(ref_no)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| r.get(0)))
    }

    /// Apply an agent's change to a tenant's ticket, with its timeline entry,
    /// in one transaction; `survey` (the CSAT message) is queued with a
    /// resolution, once per ticket. `None` if the ticket is not the tenant's.
    pub async fn change_ticket(
        &self,
        tenant_id: &str,
        id: i64,
        actor: &str,
        change: TicketChange,
        survey: Option<NewOutbound>,
    ) -> StoreResult<Option<ChangeResult>> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let Some(row) = sqlx::query(
            "SELECT status, owner, tags, assignee, handoff_team, resolved_at, resolved_by FROM conversations
             WHERE id = $1 AND tenant_id = $2",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        let status: String = row.get(0);
        let mut message_id = None;
        let mut assigned_to = None;
        let mut survey_queued = false;
        let (kind, detail): (&str, serde_json::Value) = match change {
            TicketChange::Status { to, snooze_until } => {
                let to_str = to.as_str();
                let from = crate::tickets::Status::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("ticket status `{status}`")))?;
                let resolved: (Option<i64>, Option<String>) = (row.get(5), row.get(6));
                let t = crate::tickets::rules::transition(
                    from,
                    to,
                    (resolved.0, resolved.1.as_deref()),
                    snooze_until,
                    now,
                    actor,
                );
                sqlx::query(
                    "UPDATE conversations SET status = $1, snoozed_until = $2, updated_at = $3, resolved_at = $4,
                         resolved_by = $5, reopened = reopened + $6 WHERE id = $7",
                )
                .bind(to_str)
                .bind(t.snoozed_until)
                .bind(now)
                .bind(t.resolved_at)
                .bind(&t.resolved_by)
                .bind(i64::from(t.reopened))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if t.newly_resolved
                    && let Some(survey) = &survey
                {
                    survey_queued = Self::enqueue_batch_in(&mut tx, &[survey], now).await? > 0;
                    if survey_queued {
                        sqlx::query("UPDATE conversations SET csat_sent_at = $1 WHERE id = $2")
                            .bind(now)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let mut detail = serde_json::json!({ "from": status, "to": to_str });
                if let Some(until) = snooze_until {
                    detail["until"] = until.into();
                }
                ("status", detail)
            }
            TicketChange::Assign { assignee, team } => {
                let user = match assignee {
                    Assignee::User(u) => Some(u),
                    Assignee::Nobody => None,
                    Assignee::RoundRobin { team, members } => {
                        // The team's cursor, locked until this transaction ends
                        // (PostgreSQL: a row lock, made first if missing, so two
                        // assignments at once never pick the same person; SQLite:
                        // the single writer).
                        sqlx::query(
                            "INSERT INTO team_cursors (tenant_id, team, last_user) VALUES ($1, $2, '')
                             ON CONFLICT (tenant_id, team) DO NOTHING",
                        )
                        .bind(tenant_id)
                        .bind(&team)
                        .execute(&mut *tx)
                        .await?;
                        let last: String = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SELECT last_user FROM team_cursors WHERE tenant_id = $1 AND team = $2{}",
                            self.engine.lock_row()
                        )))
                        .bind(tenant_id)
                        .bind(&team)
                        .fetch_one(&mut *tx)
                        .await?
                        .get(0);
                        let last = Some(last).filter(|l| !l.is_empty());
                        let next = crate::tickets::rules::next_in_rotation(&members, last.as_deref())
                            .cloned()
                            .ok_or_else(|| StoreError::Corrupt(format!("team `{team}` has no members")))?;
                        sqlx::query(
                            "INSERT INTO team_cursors (tenant_id, team, last_user) VALUES ($1, $2, $3)
                             ON CONFLICT (tenant_id, team) DO UPDATE SET last_user = $3",
                        )
                        .bind(tenant_id)
                        .bind(&team)
                        .bind(&next)
                        .execute(&mut *tx)
                        .await?;
                        assigned_to = Some(next.clone());
                        Some(next)
                    }
                };
                sqlx::query(
                    "UPDATE conversations SET assignee = $1, handoff_team = COALESCE($2, handoff_team), updated_at = $3
                     WHERE id = $4",
                )
                .bind(&user)
                .bind(&team)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                ("assigned", serde_json::json!({ "assignee": user, "team": team }))
            }
            TicketChange::Tags { add, remove } => {
                let tags: Vec<String> = serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default();
                let tags = crate::tickets::rules::merge_tags(tags, &add, &remove);
                sqlx::query("UPDATE conversations SET tags = $1, updated_at = $2 WHERE id = $3")
                    .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ("tags", serde_json::json!({ "added": add, "removed": remove }))
            }
            TicketChange::Priority(p) => {
                sqlx::query("UPDATE conversations SET priority = $1, updated_at = $2 WHERE id = $3")
                    .bind(&p)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ("priority", serde_json::json!({ "to": p }))
            }
            TicketChange::Handback => {
                sqlx::query("UPDATE conversations SET owner = 'bot', updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ("handback", serde_json::json!({}))
            }
            TicketChange::TakeOver => {
                sqlx::query(
                    "UPDATE conversations SET owner = 'human', human_involved = 1, assignee = COALESCE(assignee, $1),
                         handed_off_at = COALESCE(handed_off_at, $2), updated_at = $2 WHERE id = $3",
                )
                .bind(actor)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                ("takeover", serde_json::json!({}))
            }
            TicketChange::Note(body) => {
                let note: i64 = sqlx::query(
                    "INSERT INTO ticket_notes (tenant_id, conversation_id, author, body, created_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(tenant_id)
                .bind(id)
                .bind(actor)
                .bind(&body)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                ("note", serde_json::json!({ "note": note }))
            }
            TicketChange::Reply(out) => {
                let queued = Self::enqueue_batch_in(&mut tx, &[&out], now).await? > 0;
                if queued {
                    message_id = sqlx::query("SELECT message_id FROM outbox WHERE idempotency_key = $1")
                        .bind(&out.idempotency_key)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|r| r.get(0));
                    // Answering takes the conversation: bots fall silent.
                    sqlx::query(
                        "UPDATE conversations SET owner = 'human', human_involved = 1,
                             assignee = COALESCE(assignee, $1), handed_off_at = COALESCE(handed_off_at, $2),
                             first_human_response_at = COALESCE(first_human_response_at, $2),
                             last_message_at = $2, updated_at = $2 WHERE id = $3",
                    )
                    .bind(actor)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                (
                    "reply",
                    serde_json::json!({ "message": message_id, "segments": out.segments, "encoding": out.encoding }),
                )
            }
        };
        let detail = detail.to_string();
        // A repeated reply (same idempotency key) changed nothing: no entry.
        let repeated = kind == "reply" && message_id.is_none();
        let mut events = if repeated { Vec::new() } else { vec![(id, actor, kind, detail.as_str())] };
        let survey_detail = r#"{"by":"resolution"}"#;
        if survey_queued {
            events.push((id, "system", "csat_sent", survey_detail));
        }
        Self::ticket_events_in(&mut tx, events, now).await?;
        let only = TicketFilter { id: Some(id), limit: 1, ..TicketFilter::default() };
        let ticket = Self::summaries(&mut tx, tenant_id, &only, now).await?.pop();
        tx.commit().await?;
        Ok(ticket.map(|ticket| ChangeResult { ticket, message_id, assigned_to, survey_queued }))
    }

    /// Housekeeping: snoozed tickets whose time came are open again; resolved
    /// tickets older than their tenant's reopen window are closed. Returns the
    /// (tenant, ticket) pairs that changed.
    pub async fn sweep_tickets(&self, windows: &[(String, i64)]) -> StoreResult<Vec<(String, i64)>> {
        let now = self.now();
        self.after_inbound().await;
        let mut tx = self.writer.begin().await?;
        let mut changed: Vec<(String, i64, &'static str)> = Vec::new();
        for r in sqlx::query(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = $1
             WHERE status = 'snoozed' AND snoozed_until <= $1 RETURNING tenant_id, id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        {
            changed.push((r.get(0), r.get(1), r#"{"from":"snoozed","to":"open","why":"snooze ended"}"#));
        }
        for (tenant, window) in windows {
            for r in sqlx::query(
                "UPDATE conversations SET status = 'closed', updated_at = $1
                 WHERE tenant_id = $2 AND status = 'resolved' AND resolved_at < $3 RETURNING tenant_id, id",
            )
            .bind(now)
            .bind(tenant)
            .bind(now - window)
            .fetch_all(&mut *tx)
            .await?
            {
                changed.push((r.get(0), r.get(1), r#"{"from":"resolved","to":"closed","why":"reopen window passed"}"#));
            }
        }
        Self::ticket_events_in(&mut tx, changed.iter().map(|(_, id, d)| (*id, "system", "status", *d)), now).await?;
        tx.commit().await?;
        Ok(changed.into_iter().map(|(t, id, _)| (t, id)).collect())
    }

    /// A tenant's ticket's (tenant number, customer number), to reply from and to.
    pub async fn ticket_numbers(&self, tenant_id: &str, id: i64) -> StoreResult<Option<(String, String)>> {
        Ok(sqlx::query(
            "SELECT c.tenant_number, k.phone FROM conversations c JOIN contacts k ON k.id = c.contact_id
             WHERE c.id = $1 AND c.tenant_id = $2",
        )
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&self.reader)
        .await?
        .map(|r| (r.get(0), r.get(1))))
    }

    /// The (tenant, conversation) of messages, for live events.
    pub async fn conversations_of_messages(&self, ids: &[i64]) -> StoreResult<Vec<(String, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new(
            "SELECT DISTINCT tenant_id, conversation_id FROM messages WHERE conversation_id IS NOT NULL AND id IN ",
        );
        push_list(&mut q, ids.iter().copied());
        Ok(q.build().fetch_all(&self.reader).await?.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The (tenant, conversation) of an outbound message by provider id.
    pub async fn conversation_of_sid(&self, tenant_id: &str, provider_sid: &str) -> StoreResult<Option<(String, i64)>> {
        Ok(sqlx::query(
            "SELECT tenant_id, conversation_id FROM messages
             WHERE provider_sid = $1 AND tenant_id = $2 AND direction = 'outbound' AND conversation_id IS NOT NULL",
        )
        .bind(provider_sid)
        .bind(tenant_id)
        .fetch_optional(&self.reader)
        .await?
        .map(|r| (r.get(0), r.get(1))))
    }

    /// The tenants of conversations (for events after a batch).
    pub async fn tenants_of(&self, ids: &[i64]) -> StoreResult<Vec<(String, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT tenant_id, id FROM conversations WHERE id IN ");
        push_list(&mut q, ids.iter().copied());
        Ok(q.build().fetch_all(&self.reader).await?.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
