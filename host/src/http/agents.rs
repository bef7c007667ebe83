//! The agent API: tickets for the people who answer them. Agents and admins
//! authenticate with personal tokens; every query is scoped to the caller's
//! tenant (another tenant's ticket is "not found"). Replies go through the
//! outbox, so the consent gate and segment rules apply. Request bodies are
//! JSON, checked here once; mistakes get a 4xx with a sentence saying what.

use super::AppState;
use super::auth::{Principal, principal};
use super::error::ApiError;
use crate::messaging::segments;
use crate::store::{Assignee, NewOutbound, TicketChange, TicketFilter};
use crate::tickets::{self, Status};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest snooze, in minutes (90 days).
const MAX_SNOOZE_MINUTES: i64 = 90 * 24 * 60;

/// Longest reply (Twilio's limit for one message body).
pub const MAX_REPLY_CHARS: usize = 1600;
/// Longest note.
pub const MAX_NOTE_CHARS: usize = 10_000;

use super::error::parse_json as body;

/// The ticket a path names (`12` or `DEMO-12`), if it is the caller's tenant's.
async fn ticket_id(state: &AppState, who: &Principal, text: &str) -> Result<i64, ApiError> {
    let not_found = || ApiError::NotFound(format!("no ticket {text}"));
    let tenant = &who.tenant.config;
    let id = match text.parse::<i64>() {
        Ok(id) => id,
        Err(_) => {
            let n = tickets::parse_reference(&tenant.ticket_prefix(), text).ok_or_else(not_found)?;
            state.store.ticket_by_ref(&tenant.id, n).await?.ok_or_else(not_found)?
        }
    };
    Ok(id)
}

/// `GET /api/v1/me`
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let t = &who.tenant.config;
    let teams: std::collections::BTreeSet<&String> = t.users.iter().flat_map(|u| &u.teams).collect();
    let users: Vec<serde_json::Value> = t
        .users
        .iter()
        .map(|u| serde_json::json!({ "id": u.id, "name": u.name, "role": u.role, "teams": u.teams }))
        .collect();
    Ok(Json(serde_json::json!({
        "user": who.user, "name": who.name, "role": who.role, "teams": who.teams,
        "tenant": t.id, "brand": t.name, "reference_prefix": t.ticket_prefix(),
        "all_teams": teams, "users": users,
        "business_hours": t.tickets.business_hours, "time_zone": t.time_zone,
    })))
}

/// Filters of `GET /api/v1/tickets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Comma-separated statuses, or `active` (open, pending, snoozed).
    status: Option<String>,
    /// `bot` or `human`.
    owner: Option<String>,
    tag: Option<String>,
    /// A user id, `me` or `none`.
    assignee: Option<String>,
    team: Option<String>,
    /// Text in messages, notes, the number or the reference.
    q: Option<String>,
    overdue: Option<bool>,
    limit: Option<i64>,
}

/// `GET /api/v1/tickets`
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<TicketQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("`limit` must be between 1 and 500".into()));
    }
    let mut statuses = Vec::new();
    for s in q.status.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        if s == "active" {
            statuses.extend(["open", "pending", "snoozed"].map(String::from));
        } else if Status::parse(s).is_some() {
            statuses.push(s.to_string());
        } else {
            return Err(ApiError::BadRequest(format!(
                "unknown status `{s}`; use open, pending, snoozed, resolved, closed or active"
            )));
        }
    }
    if let Some(o) = &q.owner
        && o != "bot"
        && o != "human"
    {
        return Err(ApiError::BadRequest("`owner` must be bot or human".into()));
    }
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(who.user.clone())),
        Some(u) => Some(Some(u.to_string())),
    };
    let filter = TicketFilter {
        id: None,
        statuses,
        owner: q.owner,
        tag: q.tag.filter(|t| !t.is_empty()),
        assignee,
        team: q.team.filter(|t| !t.is_empty()),
        text: q.q.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
        overdue: q.overdue.unwrap_or(false),
        limit,
    };
    let tickets = state.store.tickets(&who.tenant.config.id, &filter).await?;
    Ok(Json(serde_json::json!({ "tickets": tickets, "now": state.store.now() })))
}

/// `GET /api/v1/tickets/{ticket}`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let id = ticket_id(&state, &who, &ticket).await?;
    let detail = state
        .store
        .conversation(&who.tenant.config.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no ticket {ticket}")))?;
    Ok(Json(serde_json::to_value(detail).map_err(|e| ApiError::Internal(e.to_string()))?))
}

/// `POST /api/v1/segments` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    body: String,
}

fn preview(text: &str) -> serde_json::Value {
    let info = segments::analyze(text);
    serde_json::json!({
        "characters": info.characters,
        "encoding": info.encoding.as_str(),
        "segments": info.segments,
        "units": info.units,
        "max_characters": MAX_REPLY_CHARS,
    })
}

/// `POST /api/v1/segments`: what a text would cost, before sending it.
pub async fn segments_preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal(&state, &headers)?;
    let b: TextBody = body(&headers, &bytes)?;
    Ok(Json(preview(&b.body)))
}

/// `POST /api/v1/tickets/{ticket}/reply` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    body: String,
    /// Repeating a request with the same key sends nothing twice.
    idempotency_key: Option<String>,
}

static REPLY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `POST /api/v1/tickets/{ticket}/reply`: queue a reply in the outbox.
pub async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let who = principal(&state, &headers)?;
    let b: ReplyBody = body(&headers, &bytes)?;
    let text = b.body.trim();
    if text.is_empty() {
        return Err(ApiError::BadRequest("`body` is empty".into()));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        // Said as the composer shows it: characters and segments.
        let info = segments::analyze(text);
        return Err(ApiError::BadRequest(format!(
            "`body` is {} characters ({} {} segments); at most {MAX_REPLY_CHARS} characters can be sent",
            info.characters,
            info.segments,
            info.encoding.as_str()
        )));
    }
    let key = match b.idempotency_key {
        Some(k) if k.is_empty() || k.len() > 128 => {
            return Err(ApiError::BadRequest("`idempotency_key` must be 1 to 128 characters".into()));
        }
        Some(k) => k,
        None => format!("{}-{}", state.store.now(), REPLY_COUNTER.fetch_add(1, Ordering::Relaxed)),
    };
    let id = ticket_id(&state, &who, &ticket).await?;
    let tenant = &who.tenant.config;
    let (from, to) = state
        .store
        .ticket_numbers(&tenant.id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no ticket {ticket}")))?;
    let info = segments::analyze(text);
    let out = NewOutbound {
        tenant_id: tenant.id.clone(),
        conversation_id: Some(id),
        idempotency_key: format!("agent:{id}:{key}"),
        author: "agent",
        category: "conversational",
        from,
        to,
        body: text.to_string(),
        encoding: info.encoding.as_str(),
        segments: info.segments,
        subject: None,
        answers_message_id: None,
        expires_at: None,
    };
    let done = change(&state, &who, id, TicketChange::Reply(out)).await?;
    state.outbox.notify_waiters();
    let status = if done.message_id.is_some() { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((
        status,
        Json(serde_json::json!({
            "queued": done.message_id.is_some(),
            "message_id": done.message_id,
            "preview": preview(text),
            "ticket": done.ticket,
        })),
    ))
}

async fn change(
    state: &AppState,
    who: &Principal,
    id: i64,
    change: TicketChange,
) -> Result<crate::store::ChangeResult, ApiError> {
    change_with(state, who, id, change, None).await
}

async fn change_with(
    state: &AppState,
    who: &Principal,
    id: i64,
    change: TicketChange,
    survey: Option<NewOutbound>,
) -> Result<crate::store::ChangeResult, ApiError> {
    let tenant = &who.tenant.config.id;
    let done = state
        .store
        .change_ticket(tenant, id, &who.user, change, survey)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no ticket {id}")))?;
    state.events.publish(tenant, id, "ticket");
    Ok(done)
}

fn changed(done: crate::store::ChangeResult) -> Json<serde_json::Value> {
    Json(serde_json::to_value(done).unwrap_or_default())
}

/// `POST /api/v1/tickets/{ticket}/notes`
pub async fn note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let b: TextBody = body(&headers, &bytes)?;
    let text = b.body.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::BadRequest(format!("`body` must be 1 to {MAX_NOTE_CHARS} characters")));
    }
    let id = ticket_id(&state, &who, &ticket).await?;
    Ok(changed(change(&state, &who, id, TicketChange::Note(text.to_string())).await?))
}

/// `POST /api/v1/tickets/{ticket}/assign` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A user id, `me`, or null to unassign.
    #[serde(default)]
    assignee: Option<String>,
    /// Move to this team's queue (`Some(None)`: an explicit null, refused).
    #[serde(default, deserialize_with = "present")]
    team: Option<Option<String>>,
    /// Pick the team's next member in turn.
    #[serde(default)]
    round_robin: bool,
}

fn check_name(what: &str, s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_alphanumeric() || "-_. ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!("`{what}` must be 1 to 64 letters, digits, - _ . or spaces")))
    }
}

/// A field that was present in the JSON: `Some(None)` for `null`, `Some(Some(v))` for a value
/// (with `#[serde(default)]`, absent is `None`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /api/v1/tickets/{ticket}/assign`
pub async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let b: AssignBody = body(&headers, &bytes)?;
    // `"team": null` would read as "no team given"; say what is meant instead.
    let team = match b.team {
        Some(None) => {
            return Err(ApiError::BadRequest("`team` cannot be null: leave it out to keep the ticket's team".into()));
        }
        Some(team) => team,
        None => None,
    };
    let users = &who.tenant.config.users;
    if let Some(team) = &team {
        check_name("team", team)?;
    }
    let assignee = if b.round_robin {
        if b.assignee.is_some() {
            return Err(ApiError::BadRequest("give `assignee` or `round_robin`, not both".into()));
        }
        let team = team.clone().ok_or_else(|| ApiError::BadRequest("`round_robin` needs a `team`".into()))?;
        let members: Vec<String> = users.iter().filter(|u| u.teams.contains(&team)).map(|u| u.id.clone()).collect();
        if members.is_empty() {
            return Err(ApiError::BadRequest(format!("team `{team}` has no members")));
        }
        Assignee::RoundRobin { team, members }
    } else {
        match b.assignee.as_deref() {
            None => Assignee::Nobody,
            Some("me") => Assignee::User(who.user.clone()),
            Some(u) if users.iter().any(|x| x.id == u) => Assignee::User(u.to_string()),
            Some(u) => return Err(ApiError::BadRequest(format!("`{u}` is not a user of this tenant"))),
        }
    };
    let id = ticket_id(&state, &who, &ticket).await?;
    Ok(changed(change(&state, &who, id, TicketChange::Assign { assignee, team }).await?))
}

/// `POST /api/v1/tickets/{ticket}/tags` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `POST /api/v1/tickets/{ticket}/tags`
pub async fn tags(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let b: TagsBody = body(&headers, &bytes)?;
    if b.add.is_empty() && b.remove.is_empty() {
        return Err(ApiError::BadRequest("give tags to `add` or `remove`".into()));
    }
    if b.add.len() + b.remove.len() > 20 {
        return Err(ApiError::BadRequest("at most 20 tags at once".into()));
    }
    for t in b.add.iter().chain(&b.remove) {
        check_name("tag", t)?;
    }
    let id = ticket_id(&state, &who, &ticket).await?;
    Ok(changed(change(&state, &who, id, TicketChange::Tags { add: b.add, remove: b.remove }).await?))
}

/// `POST /api/v1/tickets/{ticket}/status` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// open | pending | snoozed | resolved | closed.
    status: String,
    /// For `snoozed`: until this instant (RFC 3339) …
    snooze_until: Option<String>,
    /// … or for this many minutes.
    snooze_minutes: Option<i64>,
}

/// `POST /api/v1/tickets/{ticket}/status`: resolve, reopen, snooze, wait on the customer, close.
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let b: StatusBody = body(&headers, &bytes)?;
    let to = Status::parse(&b.status).ok_or_else(|| {
        ApiError::BadRequest(format!("unknown status `{}`; use open, pending, snoozed, resolved or closed", b.status))
    })?;
    let now = state.store.now();
    let snooze_until = match (to, &b.snooze_until, b.snooze_minutes) {
        (Status::Snoozed, Some(_), Some(_)) => {
            return Err(ApiError::BadRequest("give `snooze_until` or `snooze_minutes`, not both".into()));
        }
        (Status::Snoozed, Some(t), None) => {
            let t: jiff::Timestamp =
                t.parse().map_err(|_| ApiError::BadRequest(format!("`snooze_until` `{t}` is not an RFC 3339 time")))?;
            Some(t.as_millisecond())
        }
        // Bounded before any arithmetic: 1 minute to 90 days.
        (Status::Snoozed, None, Some(m)) if (1..=MAX_SNOOZE_MINUTES).contains(&m) => Some(now + m * 60_000),
        (Status::Snoozed, None, Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "`snooze_minutes` must be between 1 and {MAX_SNOOZE_MINUTES} (90 days)"
            )));
        }
        (Status::Snoozed, None, None) => {
            return Err(ApiError::BadRequest("snoozing needs `snooze_until` or `snooze_minutes`".into()));
        }
        (_, None, None) => None,
        _ => return Err(ApiError::BadRequest("`snooze_until` and `snooze_minutes` go with status snoozed".into())),
    };
    if let Some(until) = snooze_until
        && (until <= now || until - now > 90 * 86_400_000)
    {
        return Err(ApiError::BadRequest("a snooze must end in the future, within 90 days".into()));
    }
    let id = ticket_id(&state, &who, &ticket).await?;
    // The satisfaction survey goes with a resolution (once per ticket).
    let csat = &who.tenant.config.tickets.csat;
    let survey = if to == Status::Resolved && csat.on != tickets::CsatOn::Off {
        let (from, to_number) = state
            .store
            .ticket_numbers(&who.tenant.config.id, id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no ticket {ticket}")))?;
        let info = segments::analyze(&csat.text);
        Some(NewOutbound {
            tenant_id: who.tenant.config.id.clone(),
            conversation_id: Some(id),
            idempotency_key: format!("csat:{id}"),
            author: "system",
            category: "conversational",
            from,
            to: to_number,
            body: csat.text.clone(),
            encoding: info.encoding.as_str(),
            segments: info.segments,
            subject: Some("csat".into()),
            answers_message_id: None,
            expires_at: Some(now + 86_400_000),
        })
    } else {
        None
    };
    let done = change_with(&state, &who, id, TicketChange::Status { to, snooze_until }, survey).await?;
    if done.survey_queued {
        state.outbox.notify_waiters();
    }
    Ok(changed(done))
}

/// `POST /api/v1/tickets/{ticket}/priority` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityBody {
    priority: String,
}

/// `POST /api/v1/tickets/{ticket}/priority`
pub async fn priority(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
    bytes: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let b: PriorityBody = body(&headers, &bytes)?;
    let p = tickets::parse_priority(&b.priority)
        .ok_or_else(|| ApiError::BadRequest("`priority` must be low, normal, high or urgent".into()))?;
    let id = ticket_id(&state, &who, &ticket).await?;
    let p = tickets::priority_str(p).to_string();
    Ok(changed(change(&state, &who, id, TicketChange::Priority(p)).await?))
}

/// `POST /api/v1/tickets/{ticket}/handback`: automation answers again.
pub async fn handback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let id = ticket_id(&state, &who, &ticket).await?;
    Ok(changed(change(&state, &who, id, TicketChange::Handback).await?))
}

/// `POST /api/v1/tickets/{ticket}/takeover`: a person answers; bots fall silent.
pub async fn takeover(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let id = ticket_id(&state, &who, &ticket).await?;
    Ok(changed(change(&state, &who, id, TicketChange::TakeOver).await?))
}

/// `GET /api/v1/tickets/{ticket}/canned`: the tenant's canned responses,
/// filled in for this ticket (customer name and order id from the CRM
/// profile); one whose variables are unknown here says which.
pub async fn canned(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let who = principal(&state, &headers)?;
    let id = ticket_id(&state, &who, &ticket).await?;
    let t = &who.tenant.config;
    let detail =
        state.store.conversation(&t.id, id).await?.ok_or_else(|| ApiError::NotFound(format!("no ticket {ticket}")))?;
    let vars = tickets::canned_variables(detail.profile.as_ref(), &detail.summary.reference, &who.name, &t.name);
    let items: Vec<serde_json::Value> = t
        .tickets
        .canned
        .iter()
        .map(|(name, text)| match crate::messaging::template::render(text, &vars) {
            Ok(rendered) => serde_json::json!({
                "name": name, "template": text, "text": rendered, "preview": preview(&rendered),
            }),
            Err(e) => serde_json::json!({ "name": name, "template": text, "text": null, "error": e }),
        })
        .collect();
    Ok(Json(serde_json::json!({ "canned": items, "variables": vars })))
}

/// `GET /api/v1/reports` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `YYYY-MM-DD` (tenant time zone) or RFC 3339.
    since: String,
    /// End (exclusive); default now.
    until: Option<String>,
}

/// `GET /api/v1/reports?since=&until=` (admins): the period's figures.
pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<crate::reports::Report>, ApiError> {
    let who = super::auth::admin(&state, &headers)?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let t = &who.tenant.config;
    let since = crate::reports::parse_instant(&q.since, &t.time_zone).map_err(ApiError::BadRequest)?;
    let until = match &q.until {
        Some(u) => crate::reports::parse_instant(u, &t.time_zone).map_err(ApiError::BadRequest)?,
        None => state.store.now(),
    };
    if until <= since {
        return Err(ApiError::BadRequest("`until` must be after `since`".into()));
    }
    let data = state.store.report_data(&t.id, since, until).await?;
    Ok(Json(crate::reports::compute(&t.id, since, until, &data)))
}
