//! Replay: run a plugin version over a tenant's stored messages and report
//! what it would have decided next to what the running plugins decided —
//! offline: nothing is sent, stored or changed.
//!
//! Each message is given to the plugin as the pipeline gave it: the message,
//! the turns before it, the contact's CRM profile (as cached now) and, for a
//! responder, the intents the tenant's classifiers found then (from the
//! recorded traces). Messages no plugin saw (STOP, ratings, a human owning
//! the conversation) are skipped.

use crate::domain::{ConversationContext, Decision, Intent, Role};
use crate::plugins::{CallContext, LoadedPlugin};
use crate::store::{ReplayRow, Store};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// What a decision amounts to, for comparing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// `reply`, `reply-and-resolve`, `handoff`, `no-action`, or for a
    /// classifier `intent:<label>` (its top intent) / `no-intent`.
    pub kind: String,
    /// The reply text, or the handoff reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One message, both ways.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayItem {
    /// The inbound message.
    pub message_id: i64,
    /// Its conversation.
    pub conversation_id: i64,
    /// What the customer wrote.
    pub body: String,
    /// What the running plugins decided.
    pub happened: Action,
    /// What the replayed plugin decides (absent if it failed).
    pub replayed: Option<Action>,
    /// Its failure, if any.
    pub error: Option<String>,
    /// Same kind of decision.
    pub agrees: bool,
    /// Call time, microseconds.
    pub duration_us: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// The plugin replayed.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// In which role.
    pub role: Role,
    /// Messages looked at.
    pub messages: usize,
    /// Messages no plugin saw then (consent keywords, ratings, human-owned).
    pub skipped: usize,
    /// Messages compared.
    pub compared: usize,
    /// Of those, the share where the decision kind is the same.
    pub agreement_rate: Option<f64>,
    /// How many differ (failures included).
    pub differences: usize,
    /// Failures by kind.
    pub errors: BTreeMap<String, usize>,
    /// Median call time, microseconds.
    pub latency_median_us: Option<u64>,
    /// 90th percentile (nearest rank), microseconds.
    pub latency_p90_us: Option<u64>,
    /// Every compared message.
    pub items: Vec<ReplayItem>,
}

/// The action a decision amounts to.
pub fn decision_action(d: &Decision) -> Action {
    match (&d.reply, &d.handoff) {
        (_, Some(h)) => Action { kind: "handoff".into(), text: Some(h.reason.clone()) },
        (Some(r), None) if d.resolve => Action { kind: "reply-and-resolve".into(), text: Some(r.clone()) },
        (Some(r), None) => Action { kind: "reply".into(), text: Some(r.clone()) },
        (None, None) => Action { kind: "no-action".into(), text: None },
    }
}

/// The action a classifier's intents amount to (the top intent).
pub fn intents_action(intents: &[Intent]) -> Action {
    match intents.iter().max_by(|a, b| a.confidence.total_cmp(&b.confidence)) {
        Some(top) => Action { kind: format!("intent:{}", top.label), text: None },
        None => Action { kind: "no-intent".into(), text: None },
    }
}

/// Intents from a recorded classifier summary (`label=0.90, other=0.50`).
fn parse_intents(summary: &str) -> Vec<Intent> {
    summary
        .split(", ")
        .filter_map(|part| {
            let (label, conf) = part.rsplit_once('=')?;
            Some(Intent { label: label.to_string(), confidence: conf.parse().ok()? })
        })
        .collect()
}

/// What the running plugins decided, from the recorded traces; `None` if no
/// plugin of `role` saw the message.
fn happened(row: &ReplayRow, role: Role) -> Option<Action> {
    let role_name = role.as_str();
    let trace = row.traces.iter().find(|(_, r, _, _, _)| r == role_name)?;
    let (_, _, outcome, kind, detail) = trace;
    if outcome != "ok" {
        return Some(Action { kind: "failed".into(), text: kind.clone() });
    }
    let detail = detail.clone().unwrap_or_default();
    Some(match role {
        Role::Responder => match detail.as_str() {
            "reply" => Action { kind: "reply".into(), text: row.reply.clone() },
            "reply and resolve" => Action { kind: "reply-and-resolve".into(), text: row.reply.clone() },
            "no action" => Action { kind: "no-action".into(), text: None },
            d => Action { kind: "handoff".into(), text: d.strip_prefix("handoff: ").map(str::to_string) },
        },
        Role::Classifier => intents_action(&parse_intents(&detail)),
        Role::Crm => Action { kind: "lookup".into(), text: None },
    })
}

/// Replay `plugin` in `role` with `call` over `rows` (read by
/// [`Store::replay_rows`]); histories come from `store`.
pub async fn replay(
    store: &Store,
    plugin: &LoadedPlugin,
    role: Role,
    call: &CallContext,
    rows: &[ReplayRow],
) -> anyhow::Result<ReplayReport> {
    if !plugin.has_role(role) {
        anyhow::bail!("plugin `{}` does not export the {role} role", plugin.name());
    }
    if role == Role::Crm {
        anyhow::bail!("replay compares decisions: use a classifier or a responder");
    }
    let wanted: Vec<(i64, i64)> = rows.iter().map(|r| (r.conversation_id, r.message.id)).collect();
    let histories = store.history_batch(&wanted, 50).await?;
    let mut items = Vec::new();
    let mut skipped = 0;
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut durations = Vec::new();
    for (row, history) in rows.iter().zip(histories) {
        let Some(happened) = happened(row, role) else {
            skipped += 1;
            continue;
        };
        let m = &row.message;
        let message = m.to_message();
        let context = ConversationContext {
            conversation_id: row.conversation_id.to_string(),
            history,
            profile: row.profile_json.as_deref().and_then(|j| serde_json::from_str(j).ok()).flatten(),
        };
        let started = Instant::now();
        let result = match role {
            Role::Responder => {
                let intents: Vec<Intent> = row
                    .traces
                    .iter()
                    .filter(|(_, r, o, _, _)| r == "classifier" && o == "ok")
                    .flat_map(|(_, _, _, _, d)| parse_intents(d.as_deref().unwrap_or_default()))
                    .collect();
                plugin.respond(call, &message, &context, &intents).await.map(|d| decision_action(&d))
            }
            _ => plugin.classify(call, &message, &context).await.map(|i| intents_action(&i)),
        };
        let duration_us = started.elapsed().as_micros() as u64;
        durations.push(duration_us);
        let (replayed, error) = match result {
            Ok(a) => (Some(a), None),
            Err(e) => {
                *errors.entry(e.kind.as_str().to_string()).or_default() += 1;
                (None, Some(e.to_string()))
            }
        };
        let agrees = replayed.as_ref().is_some_and(|a| a.kind == happened.kind);
        items.push(ReplayItem {
            message_id: m.id,
            conversation_id: row.conversation_id,
            body: m.body.clone(),
            happened,
            replayed,
            error,
            agrees,
            duration_us,
        });
    }
    durations.sort_unstable();
    let compared = items.len();
    let agreeing = items.iter().filter(|i| i.agrees).count();
    Ok(ReplayReport {
        plugin: plugin.name().to_string(),
        version: plugin.manifest().version.clone(),
        role,
        messages: rows.len(),
        skipped,
        compared,
        agreement_rate: (compared > 0).then(|| agreeing as f64 / compared as f64),
        differences: compared - agreeing,
        errors,
        latency_median_us: crate::reports::percentile(&durations, 0.5),
        latency_p90_us: crate::reports::percentile(&durations, 0.9),
        items,
    })
}

/// The report as text: a summary, then each difference.
pub fn table(r: &ReplayReport) -> String {
    let mut out = format!(
        "{} {} as {}: {} messages, {} compared, {} skipped; agreement {}; {} differences; errors {:?}; latency median {} µs, p90 {} µs\n",
        r.plugin,
        r.version,
        r.role,
        r.messages,
        r.compared,
        r.skipped,
        r.agreement_rate.map(|a| format!("{:.1} %", a * 100.0)).unwrap_or_else(|| "-".into()),
        r.differences,
        r.errors,
        r.latency_median_us.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        r.latency_p90_us.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
    );
    for i in r.items.iter().filter(|i| !i.agrees) {
        let replayed = match (&i.replayed, &i.error) {
            (Some(a), _) => a.kind.clone(),
            (None, Some(e)) => format!("failed: {e}"),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "  message {} (conversation {}): {:?}\n    happened: {}\n    replayed: {}\n",
            i.message_id, i.conversation_id, i.body, i.happened.kind, replayed
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_intent_summaries_parse_back() {
        let i = parse_intents("order-status=0.90, returns=0.35");
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].label, "order-status");
        assert!((i[1].confidence - 0.35).abs() < 1e-6);
        assert!(parse_intents("no intents").is_empty());
        assert_eq!(intents_action(&i).kind, "intent:order-status");
    }
}
