//! Operator metrics in Prometheus' text format (`GET /metrics`): counters
//! and latency histograms for webhooks, pipeline stages, plugin calls (by
//! tenant, plugin, role and outcome) and outbox sends (by result). One
//! process-wide registry; recording is a short lock and no I/O.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

/// Histogram bucket upper bounds, seconds.
pub const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Registry {
    /// name → rendered labels → value.
    counters: BTreeMap<&'static str, BTreeMap<String, u64>>,
    histograms: BTreeMap<&'static str, BTreeMap<String, Histogram>>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// What each metric means (the `# HELP` lines).
const HELP: &[(&str, &str, &str)] = &[
    ("smsdesk_webhook_requests_total", "counter", "Provider webhook requests by endpoint and HTTP status."),
    ("smsdesk_webhook_duration_seconds", "histogram", "Time to answer a provider webhook."),
    ("smsdesk_pipeline_stage_duration_seconds", "histogram", "Time spent in each pipeline stage, per message."),
    ("smsdesk_pipeline_messages_total", "counter", "Inbound messages processed, by tenant and outcome."),
    (
        "smsdesk_plugin_calls_total",
        "counter",
        "Plugin calls by tenant, plugin, role and outcome (ok or the failure kind).",
    ),
    ("smsdesk_plugin_call_duration_seconds", "histogram", "Plugin call latency by tenant, plugin and role."),
    ("smsdesk_outbox_sends_total", "counter", "Outbox send attempts by tenant and result."),
    ("smsdesk_provider_request_duration_seconds", "histogram", "Provider API call latency by provider."),
    (
        "smsdesk_plugin_http_requests_total",
        "counter",
        "Brokered plugin HTTP requests by tenant, plugin and outcome (status class or refusal kind).",
    ),
    (
        "smsdesk_housekeeping_runs_total",
        "counter",
        "Housekeeping sweeps this replica ran (one replica leads at a time).",
    ),
    (
        "smsdesk_plugin_file_reloads_total",
        "counter",
        "Development: changed plugin files seen by the watcher, by file and result (reloaded or failed).",
    ),
    (
        "smsdesk_shadow_results_total",
        "counter",
        "Shadow-run comparisons by tenant: recorded or dropped (recorder full).",
    ),
];

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out
}

/// Add `by` to counter `name` with `pairs` as labels.
pub fn count(name: &'static str, pairs: &[(&str, &str)], by: u64) {
    let key = labels(pairs);
    if let Ok(mut r) = registry().lock() {
        *r.counters.entry(name).or_default().entry(key).or_default() += by;
    }
}

/// Record `seconds` in histogram `name` with `pairs` as labels.
pub fn observe(name: &'static str, pairs: &[(&str, &str)], seconds: f64) {
    let key = labels(pairs);
    if let Ok(mut r) = registry().lock() {
        let h = r.histograms.entry(name).or_default().entry(key).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }
}

/// Everything recorded, in Prometheus' text exposition format, followed by `extra` gauges.
pub fn render(extra: &[(&str, &str, i64)]) -> String {
    let mut out = String::new();
    let Ok(r) = registry().lock() else { return out };
    for (name, kind, help) in HELP {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        if let Some(series) = r.counters.get(name) {
            for (l, v) in series {
                match l.is_empty() {
                    true => writeln!(out, "{name} {v}"),
                    false => writeln!(out, "{name}{{{l}}} {v}"),
                }
                .ok();
            }
        }
        if let Some(series) = r.histograms.get(name) {
            for (l, h) in series {
                let sep = if l.is_empty() { "" } else { "," };
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"{bound}\"}} {}", h.counts[i]);
                }
                let _ = writeln!(out, "{name}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{{{l}}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
            }
        }
    }
    for (name, help, value) in extra {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    }
    out
}

/// One plugin binding's numbers since start-up: calls by outcome and
/// latency percentiles (upper bounds of histogram buckets, seconds).
pub fn plugin_summary(tenant: &str, plugin: &str, role: &str) -> serde_json::Value {
    let Ok(r) = registry().lock() else { return serde_json::Value::Null };
    let prefix = labels(&[("tenant", tenant), ("plugin", plugin), ("role", role)]);
    let mut outcomes = serde_json::Map::new();
    let mut calls = 0;
    if let Some(series) = r.counters.get("smsdesk_plugin_calls_total") {
        for (l, v) in series {
            if let Some(outcome) = l.strip_prefix(&prefix).and_then(|rest| rest.strip_prefix(",outcome=\"")) {
                outcomes.insert(outcome.trim_end_matches('"').to_string(), (*v).into());
                calls += v;
            }
        }
    }
    let errors = calls - outcomes.get("ok").and_then(|v| v.as_u64()).unwrap_or(0);
    let quantile = |h: &Histogram, q: f64| -> Option<f64> {
        if h.count == 0 {
            return None;
        }
        let rank = (q * h.count as f64).ceil() as u64;
        BUCKETS.iter().zip(h.counts.iter()).find(|(_, c)| **c >= rank).map(|(b, _)| *b)
    };
    let latency = r.histograms.get("smsdesk_plugin_call_duration_seconds").and_then(|s| s.get(&prefix));
    serde_json::json!({
        "calls": calls,
        "errors": errors,
        "by_outcome": outcomes,
        "latency_seconds": {
            "p50_at_most": latency.and_then(|h| quantile(h, 0.5)),
            "p90_at_most": latency.and_then(|h| quantile(h, 0.9)),
            "p99_at_most": latency.and_then(|h| quantile(h, 0.99)),
            "mean": latency.filter(|h| h.count > 0).map(|h| h.sum / h.count as f64),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_text_format() {
        count("smsdesk_outbox_sends_total", &[("tenant", "unit\"test"), ("result", "sent")], 2);
        observe("smsdesk_plugin_call_duration_seconds", &[("tenant", "unit"), ("plugin", "p"), ("role", "crm")], 0.003);
        let text = render(&[("smsdesk_jobs_pending", "Jobs waiting.", 4)]);
        assert!(text.contains("smsdesk_outbox_sends_total{tenant=\"unit\\\"test\",result=\"sent\"} 2"), "{text}");
        let l = "tenant=\"unit\",plugin=\"p\",role=\"crm\"";
        assert!(text.contains(&format!("smsdesk_plugin_call_duration_seconds_bucket{{{l},le=\"0.0025\"}} 0")));
        assert!(text.contains(&format!("smsdesk_plugin_call_duration_seconds_bucket{{{l},le=\"0.005\"}} 1")));
        assert!(text.contains(&format!("smsdesk_plugin_call_duration_seconds_count{{{l}}} 1")));
        assert!(text.contains("# TYPE smsdesk_jobs_pending gauge\nsmsdesk_jobs_pending 4"));
    }
}
