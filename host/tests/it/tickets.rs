//! Tickets over real HTTP: handoff with context, the agent API and its
//! lifecycle, reopen window, CSAT, SLA due times in business hours, the
//! after-hours notice, tenant isolation and validation.

use crate::host::{ANA, API_TOKEN, NUMBER, first_party_plugins, log_provider, tenant, text};
use reqwest::Method;
use serde_json::{Value, json};
use smsdesk::clock::Clock;
use smsdesk::config::{Config, TenantConfig, UserConfig, UserRole};
use smsdesk::server;
use std::time::{Duration, Instant};

pub const ANA_AGENT: &str = "token-of-agent-rosa-0001";
pub const BEN_AGENT: &str = "token-of-agent-ben-00002";
pub const ADMIN: &str = "token-of-admin-kim-00003";
pub const OTHER_AGENT: &str = "token-of-globex-agent-04";

fn user(id: &str, role: UserRole, teams: &[&str], token: &str) -> UserConfig {
    UserConfig {
        id: id.into(),
        name: id.to_uppercase(),
        role,
        teams: teams.iter().map(|t| t.to_string()).collect(),
        token: Some(token.into()),
        token_sha256: None,
    }
}

/// The `acme` tenant with the first-party plugins and three users.
pub fn helpdesk_tenant() -> TenantConfig {
    let mut t = tenant(log_provider(), first_party_plugins());
    t.users = vec![
        user("rosa", UserRole::Agent, &["billing", "support"], ANA_AGENT),
        user("ben", UserRole::Agent, &["billing"], BEN_AGENT),
        user("kim", UserRole::Admin, &[], ADMIN),
    ];
    t.tickets.canned.insert("order".into(), "Hi {first_name}, order #{order_id} is on its way. ({reference})".into());
    t.tickets.canned.insert("vip".into(), "Hello {loyalty_tier} member".into());
    t
}

/// A second tenant, `globex`, with its own number, token and agent.
fn other_tenant() -> TenantConfig {
    let mut t = tenant(log_provider(), first_party_plugins());
    t.id = "globex".into();
    t.name = "Globex".into();
    t.numbers = vec!["+15557650999".into()];
    t.api_token = Some("globex-api-token".into());
    t.users = vec![user("gina", UserRole::Agent, &["support"], OTHER_AGENT)];
    t
}

pub async fn start_with(dir: &std::path::Path, tenants: Vec<TenantConfig>, clock: Clock) -> server::Server {
    server::start(config_with(dir, tenants, clock)).await.expect("host starts")
}

/// A test host's configuration: its data in `dir`, any free port, `clock`.
pub fn config_with(dir: &std::path::Path, tenants: Vec<TenantConfig>, clock: Clock) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: crate::support::database_url(dir),
        bind: "127.0.0.1:0".parse().unwrap(),
        tenants,
        clock,
        ..Config::default()
    }
}

/// One API call: (status, JSON body).
pub async fn call(base: &str, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn get(base: &str, path: &str, token: &str) -> Value {
    let (status, body) = call(base, Method::GET, path, token, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

pub async fn post(base: &str, path: &str, token: &str, body: Value) -> Value {
    let (status, out) = call(base, Method::POST, path, token, Some(body)).await;
    assert!(status == 200 || status == 202, "POST {path}: {status} {out}");
    out
}

/// The ticket of `contact` (newest), once `ready`.
pub async fn ticket_when(base: &str, token: &str, contact: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let list = get(base, "/api/v1/tickets?limit=500", token).await;
        if let Some(id) =
            list["tickets"].as_array().unwrap().iter().find(|t| t["contact"] == contact).map(|t| t["id"].clone())
        {
            last = get(base, &format!("/api/v1/tickets/{id}"), token).await;
            if ready(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    panic!("timed out waiting for the ticket; last state: {last:#}");
}

fn kinds(ticket: &Value) -> Vec<String> {
    ticket["timeline"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn messages(ticket: &Value) -> Vec<(String, String, String)> {
    ticket["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_string(),
                m["body"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_handoff_lands_in_the_queue_with_its_context_and_an_agent_works_it_to_a_rating() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_with(dir.path(), vec![helpdesk_tenant()], Clock::system()).await;
    let base = format!("http://{}", host.addr);

    // The customer's payment failed: the responder hands off to billing.
    assert_eq!(text(&base, "SMt1", ANA, "my payment failed twice").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let id = t["id"].as_i64().unwrap();
    assert_eq!(t["reference"], "ACME-1");
    assert_eq!(t["status"], "open");
    assert_eq!(t["priority"], "high");
    assert_eq!(t["team"], "billing");
    assert_eq!(t["handoff_reason"], "Billing question or payment dispute");
    assert!(t["intents"].as_array().unwrap().iter().any(|i| i["label"] == "billing"), "{t}");
    assert_eq!(t["profile"]["name"], "Ana", "the CRM profile comes with the ticket");
    let roles: Vec<&str> = t["traces"].as_array().unwrap().iter().map(|x| x["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["crm", "classifier", "responder"]);
    assert_eq!(kinds(&t)[..2], ["opened", "handoff"]);
    assert!(t["first_response_due"].as_i64().unwrap() > t["handed_off_at"].as_i64().unwrap());

    // It is in the billing queue, found by reference, text and tag.
    let queue = get(&base, "/api/v1/tickets?status=active&owner=human&team=billing", ANA_AGENT).await;
    assert_eq!(queue["tickets"].as_array().unwrap().len(), 1);
    // Search ignores case, on both engines (PostgreSQL's LIKE does not).
    for q in [
        "q=ACME-1",
        "q=acme-1",
        "q=payment",
        "q=PAYMENT",
        "q=Payment%20Failed",
        "tag=billing",
        "tag=Billing",
        "assignee=none",
    ] {
        let found = get(&base, &format!("/api/v1/tickets?{q}"), ANA_AGENT).await;
        assert_eq!(found["tickets"][0]["id"], id, "{q}");
    }
    assert!(
        get(&base, "/api/v1/tickets?q=nothing-like-this", ANA_AGENT).await["tickets"].as_array().unwrap().is_empty()
    );
    // LIKE's wildcards are searched for as themselves, on both engines: `%` and `_` match nothing here.
    for q in ["%25", "_", "%25payment", "pay_ent"] {
        let found = get(&base, &format!("/api/v1/tickets?q={q}"), ANA_AGENT).await;
        assert!(found["tickets"].as_array().unwrap().is_empty(), "q={q}: {found}");
    }
    // The reference works in paths too.
    assert_eq!(get(&base, "/api/v1/tickets/acme-1", ANA_AGENT).await["id"], id);

    // Round-robin within the team: rosa, then ben, then rosa again.
    let path = |action: &str| format!("/api/v1/tickets/{id}/{action}");
    let rr = json!({"team": "billing", "round_robin": true});
    assert_eq!(post(&base, &path("assign"), ADMIN, rr.clone()).await["assigned_to"], "rosa");
    assert_eq!(post(&base, &path("assign"), ADMIN, rr.clone()).await["assigned_to"], "ben");
    assert_eq!(post(&base, &path("assign"), ADMIN, rr).await["assigned_to"], "rosa");
    let me = post(&base, &path("assign"), ANA_AGENT, json!({"assignee": "me"})).await;
    assert_eq!(me["ticket"]["assignee"], "rosa");
    assert_eq!(get(&base, "/api/v1/tickets?assignee=me", ANA_AGENT).await["tickets"][0]["id"], id);

    // A note stays internal; tags and priority change.
    post(&base, &path("notes"), ANA_AGENT, json!({"body": "Card ending 42 declined twice; check Stripe"})).await;
    post(&base, &path("tags"), ANA_AGENT, json!({"add": ["vip", "stripe"], "remove": ["billing"]})).await;
    let p = post(&base, &path("priority"), ANA_AGENT, json!({"priority": "urgent"})).await;
    assert_eq!(p["ticket"]["priority"], "urgent");
    assert_eq!(p["ticket"]["tags"], json!(["vip", "stripe"]));

    // The canned response is filled in from the CRM profile.
    let canned = get(&base, &path("canned"), ANA_AGENT).await;
    let order = canned["canned"].as_array().unwrap().iter().find(|c| c["name"] == "order").unwrap();
    assert_eq!(order["text"], "Hi Ana, order #1042 is on its way. (ACME-1)");
    let vip = canned["canned"].as_array().unwrap().iter().find(|c| c["name"] == "vip").unwrap();
    assert!(vip["error"].as_str().unwrap().contains("loyalty_tier"), "{vip}");

    // Segment preview before sending, then the reply goes out through the outbox.
    let preview = post(&base, "/api/v1/segments", ANA_AGENT, json!({"body": "Hi Ana 😊 looking into it"})).await;
    assert_eq!((preview["encoding"].as_str(), preview["segments"].as_i64()), (Some("UCS-2"), Some(1)));
    // The composer's counter never splits a cluster: 67 rainbow flags are 402 units, 7 segments, 67 characters.
    let flags = post(&base, "/api/v1/segments", ANA_AGENT, json!({"body": "🏳\u{fe0f}\u{200d}🌈".repeat(67)})).await;
    assert_eq!((flags["segments"].as_i64(), flags["units"].as_i64()), (Some(7), Some(402)), "{flags}");
    assert_eq!(flags["characters"], 67);
    let reply = call(
        &base,
        Method::POST,
        &path("reply"),
        ANA_AGENT,
        Some(json!({"body": "Hi Ana, I'm on it.", "idempotency_key": "k1"})),
    )
    .await;
    assert_eq!(reply.0, 202, "{}", reply.1);
    assert_eq!(reply.1["preview"]["segments"], 1);
    // The same key again queues nothing.
    let again = call(
        &base,
        Method::POST,
        &path("reply"),
        ANA_AGENT,
        Some(json!({"body": "Hi Ana, I'm on it.", "idempotency_key": "k1"})),
    )
    .await;
    assert_eq!((again.0, again.1["queued"].as_bool()), (200, Some(false)));
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| {
        messages(t).iter().any(|(a, b, s)| a == "agent" && b == "Hi Ana, I'm on it." && s == "delivered")
    })
    .await;
    assert_eq!(messages(&t).iter().filter(|(a, _, _)| a == "agent").count(), 1);
    assert!(t["first_human_response_at"].is_i64());
    assert!(!messages(&t).iter().any(|(_, b, _)| b.contains("Stripe")), "notes never reach the customer");
    assert_eq!(t["notes"][0]["author"], "rosa");

    // While a human owns it, bots are silent.
    assert_eq!(text(&base, "SMt2", ANA, "where is my order?").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| messages(t).len() >= 4).await;
    crate::host::settled(&host.store).await;
    let t2 = get(&base, &format!("/api/v1/tickets/{id}"), ANA_AGENT).await;
    assert_eq!(messages(&t2).len(), messages(&t).len(), "no bot reply while a human owns the conversation");

    // Pending (waiting on the customer), then the customer's reply opens it again.
    assert_eq!(
        post(&base, &path("status"), ANA_AGENT, json!({"status": "pending"})).await["ticket"]["status"],
        "pending"
    );
    assert_eq!(text(&base, "SMt3", ANA, "ok I tried again").await.status(), 200);
    ticket_when(&base, ANA_AGENT, ANA, |t| t["status"] == "open").await;
    // Snoozed, then the customer's reply wakes it.
    let snoozed = post(&base, &path("status"), ANA_AGENT, json!({"status": "snoozed", "snooze_minutes": 60})).await;
    assert_eq!(snoozed["ticket"]["status"], "snoozed");
    assert!(snoozed["ticket"]["snoozed_until"].is_i64());
    assert_eq!(text(&base, "SMt4", ANA, "hello?").await.status(), 200);
    ticket_when(&base, ANA_AGENT, ANA, |t| t["status"] == "open" && t["snoozed_until"].is_null()).await;

    // Resolve: the survey goes out once; "5" is the ticket's rating, not a new issue.
    let resolved = post(&base, &path("status"), ANA_AGENT, json!({"status": "resolved"})).await;
    assert_eq!(
        (resolved["ticket"]["status"].as_str(), resolved["survey_queued"].as_bool()),
        (Some("resolved"), Some(true))
    );
    ticket_when(&base, ANA_AGENT, ANA, |t| {
        messages(t).iter().any(|(a, b, s)| a == "system" && b.contains("Reply 1-5") && s == "delivered")
    })
    .await;
    assert_eq!(text(&base, "SMt5", ANA, "5!").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["csat_rating"] == 5).await;
    assert_eq!(t["status"], "resolved", "a rating does not reopen the ticket");
    assert_eq!(t["reopened"], 0);
    assert_eq!(get(&base, "/api/v1/tickets?limit=50", ANA_AGENT).await["tickets"].as_array().unwrap().len(), 1);

    // A new message within the window reopens it; resolving again sends no second survey.
    assert_eq!(text(&base, "SMt6", ANA, "actually it failed again").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["status"] == "open").await;
    assert_eq!((t["reopened"].as_i64(), t["id"].as_i64()), (Some(1), Some(id)));
    let again = post(&base, &path("status"), ANA_AGENT, json!({"status": "resolved"})).await;
    assert_eq!(again["survey_queued"], false, "at most one survey per ticket");
    post(&base, &path("status"), ANA_AGENT, json!({"status": "open"})).await;

    // Hand back to automation: the bot answers again.
    post(&base, &path("handback"), ANA_AGENT, json!({})).await;
    assert_eq!(text(&base, "SMt7", ANA, "where is my order?").await.status(), 200);
    let t =
        ticket_when(&base, ANA_AGENT, ANA, |t| messages(t).iter().any(|(a, b, _)| a == "bot" && b.contains("1042")))
            .await;

    // The timeline says who did what.
    let timeline = t["timeline"].as_array().unwrap();
    let by = |kind: &str| {
        timeline
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| e["actor"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("opened"), ["customer"]);
    assert_eq!(by("handoff"), ["bot"]);
    assert_eq!(by("assigned"), ["kim", "kim", "kim", "rosa"]);
    assert_eq!(by("note"), ["rosa"]);
    assert_eq!(by("reply"), ["rosa"]);
    assert_eq!(by("csat"), ["customer"]);
    assert_eq!(by("csat_sent"), ["system"]);
    assert_eq!(by("reopened"), ["customer"]);
    assert_eq!(by("handback"), ["rosa"]);
    assert!(timeline.iter().any(|e| e["kind"] == "status" && e["detail"]["why"] == "customer replied"), "{timeline:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn after_the_reopen_window_a_new_ticket_opens_and_the_old_one_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(jiff::Timestamp::now().as_millisecond());
    let mut t = helpdesk_tenant();
    t.tickets.reopen_window_hours = 24;
    let host = start_with(dir.path(), vec![t], clock.clone()).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMr1", ANA, "talk to a person please").await.status(), 200);
    let first = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let id = first["id"].as_i64().unwrap();
    post(&base, &format!("/api/v1/tickets/{id}/status"), ANA_AGENT, json!({"status": "resolved"})).await;
    // 25 hours later: not a reopen, and not a rating either (the survey's time passed).
    clock.set_ms(clock.now_ms() + 25 * 3_600_000);
    assert_eq!(text(&base, "SMr2", ANA, "5").await.status(), 200);
    let second = ticket_when(&base, ANA_AGENT, ANA, |t| t["id"] != id).await;
    assert_eq!(second["reference"], "ACME-2");
    let old = get(&base, &format!("/api/v1/tickets/{id}"), ANA_AGENT).await;
    assert_eq!(old["status"], "closed");
    assert!(old["csat_rating"].is_null());
    host.shutdown().await;
}

/// Friday 2026-11-27 at `hh:mm` in New York.
fn ny(s: &str) -> i64 {
    let dt: jiff::civil::DateTime = s.parse().unwrap();
    dt.to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap()).unwrap().timestamp().as_millisecond()
}

#[tokio::test]
async fn sla_due_times_count_business_hours_and_overdue_tickets_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(ny("2026-11-27T16:30:00"));
    let mut t = helpdesk_tenant();
    t.tickets.business_hours = vec!["mon-fri 09:00-17:00".into()];
    let host = start_with(dir.path(), vec![t], clock.clone()).await;
    let base = format!("http://{}", host.addr);

    // Friday 16:30, high priority (billing): first reply due in 30 business
    // minutes = Friday 17:00; resolution in 240 = Monday 12:30.
    assert_eq!(text(&base, "SMs1", ANA, "my payment failed").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    assert_eq!(t["first_response_due"].as_i64(), Some(ny("2026-11-27T17:00:00")));
    assert_eq!(t["resolution_due"].as_i64(), Some(ny("2026-11-30T12:30:00")));
    assert!(t["overdue"].as_array().unwrap().is_empty());
    // Inside business hours: no after-hours notice, only the bot's handoff line.
    let system: Vec<_> = messages(&t).into_iter().filter(|(a, _, _)| a == "system").collect();
    assert!(system.is_empty(), "{system:?}");

    // Friday 17:30 another customer asks for a person: normal priority, first
    // reply due Monday 10:00 (60 business minutes), and the notice says when.
    clock.set_ms(ny("2026-11-27T17:30:00"));
    let bo = "+15550001111";
    assert_eq!(text(&base, "SMs2", bo, "I want to talk to a human").await.status(), 200);
    let b = ticket_when(&base, ANA_AGENT, bo, |t| messages(t).iter().any(|(a, _, _)| a == "system")).await;
    assert_eq!(b["first_response_due"].as_i64(), Some(ny("2026-11-30T10:00:00")));
    let notice = messages(&b).into_iter().find(|(a, _, _)| a == "system").unwrap().1;
    assert!(notice.contains("Monday at 09:00"), "{notice}");
    // Another message the same evening: no second notice.
    assert_eq!(text(&base, "SMs3", bo, "hello??").await.status(), 200);
    let b = ticket_when(&base, ANA_AGENT, bo, |t| messages(t).iter().filter(|(a, _, _)| a == "customer").count() == 2)
        .await;
    crate::host::settled(&host.store).await;
    let b = get(&base, &format!("/api/v1/tickets/{}", b["id"]), ANA_AGENT).await;
    assert_eq!(messages(&b).iter().filter(|(a, _, _)| a == "system").count(), 1);

    // A bot handling a conversation after hours sends no notice.
    let cy = "+15550002222";
    assert_eq!(text(&base, "SMs4", cy, "what are your store hours").await.status(), 200);
    let c = ticket_when(&base, ANA_AGENT, cy, |t| messages(t).iter().any(|(a, _, _)| a == "bot")).await;
    assert!(!messages(&c).iter().any(|(a, _, _)| a == "system"), "{:?}", messages(&c));

    // Saturday: the first ticket's first reply is overdue; the second is not yet.
    clock.set_ms(ny("2026-11-28T12:00:00"));
    let overdue = get(&base, "/api/v1/tickets?overdue=true", ANA_AGENT).await;
    let list = overdue["tickets"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], t["id"]);
    assert_eq!(list[0]["overdue"], json!(["first_response"]));
    // Monday 13:00: both due times of the first have passed; answering clears the first-reply flag.
    clock.set_ms(ny("2026-11-30T13:00:00"));
    let first = get(&base, &format!("/api/v1/tickets/{}", t["id"]), ANA_AGENT).await;
    assert_eq!(first["overdue"], json!(["first_response", "resolution"]));
    post(&base, &format!("/api/v1/tickets/{}/reply", t["id"]), ANA_AGENT, json!({"body": "Sorry for the wait!"})).await;
    let first = get(&base, &format!("/api/v1/tickets/{}", t["id"]), ANA_AGENT).await;
    assert_eq!(first["overdue"], json!(["resolution"]));
    host.shutdown().await;
}

#[tokio::test]
async fn holidays_stop_the_sla_clock_and_the_notice_names_the_day_people_are_back() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(ny("2026-12-24T18:00:00"));
    let mut t = helpdesk_tenant();
    t.tickets.business_hours = vec!["mon-fri 09:00-17:00".into()];
    t.tickets.holidays =
        ["2026-12-25 Christmas Day", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01"]
            .map(String::from)
            .to_vec();
    let host = start_with(dir.path(), vec![t], clock.clone()).await;
    let base = format!("http://{}", host.addr);
    // Christmas Eve after closing: the team is back Monday 4 January.
    assert_eq!(text(&base, "SMh1", ANA, "I want to talk to a human").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| messages(t).iter().any(|(a, _, _)| a == "system")).await;
    let notice = messages(&t).into_iter().find(|(a, _, _)| a == "system").unwrap().1;
    assert!(notice.contains("from Monday 4 January at 09:00"), "{notice}");
    assert_eq!(t["first_response_due"].as_i64(), Some(ny("2027-01-04T10:00:00")));
    host.shutdown().await;
}

#[tokio::test]
async fn one_tenants_users_can_never_read_or_change_anothers_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_with(dir.path(), vec![helpdesk_tenant(), other_tenant()], Clock::system()).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMi1", ANA, "talk to a person").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let id = t["id"].as_i64().unwrap();

    for token in [OTHER_AGENT, "globex-api-token"] {
        // Lists and searches show nothing of acme's.
        let list = get(&base, "/api/v1/tickets?status=", token).await;
        assert!(list["tickets"].as_array().unwrap().is_empty(), "{list}");
        assert!(get(&base, "/api/v1/tickets?q=person", token).await["tickets"].as_array().unwrap().is_empty());
        assert!(get(&base, "/api/v1/conversations", token).await["conversations"].as_array().unwrap().is_empty());
        // Reads by id or reference: not found.
        for p in [
            format!("/api/v1/tickets/{id}"),
            "/api/v1/tickets/ACME-1".into(),
            format!("/api/v1/tickets/{id}/canned"),
            format!("/api/v1/conversations/{id}"),
        ] {
            assert_eq!(call(&base, Method::GET, &p, token, None).await.0, 404, "{p}");
        }
        // Writes: not found, and nothing changes.
        let writes = [
            ("reply", json!({"body": "hi from globex"})),
            ("notes", json!({"body": "globex note"})),
            ("assign", json!({"assignee": null})),
            ("tags", json!({"add": ["globex"]})),
            ("status", json!({"status": "closed"})),
            ("priority", json!({"priority": "low"})),
            ("handback", json!({})),
            ("takeover", json!({})),
        ];
        for (action, body) in writes {
            let (status, out) =
                call(&base, Method::POST, &format!("/api/v1/tickets/{id}/{action}"), token, Some(body)).await;
            assert_eq!(status, 404, "{action}: {out}");
        }
    }
    let after = get(&base, &format!("/api/v1/tickets/{id}"), ANA_AGENT).await;
    assert_eq!(after["status"], "open");
    assert_eq!(after["owner"], "human");
    assert!(after["notes"].as_array().unwrap().is_empty());
    assert!(!after["tags"].as_array().unwrap().iter().any(|t| t == "globex"));
    assert!(!messages(&after).iter().any(|(_, b, _)| b.contains("globex")));
    let actors: Vec<&str> =
        after["timeline"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(actors.iter().all(|a| ["customer", "bot", "system"].contains(a)), "{actors:?}");
    // An agent cannot hand a ticket to another tenant's user.
    let (status, out) = call(
        &base,
        Method::POST,
        &format!("/api/v1/tickets/{id}/assign"),
        ANA_AGENT,
        Some(json!({"assignee": "gina"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(out["error"].as_str().unwrap().contains("not a user of this tenant"));

    // Reports, the consent ledger, notifications and live events stay inside the tenant too.
    let (status, _) = call(
        &base,
        Method::POST,
        "/api/v1/consent",
        API_TOKEN,
        Some(json!({"contact": ANA, "event": "opt-in", "purpose": "informational", "disclosure_version": "v1"})),
    )
    .await;
    assert_eq!(status, 201);
    let period = "/api/v1/reports?since=2000-01-01&until=2100-01-01";
    let ours = get(&base, period, ADMIN).await;
    assert!(ours["messages_in"].as_i64().unwrap() >= 1, "{ours}");
    let theirs = get(&base, period, "globex-api-token").await;
    assert_eq!((theirs["tenant"].as_str(), theirs["messages_in"].as_i64()), (Some("globex"), Some(0)), "{theirs}");
    assert_eq!(theirs["conversations"], 0);
    let ledger = get(&base, &format!("/api/v1/consent?contact=%2B{}", &ANA[1..]), API_TOKEN).await;
    assert_eq!(ledger["events"].as_array().unwrap().len(), 1, "{ledger}");
    let ledger = get(&base, &format!("/api/v1/consent?contact=%2B{}", &ANA[1..]), "globex-api-token").await;
    assert!(ledger["events"].as_array().unwrap().is_empty(), "another tenant's consent: {ledger}");
    // acme's express consent does not let globex notify the customer.
    let (status, out) = call(
        &base,
        Method::POST,
        "/api/v1/notifications",
        "globex-api-token",
        Some(json!({"to": ANA, "category": "informational", "template": "none", "variables": {}})),
    )
    .await;
    assert_eq!(status, 400, "globex has no such template: {out}");
    // Live events: acme's stream hears about acme's ticket, globex's hears nothing.
    let listen = |token: &'static str| {
        let base = base.clone();
        async move { reqwest::Client::new().get(format!("{base}/api/v1/events")).bearer_auth(token).send().await.unwrap() }
    };
    let mut acme_events = listen(ANA_AGENT).await;
    let mut globex_events = listen(OTHER_AGENT).await;
    let read_until_ticket = async |r: &mut reqwest::Response| {
        let mut seen = String::new();
        while !seen.contains("event: ticket") {
            seen.push_str(&String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()));
        }
        seen
    };
    // Both streams are open once each has said hello.
    for r in [&mut acme_events, &mut globex_events] {
        let hello = String::from_utf8_lossy(&r.chunk().await.unwrap().unwrap()).to_string();
        assert!(hello.contains("event: hello"), "{hello}");
    }
    post(&base, &format!("/api/v1/tickets/{id}/notes"), ANA_AGENT, json!({"body": "inside acme"})).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), read_until_ticket(&mut acme_events)).await.unwrap();
    assert!(heard.contains(&format!("\"ticket\":{id}")), "{heard}");
    // The event went out to every listener at once; globex's stream has nothing.
    let nothing = tokio::time::timeout(Duration::from_millis(300), globex_events.chunk()).await;
    assert!(nothing.is_err(), "globex heard about acme's ticket: {nothing:?}");
    host.shutdown().await;
}

#[tokio::test]
async fn agent_api_mistakes_get_clear_4xx_errors_and_every_route_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_with(dir.path(), vec![helpdesk_tenant()], Clock::system()).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMv1", ANA, "talk to a person").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let id = t["id"].as_i64().unwrap();
    let path = |a: &str| format!("/api/v1/tickets/{id}/{a}");
    let raw = |p: String, body: &'static str| {
        let base = base.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}{p}"))
                .bearer_auth(ANA_AGENT)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let cases: Vec<(String, &'static str, &str)> = vec![
        (path("reply"), "{not json", "invalid JSON body"),
        (path("reply"), r#"{"body": "hi", "sneaky": 1}"#, "unknown field `sneaky`"),
        (path("reply"), r#"{"body": "   "}"#, "`body` is empty"),
        (path("status"), r#"{"status": "done"}"#, "unknown status `done`"),
        (path("status"), r#"{"status": "snoozed"}"#, "needs `snooze_until` or `snooze_minutes`"),
        (path("status"), r#"{"status": "snoozed", "snooze_until": "tomorrow"}"#, "not an RFC 3339 time"),
        (path("status"), r#"{"status": "snoozed", "snooze_minutes": -5}"#, "between 1 and 129600"),
        // Bounded before any arithmetic (this once overflowed `now + minutes * 60000`).
        (path("status"), r#"{"status": "snoozed", "snooze_minutes": 153722867280912}"#, "between 1 and 129600"),
        (path("status"), r#"{"status": "open", "snooze_minutes": 5}"#, "go with status snoozed"),
        (path("priority"), r#"{"priority": "asap"}"#, "low, normal, high or urgent"),
        (path("assign"), r#"{"assignee": "nobody-here"}"#, "not a user of this tenant"),
        (path("assign"), r#"{"round_robin": true}"#, "needs a `team`"),
        (path("assign"), r#"{"team": null}"#, "`team` cannot be null"),
        (path("assign"), r#"{"team": "ghosts", "round_robin": true}"#, "has no members"),
        (path("tags"), r#"{}"#, "give tags"),
        (path("tags"), r#"{"add": ["<script>"]}"#, "`tag` must be"),
        (path("notes"), r#"{"body": ""}"#, "`body` must be"),
    ];
    for (p, body, want) in cases {
        let (status, out) = raw(p.clone(), body).await;
        assert_eq!(status, 400, "{p} {body}: {out}");
        assert!(out["error"].as_str().unwrap().contains(want), "{p} {body}: {out}");
    }
    let long = "x".repeat(1601);
    let (status, out) = call(&base, Method::POST, &path("reply"), ANA_AGENT, Some(json!({"body": long}))).await;
    assert_eq!((status, out["error"].as_str().unwrap().contains("1600")), (400, true));
    assert!(out["error"].as_str().unwrap().contains("11 GSM-7 segments"), "{out}");
    // A report period past the end of the calendar is a clear 400, not the date library's words.
    let (status, out) =
        call(&base, Method::GET, "/api/v1/reports?since=2026-01-01&until=9999-12-31", ADMIN, None).await;
    assert_eq!(status, 400, "{out}");
    assert!(out["error"].as_str().unwrap().contains("outside the range of dates"), "{out}");
    assert_eq!(call(&base, Method::GET, "/api/v1/tickets?status=done", ANA_AGENT, None).await.0, 400);
    assert_eq!(call(&base, Method::GET, "/api/v1/tickets?limit=0", ANA_AGENT, None).await.0, 400);
    assert_eq!(call(&base, Method::GET, "/api/v1/tickets/ACME-999", ANA_AGENT, None).await.0, 404);
    assert_eq!(call(&base, Method::GET, "/api/v1/tickets/zzz", ANA_AGENT, None).await.0, 404);
    assert_eq!(call(&base, Method::GET, "/api/v1/tickets", "wrong-token", None).await.0, 401);
    // Admin-only endpoints refuse agents, and take admins and the API token.
    assert_eq!(call(&base, Method::GET, "/api/v1/plugins", ANA_AGENT, None).await.0, 403);
    assert_eq!(call(&base, Method::GET, "/api/v1/plugins", ADMIN, None).await.0, 200);
    assert_eq!(call(&base, Method::GET, "/api/v1/plugins", API_TOKEN, None).await.0, 200);
    assert_eq!(call(&base, Method::GET, "/api/v1/consent?format=json", ANA_AGENT, None).await.0, 403);
    let me = get(&base, "/api/v1/me", ANA_AGENT).await;
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str(), me["tenant"].as_str()),
        (Some("rosa"), Some("agent"), Some("acme"))
    );

    // The OpenAPI description covers every /api/v1 route the router serves.
    let spec: Value = reqwest::get(format!("{base}/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let router = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http.rs")).unwrap();
    let mut routes = 0;
    for line in router.lines() {
        if let Some(rest) = line.trim().strip_prefix(".route(\"/api/v1/") {
            let route = format!("/api/v1/{}", rest.split('"').next().unwrap());
            assert!(spec["paths"].get(&route).is_some(), "{route} is not in openapi.json");
            routes += 1;
        }
    }
    assert!(routes >= 15, "found {routes} routes");
    let _ = NUMBER;
    host.shutdown().await;
}

#[tokio::test]
async fn the_survey_goes_through_the_consent_gate_and_automation_resolutions_can_ask_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = helpdesk_tenant();
    t.tickets.csat.on = smsdesk::tickets::CsatOn::All;
    let host = start_with(dir.path(), vec![t], Clock::system()).await;
    let base = format!("http://{}", host.addr);

    // A customer who opted out gets no survey when an agent resolves.
    assert_eq!(text(&base, "SMq1", ANA, "talk to a person").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    assert_eq!(text(&base, "SMq2", ANA, "STOP").await.status(), 200);
    ticket_when(&base, ANA_AGENT, ANA, |t| {
        t["messages"].as_array().unwrap().iter().any(|m| m["author"] == "system" && m["status"] == "delivered")
    })
    .await;
    let done =
        post(&base, &format!("/api/v1/tickets/{}/status", t["id"]), ANA_AGENT, json!({"status": "resolved"})).await;
    assert_eq!(done["survey_queued"], true, "queued, then the gate decides");
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| {
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"].as_str().unwrap().contains("Reply 1-5") && m["status"] == "blocked")
    })
    .await;
    assert!(
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| !(m["body"].as_str().unwrap().contains("Reply 1-5") && m["provider_sid"].is_string()))
    );

    // With `on = "all"`, a ticket automation resolves gets the survey too.
    let bo = "+15550003333";
    assert_eq!(text(&base, "SMq3", bo, "what are your store hours").await.status(), 200);
    let b = ticket_when(&base, ANA_AGENT, bo, |t| {
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["author"] == "system" && m["body"].as_str().unwrap().contains("Reply 1-5"))
    })
    .await;
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["resolved_by"], "bot");
    assert_eq!(text(&base, "SMq4", bo, "3").await.status(), 200);
    let b = ticket_when(&base, ANA_AGENT, bo, |t| t["csat_rating"] == 3).await;
    assert_eq!(b["status"], "resolved");
    host.shutdown().await;
}
