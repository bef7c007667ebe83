//! The ticket rules, as pure functions: where a customer's message goes
//! ([`place`]), what a batch of automation outcomes does to each ticket
//! ([`fold_outcomes`]), what a status change sets ([`transition`]), tags
//! ([`merge_tags`]) and round-robin ([`next_in_rotation`]). The store reads
//! the facts these take and writes the decisions they return; no engine
//! repeats them.

use super::Status;
use crate::domain::{Decision, Handoff, Intent};

/// What the host knows about a contact's newest ticket when a message arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// Its status.
    pub status: Status,
    /// When it was resolved (ms), if it was.
    pub resolved_at: Option<i64>,
    /// A satisfaction survey was sent and not answered yet.
    pub csat_waiting: bool,
}

impl Latest {
    /// A ticket just opened (by an earlier message of the same batch).
    pub const NEW: Latest = Latest { status: Status::Open, resolved_at: None, csat_waiting: false };
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The active ticket takes it; a pending or snoozed one opens again
    /// (`woke_from` is what it was).
    Active {
        /// The status it leaves for `open`, if it was not open.
        woke_from: Option<Status>,
    },
    /// A resolved ticket within the reopen window opens again.
    Reopen,
    /// The message is the 1–5 answer the resolved ticket's survey waited for.
    Rating(u8),
    /// A new ticket opens; `close_latest`: the resolved one before it, past
    /// its reopen window, is closed.
    New {
        /// Close the latest (resolved) ticket.
        close_latest: bool,
    },
}

/// Place a message with `body`, arriving `now`, given the contact's newest
/// ticket and the tenant's reopen window.
pub fn place(latest: Option<&Latest>, body: &str, now: i64, reopen_window_ms: i64) -> Placement {
    match latest {
        Some(l) if l.status.is_active() => {
            Placement::Active { woke_from: (l.status != Status::Open).then_some(l.status) }
        }
        Some(l) if l.status == Status::Resolved && l.resolved_at.is_some_and(|at| now - at <= reopen_window_ms) => {
            match super::parse_rating(body).filter(|_| l.csat_waiting) {
                Some(rating) => Placement::Rating(rating),
                None => Placement::Reopen,
            }
        }
        Some(l) => Placement::New { close_latest: l.status == Status::Resolved },
        None => Placement::New { close_latest: false },
    }
}

impl Placement {
    /// The contact's newest ticket after this message (for the next message of the batch).
    pub fn then(self, latest: Option<Latest>) -> Latest {
        match (self, latest) {
            (Placement::Rating(_), Some(l)) => Latest { csat_waiting: false, ..l },
            (Placement::Rating(_), None) | (Placement::New { .. }, _) => Latest::NEW,
            (Placement::Active { .. } | Placement::Reopen, _) => Latest::NEW,
        }
    }

    /// The timeline entry of the ticket the message lands in (kind, JSON
    /// detail), if any; and of the latest ticket, when it is closed.
    pub fn timeline(self) -> Option<(&'static str, String)> {
        match self {
            Placement::Active { woke_from: Some(from) } => {
                Some(("status", format!(r#"{{"from":"{}","to":"open","why":"customer replied"}}"#, from.as_str())))
            }
            Placement::Active { woke_from: None } => None,
            Placement::Reopen => Some(("reopened", r#"{"why":"customer replied"}"#.to_string())),
            Placement::Rating(r) => Some(("csat", format!(r#"{{"rating":{r}}}"#))),
            Placement::New { .. } => Some(("opened", "{}".to_string())),
        }
    }
}

/// The timeline entry of a resolved ticket closed because a message came after its window.
pub const CLOSED_PAST_WINDOW: &str = r#"{"from":"resolved","to":"closed","why":"reopen window passed"}"#;

/// One message's automation outcome, as the ticket rules see it.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeFacts<'a> {
    /// The ticket.
    pub conversation_id: i64,
    /// A person owns it (automation changes nothing on it).
    pub human_owned: bool,
    /// What the plugins decided (a failure is a handoff by now).
    pub decision: &'a Decision,
    /// Intents found.
    pub intents: &'a [Intent],
    /// For a handoff: the SLA due times (first response, resolution), ms.
    pub sla: Option<(i64, i64)>,
    /// A bot reply goes out.
    pub replied: bool,
    /// The satisfaction survey goes out.
    pub survey: bool,
}

/// What a batch's outcomes do to one ticket, folded in message order as if
/// applied one after another.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketUpdate {
    /// The ticket.
    pub conversation_id: i64,
    /// Tags automation adds (in order, possibly repeated).
    pub add_tags: Vec<String>,
    /// The intents of the last message that had any.
    pub intents: Vec<Intent>,
    /// The last handoff, if any: the ticket goes to people.
    pub handoff: Option<Handoff>,
    /// The SLA due times of that handoff.
    pub sla: Option<(i64, i64)>,
    /// Resolved by the bot (never together with a handoff).
    pub resolve: bool,
    /// A bot reply went out (the ticket's last activity is now).
    pub replied: bool,
    /// The survey went out.
    pub survey: bool,
}

impl TicketUpdate {
    /// The ticket's tags after this update.
    pub fn tags(&self, current: Vec<String>) -> Vec<String> {
        merge_tags(current, &self.add_tags, &[])
    }

    /// Resolved by this update (a handoff wins over a resolution).
    pub fn resolves(&self) -> bool {
        self.resolve && self.handoff.is_none()
    }

    /// Its timeline entries: (actor, kind, JSON detail).
    pub fn timeline(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut events = Vec::new();
        if let Some(h) = &self.handoff {
            let detail = serde_json::json!({ "reason": h.reason, "priority": h.priority, "team": h.team });
            events.push(("bot", "handoff", detail.to_string()));
        } else if self.resolve {
            events.push(("bot", "status", r#"{"to":"resolved"}"#.to_string()));
        }
        if !self.add_tags.is_empty() {
            events.push(("bot", "tags", serde_json::json!({ "added": self.add_tags }).to_string()));
        }
        if self.survey {
            events.push(("system", "csat_sent", r#"{"by":"resolution"}"#.to_string()));
        }
        events
    }
}

/// Fold a batch's outcomes per ticket, in message order. Tickets people own
/// are left alone.
pub fn fold_outcomes<'a>(outcomes: impl IntoIterator<Item = OutcomeFacts<'a>>) -> Vec<TicketUpdate> {
    let mut updates: Vec<TicketUpdate> = Vec::new();
    for o in outcomes.into_iter().filter(|o| !o.human_owned) {
        let i = match updates.iter().position(|u| u.conversation_id == o.conversation_id) {
            Some(i) => i,
            None => {
                updates.push(TicketUpdate {
                    conversation_id: o.conversation_id,
                    add_tags: Vec::new(),
                    intents: Vec::new(),
                    handoff: None,
                    sla: None,
                    resolve: false,
                    replied: false,
                    survey: false,
                });
                updates.len() - 1
            }
        };
        let u = &mut updates[i];
        u.add_tags.extend(o.decision.add_tags.iter().cloned());
        if !o.intents.is_empty() {
            u.intents = o.intents.to_vec();
        }
        if let Some(h) = &o.decision.handoff {
            u.handoff = Some(h.clone());
            u.sla = o.sla;
        } else if o.decision.resolve {
            u.resolve = true;
        }
        u.replied |= o.replied;
        u.survey |= o.survey;
    }
    updates
}

/// `current` with `add` appended (each once) and `remove` taken out.
pub fn merge_tags(mut current: Vec<String>, add: &[String], remove: &[String]) -> Vec<String> {
    current.retain(|t| !remove.contains(t));
    for t in add {
        if !current.contains(t) {
            current.push(t.clone());
        }
    }
    current
}

/// The team member after `last` in `members` (the first if `last` is none or gone).
pub fn next_in_rotation<'a>(members: &'a [String], last: Option<&str>) -> Option<&'a String> {
    match last.and_then(|l| members.iter().position(|m| m == l)) {
        Some(i) => members.get((i + 1) % members.len()),
        None => members.first(),
    }
}

/// What a status change sets besides the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// `resolved_at` after it.
    pub resolved_at: Option<i64>,
    /// `resolved_by` after it.
    pub resolved_by: Option<String>,
    /// The ticket was done (resolved or closed) and is open again.
    pub reopened: bool,
    /// It became resolved just now (the survey may go).
    pub newly_resolved: bool,
    /// When a snoozed ticket wakes (only with `snoozed`).
    pub snoozed_until: Option<i64>,
}

/// Move a ticket from `from` to `to` at `now` by `actor`. Resolving keeps
/// the first resolution's time and author; closing keeps them; any other
/// status clears them; opening a done ticket counts as a reopening.
pub fn transition(
    from: Status,
    to: Status,
    resolved: (Option<i64>, Option<&str>),
    snooze_until: Option<i64>,
    now: i64,
    actor: &str,
) -> Transition {
    let (resolved_at, resolved_by) = match to {
        Status::Resolved => (Some(resolved.0.unwrap_or(now)), Some(resolved.1.unwrap_or(actor).to_string())),
        Status::Closed => (resolved.0, Some(resolved.1.unwrap_or(actor).to_string())),
        _ => (None, None),
    };
    Transition {
        resolved_at,
        resolved_by,
        reopened: to == Status::Open && matches!(from, Status::Resolved | Status::Closed),
        newly_resolved: to == Status::Resolved && from != Status::Resolved,
        snoozed_until: if to == Status::Snoozed { snooze_until } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Priority;

    const HOUR: i64 = 3_600_000;
    const WINDOW: i64 = 72 * HOUR;

    fn latest(status: Status, resolved_at: Option<i64>, csat_waiting: bool) -> Latest {
        Latest { status, resolved_at, csat_waiting }
    }

    #[test]
    fn a_message_finds_its_ticket() {
        let now = 1_000 * HOUR;
        assert_eq!(place(None, "hi", now, WINDOW), Placement::New { close_latest: false });
        for s in [Status::Pending, Status::Snoozed] {
            assert_eq!(
                place(Some(&latest(s, None, false)), "hi", now, WINDOW),
                Placement::Active { woke_from: Some(s) }
            );
        }
        assert_eq!(
            place(Some(&latest(Status::Open, None, false)), "hi", now, WINDOW),
            Placement::Active { woke_from: None }
        );
        let resolved = |ago: i64, waiting| latest(Status::Resolved, Some(now - ago), waiting);
        assert_eq!(place(Some(&resolved(HOUR, false)), "again", now, WINDOW), Placement::Reopen);
        assert_eq!(place(Some(&resolved(WINDOW, false)), "again", now, WINDOW), Placement::Reopen, "the window's edge");
        assert_eq!(
            place(Some(&resolved(WINDOW + 1, false)), "again", now, WINDOW),
            Placement::New { close_latest: true }
        );
        // A lone 1–5 answers a waiting survey; not when none waits, nor past the window.
        assert_eq!(place(Some(&resolved(HOUR, true)), " 5 ", now, WINDOW), Placement::Rating(5));
        assert_eq!(place(Some(&resolved(HOUR, true)), "4 stars", now, WINDOW), Placement::Rating(4));
        assert_eq!(place(Some(&resolved(HOUR, true)), "thanks, but it is still late", now, WINDOW), Placement::Reopen);
        assert_eq!(place(Some(&resolved(HOUR, false)), "5", now, WINDOW), Placement::Reopen);
        assert_eq!(place(Some(&resolved(WINDOW + 1, true)), "5", now, WINDOW), Placement::New { close_latest: true });
        assert_eq!(
            place(Some(&latest(Status::Closed, Some(now - HOUR), false)), "hi", now, WINDOW),
            Placement::New { close_latest: false }
        );
    }

    #[test]
    fn a_batch_of_messages_moves_one_ticket_along() {
        let now = 1_000 * HOUR;
        // A rating, then another message: the second reopens (the survey is answered).
        let mut l = latest(Status::Resolved, Some(now - HOUR), true);
        let first = place(Some(&l), "4", now, WINDOW);
        assert_eq!(first, Placement::Rating(4));
        l = first.then(Some(l));
        assert_eq!(place(Some(&l), "4", now, WINDOW), Placement::Reopen);
        // A new ticket takes the batch's next messages.
        let new = place(None, "hi", now, WINDOW);
        assert_eq!(place(Some(&new.then(None)), "more", now, WINDOW), Placement::Active { woke_from: None });
        assert_eq!(Placement::Reopen.timeline().unwrap().0, "reopened");
        assert!(Placement::Active { woke_from: Some(Status::Snoozed) }.timeline().unwrap().1.contains("snoozed"));
    }

    #[test]
    fn outcomes_fold_per_ticket_in_message_order() {
        let reply = Decision { reply: Some("hi".into()), add_tags: vec!["vip".into()], ..Decision::default() };
        let handoff = Decision {
            handoff: Some(Handoff { reason: "angry".into(), priority: Priority::High, team: Some("care".into()) }),
            add_tags: vec!["vip".into(), "angry".into()],
            ..Decision::default()
        };
        let resolve = Decision { resolve: true, ..Decision::default() };
        let intents = [Intent { label: "order-status".into(), confidence: 0.9 }];
        let facts = |id, decision, human_owned, sla| OutcomeFacts {
            conversation_id: id,
            human_owned,
            decision,
            intents: &intents,
            sla,
            replied: true,
            survey: false,
        };
        let updates = fold_outcomes([
            facts(1, &reply, false, None),
            facts(2, &resolve, false, None),
            facts(1, &handoff, false, Some((10, 20))),
            facts(3, &reply, true, None),
            facts(1, &resolve, false, None),
        ]);
        assert_eq!(updates.len(), 2, "ticket 3 is people's");
        let one = &updates[0];
        assert_eq!(one.add_tags, ["vip", "vip", "angry"]);
        assert_eq!(one.tags(vec!["old".into(), "vip".into()]), ["old", "vip", "angry"]);
        assert_eq!(one.handoff.as_ref().unwrap().reason, "angry");
        assert_eq!(one.sla, Some((10, 20)));
        assert!(one.resolve && !one.resolves(), "a handoff wins over a later resolution");
        assert_eq!(one.intents, intents);
        let kinds: Vec<&str> = one.timeline().iter().map(|e| e.1).collect();
        assert_eq!(kinds, ["handoff", "tags"]);
        assert!(updates[1].resolves());
        assert_eq!(updates[1].timeline()[0], ("bot", "status", r#"{"to":"resolved"}"#.to_string()));
    }

    #[test]
    fn status_changes_keep_the_first_resolution_and_count_reopenings() {
        let t = transition(Status::Open, Status::Resolved, (None, None), None, 100, "rosa");
        assert_eq!((t.resolved_at, t.resolved_by.as_deref(), t.newly_resolved), (Some(100), Some("rosa"), true));
        let again = transition(Status::Resolved, Status::Resolved, (Some(100), Some("rosa")), None, 200, "ben");
        assert_eq!(
            (again.resolved_at, again.resolved_by.as_deref(), again.newly_resolved),
            (Some(100), Some("rosa"), false)
        );
        let closed = transition(Status::Resolved, Status::Closed, (Some(100), Some("rosa")), None, 300, "ben");
        assert_eq!((closed.resolved_at, closed.resolved_by.as_deref()), (Some(100), Some("rosa")));
        let reopened = transition(Status::Closed, Status::Open, (Some(100), Some("rosa")), None, 400, "ben");
        assert_eq!((reopened.resolved_at, reopened.reopened), (None, true));
        assert!(!transition(Status::Pending, Status::Open, (None, None), None, 1, "x").reopened);
        let snoozed = transition(Status::Open, Status::Snoozed, (None, None), Some(999), 1, "x");
        assert_eq!(snoozed.snoozed_until, Some(999));
        assert_eq!(transition(Status::Open, Status::Pending, (None, None), Some(999), 1, "x").snoozed_until, None);
    }

    #[test]
    fn tags_and_rotation() {
        let tags = merge_tags(vec!["a".into(), "b".into()], &["b".into(), "c".into()], &["a".into()]);
        assert_eq!(tags, ["b", "c"]);
        let members: Vec<String> = ["rosa", "ben", "kim"].map(String::from).to_vec();
        assert_eq!(next_in_rotation(&members, None).unwrap(), "rosa");
        assert_eq!(next_in_rotation(&members, Some("rosa")).unwrap(), "ben");
        assert_eq!(next_in_rotation(&members, Some("kim")).unwrap(), "rosa");
        assert_eq!(next_in_rotation(&members, Some("gone")).unwrap(), "rosa");
        assert_eq!(next_in_rotation(&[], Some("x")), None);
    }
}
