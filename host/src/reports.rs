//! Support reports: what the period's messages, tickets, surveys and sends
//! add up to. Pure computation over [`ReportData`] (read by
//! `store/reports.rs`); the figures are defined in the README ("Reports").

use crate::store::ReportData;
use serde::Serialize;
use std::collections::BTreeMap;

/// Median and 90th percentile (nearest rank) of durations in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    /// How many.
    pub count: usize,
    /// Median, seconds.
    pub median: Option<f64>,
    /// 90th percentile, seconds.
    pub p90: Option<f64>,
}

/// The figures for one tenant and period.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Tenant.
    pub tenant: String,
    /// Start (inclusive), RFC 3339.
    pub since: String,
    /// End (exclusive), RFC 3339.
    pub until: String,
    /// Inbound messages received.
    pub messages_in: i64,
    /// Outbound messages handed to the provider.
    pub messages_out: i64,
    /// Conversations (tickets) opened.
    pub conversations: i64,
    /// First response by automation: customer's first message → first bot reply.
    pub first_response_bot: Spread,
    /// First response by a person: handoff → first agent reply.
    pub first_response_human: Spread,
    /// Tickets resolved in the period that were never reopened, of all resolved.
    pub first_contact_resolution_rate: Option<f64>,
    /// Conversations a person worked, of those opened.
    pub escalation_rate: Option<f64>,
    /// Conversations resolved without a person, of those opened.
    pub deflection_rate: Option<f64>,
    /// Average rating (1–5).
    pub csat_average: Option<f64>,
    /// Ratings received.
    pub csat_responses: i64,
    /// Surveys sent.
    pub csat_surveys: i64,
    /// Ratings per survey sent.
    pub csat_response_rate: Option<f64>,
    /// Customers who opted out, of customers who wrote.
    pub opt_out_rate: Option<f64>,
    /// Sends that failed or were undelivered, of those handed to the provider.
    pub delivery_failure_rate: Option<f64>,
    /// Failed sends by provider error code.
    pub delivery_failures_by_code: BTreeMap<String, i64>,
    /// Segments of all messages of the opened conversations, per conversation.
    pub segments_per_conversation: Option<f64>,
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Nearest-rank percentile `p` (0–1] of sorted `v`.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn spread(mut v: Vec<f64>) -> Spread {
    v.sort_by(f64::total_cmp);
    Spread { count: v.len(), median: percentile(&v, 0.5), p90: percentile(&v, 0.9) }
}

/// Compute the report.
pub fn compute(tenant: &str, since: i64, until: i64, d: &ReportData) -> Report {
    let secs = |ms: i64| ms as f64 / 1000.0;
    let conversations = d.conversations.len();
    let bot: Vec<f64> = d
        .conversations
        .iter()
        .filter_map(|c| Some(secs((c.first_bot_reply_at? - c.first_inbound_at?).max(0))))
        .collect();
    let human: Vec<f64> = d
        .conversations
        .iter()
        .filter_map(|c| Some(secs((c.first_human_response_at? - c.handed_off_at?).max(0))))
        .collect();
    let escalated = d.conversations.iter().filter(|c| c.human_involved).count();
    let deflected = d
        .conversations
        .iter()
        .filter(|c| !c.human_involved && (c.status == "resolved" || c.status == "closed") && c.resolved_at.is_some())
        .count();
    let fcr = d.resolved.iter().filter(|r| **r == 0).count();
    let failed: Vec<&crate::store::ReportSend> =
        d.sends.iter().filter(|s| s.status == "failed" || s.status == "undelivered").collect();
    let mut by_code = BTreeMap::new();
    for s in &failed {
        *by_code.entry(s.error_code.clone().unwrap_or_else(|| "unknown".into())).or_insert(0) += 1;
    }
    let segments: i64 = d.conversations.iter().map(|c| c.segments).sum();
    let rfc = |ms: i64| crate::store::rfc3339(ms);
    Report {
        tenant: tenant.to_string(),
        since: rfc(since),
        until: rfc(until),
        messages_in: d.messages_in,
        messages_out: d.sends.len() as i64,
        conversations: conversations as i64,
        first_response_bot: spread(bot),
        first_response_human: spread(human),
        first_contact_resolution_rate: ratio(fcr, d.resolved.len()),
        escalation_rate: ratio(escalated, conversations),
        deflection_rate: ratio(deflected, conversations),
        csat_average: (!d.ratings.is_empty()).then(|| d.ratings.iter().sum::<i64>() as f64 / d.ratings.len() as f64),
        csat_responses: d.ratings.len() as i64,
        csat_surveys: d.surveys_sent,
        csat_response_rate: ratio(d.ratings.len(), d.surveys_sent as usize),
        opt_out_rate: ratio(d.contacts_opting_out as usize, d.contacts_writing as usize),
        delivery_failure_rate: ratio(failed.len(), d.sends.len()),
        delivery_failures_by_code: by_code,
        segments_per_conversation: (conversations > 0).then(|| segments as f64 / conversations as f64),
    }
}

/// The start of a period: `YYYY-MM-DD` (midnight in `tz`) or an RFC 3339 instant.
pub fn parse_instant(text: &str, tz: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let date: jiff::civil::Date =
        text.parse().map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    let zone = jiff::tz::TimeZone::get(tz).map_err(|e| e.to_string())?;
    date.at(0, 0, 0, 0)
        .to_zoned_datetime(zone)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| format!("`{text}` is outside the range of dates a report can cover"))
}

/// The report as a two-column table.
pub fn table(r: &Report) -> String {
    let pct = |v: Option<f64>| v.map(|x| format!("{:.1} %", x * 100.0)).unwrap_or_else(|| "-".into());
    let num = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let dur = |s: &Spread| match (s.median, s.p90) {
        (Some(m), Some(p)) => format!("median {m:.0} s, p90 {p:.0} s ({} tickets)", s.count),
        _ => "-".into(),
    };
    let codes = if r.delivery_failures_by_code.is_empty() {
        "-".to_string()
    } else {
        r.delivery_failures_by_code.iter().map(|(c, n)| format!("{c}: {n}")).collect::<Vec<_>>().join(", ")
    };
    let rows = [
        ("tenant", r.tenant.clone()),
        ("period", format!("{} .. {}", r.since, r.until)),
        ("messages in", r.messages_in.to_string()),
        ("messages out", r.messages_out.to_string()),
        ("conversations", r.conversations.to_string()),
        ("first response (bot)", dur(&r.first_response_bot)),
        ("first response (human)", dur(&r.first_response_human)),
        ("first contact resolution", pct(r.first_contact_resolution_rate)),
        ("escalation rate", pct(r.escalation_rate)),
        ("deflection rate", pct(r.deflection_rate)),
        ("CSAT average", num(r.csat_average)),
        ("CSAT response rate", format!("{} ({} of {})", pct(r.csat_response_rate), r.csat_responses, r.csat_surveys)),
        ("opt-out rate", pct(r.opt_out_rate)),
        ("delivery failure rate", pct(r.delivery_failure_rate)),
        ("failures by error code", codes),
        ("segments per conversation", num(r.segments_per_conversation)),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[600.0, 1800.0], 0.5), Some(600.0));
        assert_eq!(percentile(&[600.0, 1800.0], 0.9), Some(1800.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 0.5), Some(5.0));
        assert_eq!(percentile(&ten, 0.9), Some(9.0));
        assert_eq!(percentile::<f64>(&[], 0.5), None);
    }

    #[test]
    fn periods_parse_in_the_tenants_zone() {
        let ny = parse_instant("2026-11-02", "America/New_York").unwrap();
        assert_eq!(crate::store::rfc3339(ny), "2026-11-02T05:00:00Z");
        assert_eq!(parse_instant("2026-11-02T05:00:00Z", "UTC").unwrap(), ny);
        assert!(parse_instant("last week", "UTC").unwrap_err().contains("YYYY-MM-DD"));
    }
}
