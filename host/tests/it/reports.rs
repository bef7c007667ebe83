//! Reports and metrics on a seeded data set with known answers: a manual
//! clock, scripted customers, agents working tickets over the API, provider
//! status callbacks with error codes; then every figure of the report (API
//! and CLI) and the operator metrics.

use crate::host::{FakeTwilio, NUMBER, TOKEN, post_signed, status_params, text, twilio};
use crate::tickets::{ADMIN, ANA_AGENT, get, helpdesk_tenant, post, start_with, ticket_when};
use reqwest::Method;
use serde_json::{Value, json};
use smsdesk::clock::Clock;

fn ny(s: &str) -> i64 {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    dt.to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap()).unwrap().timestamp().as_millisecond()
}

const A: &str = "+15550000001";
const B: &str = "+15550000002";
const C: &str = "+15550000003";
const D: &str = "+15550000004";
const E: &str = "+15550000005";
const F: &str = "+15550000006";

fn count(t: &Value, author: &str) -> usize {
    t["messages"].as_array().unwrap().iter().filter(|m| m["author"] == author).count()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn every_report_figure_matches_a_seeded_data_set_and_metrics_count_what_happened() {
    let fake = FakeTwilio::default();
    let twilio_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut tenant = helpdesk_tenant();
    tenant.id = "reports-test".into();
    tenant.provider = twilio(twilio_base);
    let t0 = ny("2026-11-02T10:00:00");
    let clock = Clock::manual(t0 - 2 * 86_400_000);
    let host = start_with(dir.path(), vec![tenant], clock.clone()).await;
    let base = format!("http://{}", host.addr);
    let min = 60_000;

    // Before the period: F gets a bot answer.
    assert_eq!(text(&base, "SMf1", F, "where is my order").await.status(), 200);
    ticket_when(&base, ANA_AGENT, F, |t| count(t, "bot") == 1).await;

    // The period (Monday 2 November): five customers.
    clock.set_ms(t0);
    assert_eq!(text(&base, "SMa1", A, "what are your store hours").await.status(), 200);
    let a = ticket_when(&base, ANA_AGENT, A, |t| t["status"] == "resolved").await;
    clock.set_ms(t0 + min);
    assert_eq!(text(&base, "SMb1", B, "where is my order").await.status(), 200);
    let b = ticket_when(&base, ANA_AGENT, B, |t| count(t, "bot") == 1).await;
    clock.set_ms(t0 + 2 * min);
    assert_eq!(text(&base, "SMc1", C, "my payment failed").await.status(), 200);
    let c = ticket_when(&base, ANA_AGENT, C, |t| t["owner"] == "human" && count(t, "bot") == 1).await;
    clock.set_ms(t0 + 3 * min);
    assert_eq!(text(&base, "SMd1", D, "talk to a person").await.status(), 200);
    let d = ticket_when(&base, ANA_AGENT, D, |t| t["owner"] == "human" && count(t, "bot") == 1).await;
    clock.set_ms(t0 + 4 * min);
    assert_eq!(text(&base, "SMe1", E, "STOP").await.status(), 200);
    ticket_when(&base, ANA_AGENT, E, |t| count(t, "system") == 1).await;

    // Agents: C answered after 10 minutes, resolved, rated 4.
    let path = |t: &Value, action: &str| format!("/api/v1/tickets/{}/{action}", t["id"]);
    clock.set_ms(t0 + 12 * min);
    post(&base, &path(&c, "reply"), ANA_AGENT, json!({"body": "Retrying your payment now."})).await;
    clock.set_ms(t0 + 13 * min);
    post(&base, &path(&c, "status"), ANA_AGENT, json!({"status": "resolved"})).await;
    ticket_when(&base, ANA_AGENT, C, |t| count(t, "system") == 1).await;
    clock.set_ms(t0 + 14 * min);
    assert_eq!(text(&base, "SMc2", C, "4").await.status(), 200);
    ticket_when(&base, ANA_AGENT, C, |t| t["csat_rating"] == 4).await;
    // D answered after 30 minutes, resolved (no rating), reopened, resolved again.
    clock.set_ms(t0 + 33 * min);
    post(&base, &path(&d, "reply"), ANA_AGENT, json!({"body": "Hi, how can I help?"})).await;
    clock.set_ms(t0 + 34 * min);
    post(&base, &path(&d, "status"), ANA_AGENT, json!({"status": "resolved"})).await;
    ticket_when(&base, ANA_AGENT, D, |t| count(t, "system") == 1).await;
    clock.set_ms(t0 + 40 * min);
    assert_eq!(text(&base, "SMd2", D, "one more thing").await.status(), 200);
    ticket_when(&base, ANA_AGENT, D, |t| t["status"] == "open").await;
    clock.set_ms(t0 + 41 * min);
    post(&base, &path(&d, "status"), ANA_AGENT, json!({"status": "resolved"})).await;

    // The provider reports two failures, with error codes.
    let sid_of = |t: &Value| {
        t["messages"].as_array().unwrap().iter().find(|m| m["author"] == "bot").unwrap()["provider_sid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = get(&base, &format!("/api/v1/tickets/{}", a["id"]), ANA_AGENT).await;
    let b = get(&base, &format!("/api/v1/tickets/{}", b["id"]), ANA_AGENT).await;
    for (sid, status, code) in [(sid_of(&a), "failed", "30007"), (sid_of(&b), "undelivered", "30003")] {
        let r = post_signed(&base, "/webhooks/twilio/status", &status_params(&sid, status, Some(code)), TOKEN).await;
        assert_eq!(r.status(), 204);
    }
    clock.set_ms(t0 + 60 * min);

    // The segments of the five conversations, as the ticket API shows them.
    let list = get(&base, "/api/v1/tickets?limit=50", ADMIN).await;
    let mut segments = 0;
    for t in list["tickets"].as_array().unwrap().iter().filter(|t| t["contact"] != F) {
        let detail = get(&base, &format!("/api/v1/tickets/{}", t["id"]), ADMIN).await;
        segments += detail["messages"].as_array().unwrap().iter().map(|m| m["segments"].as_i64().unwrap()).sum::<i64>();
    }

    let r = get(&base, "/api/v1/reports?since=2026-11-02&until=2026-11-03", ADMIN).await;
    assert_eq!(r["since"], "2026-11-02T05:00:00Z");
    assert_eq!(r["messages_in"], 7, "{r:#}");
    assert_eq!(r["messages_out"], 9, "bot answers 4, agent replies 2, surveys 2, STOP confirmation 1: {r:#}");
    assert_eq!(r["conversations"], 5);
    assert_eq!(r["first_response_bot"], json!({"count": 4, "median": 0.0, "p90": 0.0}));
    assert_eq!(r["first_response_human"], json!({"count": 2, "median": 600.0, "p90": 1800.0}));
    assert!(close(&r["first_contact_resolution_rate"], 2.0 / 3.0), "A and C of A, C, D: {r:#}");
    assert!(close(&r["escalation_rate"], 0.4));
    assert!(close(&r["deflection_rate"], 0.2));
    assert!(close(&r["csat_average"], 4.0));
    assert_eq!((r["csat_responses"].as_i64(), r["csat_surveys"].as_i64()), (Some(1), Some(2)));
    assert!(close(&r["csat_response_rate"], 0.5));
    assert!(close(&r["opt_out_rate"], 0.2));
    assert!(close(&r["delivery_failure_rate"], 2.0 / 9.0));
    assert_eq!(r["delivery_failures_by_code"], json!({"30003": 1, "30007": 1}));
    assert!(close(&r["segments_per_conversation"], segments as f64 / 5.0), "{segments}: {r:#}");
    // The day before holds only F.
    let before = get(&base, "/api/v1/reports?since=2026-10-31&until=2026-11-01", ADMIN).await;
    assert_eq!((before["messages_in"].as_i64(), before["conversations"].as_i64()), (Some(1), Some(1)));
    // Agents may not read reports; bad periods are refused.
    let (status, _) =
        crate::tickets::call(&base, Method::GET, "/api/v1/reports?since=2026-11-02", ANA_AGENT, None).await;
    assert_eq!(status, 403);
    let (status, out) = crate::tickets::call(&base, Method::GET, "/api/v1/reports?since=yesterday", ADMIN, None).await;
    assert_eq!(status, 400);
    assert!(out["error"].as_str().unwrap().contains("YYYY-MM-DD"));
    let (status, _) =
        crate::tickets::call(&base, Method::GET, "/api/v1/reports?since=2026-11-03&until=2026-11-02", ADMIN, None)
            .await;
    assert_eq!(status, 400);

    // The CLI reads the same database and prints the same figures.
    let config = dir.path().join("smsdesk.toml");
    std::fs::write(
        &config,
        format!(
            "{}data_dir = {:?}\n[[tenants]]\nid = \"reports-test\"\nname = \"R\"\nnumbers = [\"{NUMBER}\"]\nprovider = {{ kind = \"log\", auth_token = \"x\" }}\n",
            crate::support::database_line(dir.path()),
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let run = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["report", "--config", config.to_str().unwrap(), "--tenant", "reports-test"])
            .args(["--since", "2026-11-02", "--until", "2026-11-03", "--format", format])
            .output()
            .unwrap()
    };
    let out = run("json");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, r);
    let out = run("table");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("escalation rate") && table.contains("40.0 %"), "{table}");
    assert!(table.contains("30003: 1, 30007: 1"), "{table}");
    assert!(!run("xml").status.success());

    // Metrics: plugin calls by plugin and outcome, sends by result, stages, webhooks.
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let value = |series: &str| -> i64 {
        metrics
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    let t = "tenant=\"reports-test\"";
    // Responder: F, A, B, C, D (E was a STOP, C's "4" a rating, D's second message human-owned).
    assert_eq!(
        value(&format!("smsdesk_plugin_calls_total{{{t},plugin=\"faq-responder\",role=\"responder\",outcome=\"ok\"}}")),
        5
    );
    // The CRM: once per customer, and again for D after the 10-minute profile cache expired.
    assert_eq!(value(&format!("smsdesk_plugin_calls_total{{{t},plugin=\"demo-crm\",role=\"crm\",outcome=\"ok\"}}")), 6);
    assert_eq!(
        value(&format!(
            "smsdesk_plugin_call_duration_seconds_count{{{t},plugin=\"keyword-intents\",role=\"classifier\"}}"
        )),
        5
    );
    assert_eq!(value(&format!("smsdesk_outbox_sends_total{{{t},result=\"sent\"}}")), 10);
    for (outcome, n) in [("reply", 2), ("resolved", 1), ("handoff", 2), ("consent", 1), ("csat", 1), ("human-owned", 1)]
    {
        assert_eq!(value(&format!("smsdesk_pipeline_messages_total{{{t},outcome=\"{outcome}\"}}")), n, "{outcome}");
    }
    assert!(value("smsdesk_webhook_requests_total{endpoint=\"sms\",status=\"200\"}") >= 8);
    assert!(value("smsdesk_webhook_requests_total{endpoint=\"status\",status=\"204\"}") >= 2);
    assert!(value("smsdesk_pipeline_stage_duration_seconds_count{stage=\"consent\"}") >= 8);
    assert!(metrics.contains("# TYPE smsdesk_provider_request_duration_seconds histogram"));
    assert_eq!(value("smsdesk_outbox_pending"), 0);
    host.shutdown().await;
}
