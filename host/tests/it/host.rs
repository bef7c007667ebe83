//! The SMS host end to end over real HTTP on 127.0.0.1, with a fresh SQLite
//! file per test: webhooks in, plugins, outbox, providers, status callbacks.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use smsdesk::config::{Config, PluginBindingConfig, ProviderConfig, TenantConfig};
use smsdesk::domain::Role;
use smsdesk::messaging::signature;
use smsdesk::server::{self, Server};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const NUMBER: &str = "+15557650100";
pub const TOKEN: &str = "test-auth-token";
pub const API_TOKEN: &str = "test-api-token";
pub const ANA: &str = "+15551234567";

pub fn tenant(provider: ProviderConfig, plugins: Vec<PluginBindingConfig>) -> TenantConfig {
    TenantConfig {
        id: "acme".into(),
        name: "Acme".into(),
        numbers: vec![NUMBER.into()],
        messaging_service_sid: None,
        time_zone: "America/New_York".into(),
        help_text: None,
        api_token: Some(API_TOKEN.into()),
        provider,
        plugins,
        consent: Default::default(),
        templates: Default::default(),
        users: Vec::new(),
        // Always open, so tests do not depend on the hour they run at (the
        // after-hours notice has its own tests).
        tickets: smsdesk::tickets::TicketsConfig { business_hours: vec!["24/7".into()], ..Default::default() },
    }
}

pub fn first_party_plugins() -> Vec<PluginBindingConfig> {
    let crm: toml::Table = toml::from_str(
        r#"[profiles."+15551234567"]
           id = "cus_1"
           name = "Ana"
           attributes = { last-order-id = "1042", order-status = "in transit" }"#,
    )
    .unwrap();
    vec![
        PluginBindingConfig::new(Role::Crm, "builtin:demo-crm").with_config(crm),
        PluginBindingConfig::new(Role::Classifier, "builtin:keyword-intents"),
        PluginBindingConfig::new(Role::Responder, "builtin:faq-responder"),
    ]
}

pub fn log_provider() -> ProviderConfig {
    ProviderConfig::Log { auth_token: TOKEN.into() }
}

pub async fn start(dir: &std::path::Path, tenants: Vec<TenantConfig>) -> Server {
    let config = Config {
        data_dir: dir.to_path_buf(),
        database_url: crate::support::database_url(dir),
        bind: "127.0.0.1:0".parse().unwrap(),
        tenants,
        ..Config::default()
    };
    server::start(config).await.expect("host starts")
}

pub fn inbound_params(sid: &str, from: &str, body: &str) -> Vec<(String, String)> {
    [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", "ACtest"),
        ("From", from),
        ("To", NUMBER),
        ("Body", body),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
        ("FromCountry", "US"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// POST a form signed with `token` for exactly the URL posted to.
pub async fn post_signed(base: &str, path: &str, params: &[(String, String)], token: &str) -> reqwest::Response {
    let url = format!("{base}{path}");
    let sig = signature::sign(token, &url, params);
    reqwest::Client::new().post(&url).header("X-Twilio-Signature", sig).form(params).send().await.unwrap()
}

pub async fn text(base: &str, sid: &str, from: &str, body: &str) -> reqwest::Response {
    post_signed(base, "/webhooks/twilio/sms", &inbound_params(sid, from, body), TOKEN).await
}

pub async fn api(base: &str, path: &str) -> serde_json::Value {
    let r = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(API_TOKEN).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// The conversation of `contact`, once `ready` says it has what the test waits for.
pub async fn wait_for(base: &str, contact: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        let list = api(base, "/api/v1/conversations?limit=500").await;
        if let Some(id) = list["conversations"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["contact"] == contact))
            .and_then(|c| c["id"].as_i64())
        {
            last = api(base, &format!("/api/v1/conversations/{id}")).await;
            if ready(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting; last state: {last:#}");
}

/// Wait until the host has nothing left to do: every stored message
/// processed and every queued send made (retries included). A check that
/// something did *not* happen goes after this, not after a sleep: once
/// nothing is pending, nothing more can happen on its own.
pub async fn settled(store: &smsdesk::store::Store) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = store.pending_jobs().await.unwrap();
        let (sends, _, _) = store.outbox_counts().await.unwrap();
        if jobs == 0 && sends == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "still pending after 20 s: {jobs} messages, {sends} sends");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn outbound(conv: &serde_json::Value) -> Vec<serde_json::Value> {
    conv["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").cloned().collect()
}

/// `/readyz` for a load balancer, on either engine: ready, with the
/// database's migrations against this binary's, the tenants loaded and
/// (within a housekeeping period) this process leading housekeeping.
#[tokio::test]
async fn readyz_says_the_host_should_get_traffic_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().text().await.unwrap(), "ok");
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        if body["housekeeping"] == "leader" {
            break body;
        }
        assert!(Instant::now() < deadline, "this host never led housekeeping: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["engine"], if crate::support::on_postgres() { "PostgreSQL" } else { "SQLite" });
    assert_eq!(ready["tenants"], 1);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap().count();
    assert_eq!(ready["migrations"]["applied"], migrations);
    assert_eq!(ready["migrations"]["known"], migrations);
    assert!(ready["replica"].as_str().unwrap().contains('#'), "{ready}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_signed_webhook_gets_a_reply_through_the_log_provider() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);

    let r = text(&base, "SM0001", ANA, "Where is my order? Tracking hasn't moved").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/xml");
    assert_eq!(r.text().await.unwrap(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");

    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["status"] == "delivered")).await;
    let reply = &outbound(&conv)[0];
    assert_eq!(reply["body"], "Hi Ana! Your order #1042 is in transit. Track it here: https://example.com/track");
    assert_eq!(reply["encoding"], "GSM-7");
    assert_eq!(reply["segments"], 1);
    assert_eq!(reply["author"], "bot");
    assert_eq!(conv["owner"], "bot");
    assert_eq!(conv["tags"], serde_json::json!(["order-status"]));
    assert_eq!(conv["intents"][0]["label"], "order-status");
    assert_eq!(conv["profile"]["name"], "Ana");
    let roles: Vec<&str> = conv["traces"].as_array().unwrap().iter().map(|t| t["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["crm", "classifier", "responder"]);
    assert!(conv["traces"].as_array().unwrap().iter().all(|t| t["outcome"] == "ok"));
    host.shutdown().await;
}

#[tokio::test]
async fn a_bad_signature_gets_403_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    let params = inbound_params("SMbad", ANA, "hello");
    // Signed with the wrong token, signed for another URL, tampered, and unsigned.
    assert_eq!(post_signed(&base, "/webhooks/twilio/sms", &params, "wrong").await.status(), 403);
    let sig = signature::sign(TOKEN, "https://elsewhere.example/webhooks/twilio/sms", &params);
    let r = reqwest::Client::new()
        .post(format!("{base}/webhooks/twilio/sms"))
        .header("X-Twilio-Signature", sig)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let url = format!("{base}/webhooks/twilio/sms");
    let sig = signature::sign(TOKEN, &url, &params);
    let mut tampered = params.clone();
    tampered[5].1 = "hello there".into();
    let r = reqwest::Client::new().post(&url).header("X-Twilio-Signature", sig).form(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = reqwest::Client::new().post(&url).form(&params).send().await.unwrap();
    assert_eq!(r.status(), 403);
    settled(&host.store).await;
    assert_eq!(api(&base, "/api/v1/conversations").await["conversations"], serde_json::json!([]));
    assert_eq!(host.store.pending_jobs().await.unwrap(), 0);
    host.shutdown().await;
}

#[tokio::test]
async fn a_retried_webhook_is_stored_once_and_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    for _ in 0..3 {
        assert_eq!(text(&base, "SMretry", ANA, "What are your hours?").await.status(), 200);
    }
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["status"] == "delivered")).await;
    settled(&host.store).await;
    let conv = api(&base, &format!("/api/v1/conversations/{}", conv["id"])).await;
    let inbound = conv["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "inbound").count();
    assert_eq!(inbound, 1);
    assert_eq!(outbound(&conv).len(), 1);
    assert_eq!(conv["status"], "resolved");
    host.shutdown().await;
}

#[tokio::test]
async fn card_numbers_never_reach_storage_or_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    let r = text(&base, "SMcard", ANA, "my payment failed, card 4111 1111 1111 1111 exp 12/29").await;
    assert_eq!(r.status(), 200);
    let conv = wait_for(&base, ANA, |c| c["owner"] == "human").await;
    let stored = conv["messages"][0]["body"].as_str().unwrap();
    assert_eq!(stored, "my payment failed, card ****1111 exp 12/29");
    // The billing intent was still found from the redacted text.
    assert_eq!(conv["handoff_team"], "billing");
    host.shutdown().await;
    // Nothing of the number is anywhere in the database (SQLite's main file
    // and WAL, or a dump of the PostgreSQL database).
    let stored = crate::support::stored_bytes(dir.path());
    assert!(!stored.is_empty());
    for (path, bytes) in stored {
        for needle in ["4111 1111 1111 1111", "4111111111111111", "1111 1111 1111"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{needle} in {path:?}");
        }
    }
}

#[tokio::test]
async fn a_plugin_that_traps_hands_the_conversation_to_a_human() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = vec![
        PluginBindingConfig::new(Role::Classifier, smsdesk_artifacts::test_guests::TRAPPER.path),
        PluginBindingConfig::new(Role::Responder, "builtin:faq-responder"),
    ];
    let host = start(dir.path(), vec![tenant(log_provider(), plugins)]).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMtrap", ANA, "trap").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| c["owner"] == "human").await;
    let reason = conv["handoff_reason"].as_str().unwrap();
    assert!(reason.contains("plugin `trapper` (classifier): trap"), "{reason}");
    assert!(outbound(&conv).is_empty(), "no bot reply after a failure");
    let trace = &conv["traces"][0];
    assert_eq!((trace["plugin"].as_str(), trace["outcome"].as_str()), (Some("trapper"), Some("error")));
    assert_eq!(trace["error_kind"], "trap");
    // The message is kept, and the next message is not answered by bots.
    assert_eq!(conv["messages"][0]["body"], "trap");
    assert_eq!(text(&base, "SMtrap2", ANA, "hello?").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| c["messages"].as_array().unwrap().len() == 2).await;
    settled(&host.store).await;
    let conv = api(&base, &format!("/api/v1/conversations/{}", conv["id"])).await;
    assert!(outbound(&conv).is_empty());
    host.shutdown().await;
}

#[tokio::test]
async fn malformed_oversized_and_unknown_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    let client = reqwest::Client::new();
    let url = format!("{base}/webhooks/twilio/sms");

    // Missing MessageSid, signed correctly.
    let mut params = inbound_params("SMx", ANA, "hi");
    params.retain(|(k, _)| k != "MessageSid");
    let r = post_signed(&base, "/webhooks/twilio/sms", &params, TOKEN).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("missing `MessageSid`"));
    // A From that is not a phone number.
    let r = post_signed(&base, "/webhooks/twilio/sms", &inbound_params("SMy", "hello", "hi"), TOKEN).await;
    assert_eq!(r.status(), 400);
    // JSON instead of a form.
    let r = client.post(&url).json(&serde_json::json!({"Body": "hi"})).send().await.unwrap();
    assert_eq!(r.status(), 415);
    // Not UTF-8.
    let r = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, 0x3d])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Too large.
    let big = "x".repeat(100 * 1024);
    let r = client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("Body={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A number no tenant owns.
    let mut params = inbound_params("SMz", ANA, "hi");
    params[4].1 = "+15550009999".into();
    // (the same 403 as a bad signature, so unsigned requests cannot probe for numbers)
    assert_eq!(post_signed(&base, "/webhooks/twilio/sms", &params, TOKEN).await.status(), 403);
    // The read API needs the tenant's token and stays inside the tenant.
    let r = client.get(format!("{base}/api/v1/conversations")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client.get(format!("{base}/api/v1/conversations")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client.get(format!("{base}/api/v1/conversations/999")).bearer_auth(API_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = client.get(format!("{base}/api/v1/conversations/abc")).bearer_auth(API_TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(host.store.pending_jobs().await.unwrap(), 0);
    host.shutdown().await;
}

/// A form as received: every parameter in order.
pub type FormFields = Vec<(String, String)>;

/// A message the fake provider has taken.
#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    /// The sender number (a pool number when sent through a Messaging Service).
    pub from: String,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub created: jiff::Timestamp,
}

/// A local server that speaks Twilio's Messages API wire format: sends
/// (`POST …/Messages.json`) and the message list that settles a send in doubt
/// (`GET …/Messages.json?To=…&From=…`, newest first, paged).
#[derive(Clone, Default)]
pub struct FakeTwilio {
    /// Forms received, in order.
    pub received: Arc<Mutex<Vec<FormFields>>>,
    /// Each send's `I-Twilio-Idempotency-Token`, in the order received.
    pub keys: Arc<Mutex<Vec<String>>>,
    /// Responses to give, in order (status, JSON); after they run out: 201 queued.
    /// A scripted answer means the message was not taken.
    pub script: Arc<Mutex<Vec<(u16, serde_json::Value)>>>,
    /// Messages taken, oldest first.
    pub messages: Arc<Mutex<Vec<FakeMessage>>>,
    /// This many of the next sends are taken but answered 504 (the answer is lost).
    pub lost_answers: Arc<std::sync::atomic::AtomicUsize>,
    /// How long to wait after taking a message before answering (ms).
    pub answer_delay_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Message-list requests served.
    pub lookups: Arc<std::sync::atomic::AtomicUsize>,
}

fn fake_authorized(account: &str, headers: &HeaderMap) -> bool {
    use base64::Engine as _;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{account}:{TOKEN}")));
    account == "ACtest" && headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn unauthorized() -> (StatusCode, axum::Json<serde_json::Value>) {
    (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"code": 20003, "message": "Authenticate"})))
}

async fn fake_messages(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    use std::sync::atomic::Ordering;
    if !fake_authorized(&account, &headers) {
        return unauthorized();
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let key = headers.get("i-twilio-idempotency-token").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (to, from, service, text) = (get("To"), get("From"), get("MessagingServiceSid"), get("Body"));
    let n = {
        let mut received = fake.received.lock().unwrap();
        received.push(form);
        fake.keys.lock().unwrap().push(key);
        received.len()
    };
    let scripted = {
        let mut script = fake.script.lock().unwrap();
        if script.is_empty() { None } else { Some(script.remove(0)) }
    };
    if let Some((status, json)) = scripted {
        return (StatusCode::from_u16(status).unwrap(), axum::Json(json));
    }
    // Taken: from here on the provider has it, whatever the answer.
    let sid = format!("SMfake{n:04}");
    fake.messages.lock().unwrap().push(FakeMessage {
        sid: sid.clone(),
        to: to.unwrap_or_default(),
        from: from.unwrap_or_else(|| "+15557650199".into()),
        messaging_service_sid: service,
        body: text.unwrap_or_default(),
        created: jiff::Timestamp::now(),
    });
    let lost = fake.lost_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let delay = fake.answer_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if lost {
        return (StatusCode::GATEWAY_TIMEOUT, axum::Json(serde_json::json!({"message": "Gateway Time-out"})));
    }
    (StatusCode::CREATED, axum::Json(serde_json::json!({"sid": sid, "status": "queued", "num_segments": "1"})))
}

async fn fake_list(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    if !fake_authorized(&account, &headers) {
        return unauthorized();
    }
    fake.lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let query: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let page_size: usize = get("PageSize").and_then(|p| p.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let page: usize = get("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let (to, from) = (get("To"), get("From"));
    let mut matching: Vec<FakeMessage> = fake
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| to.as_ref().is_none_or(|t| *t == m.to) && from.as_ref().is_none_or(|f| *f == m.from))
        .cloned()
        .collect();
    matching.reverse();
    let rfc2822 =
        |t: jiff::Timestamp| jiff::fmt::rfc2822::to_string(&t.to_zoned_datetime(jiff::tz::TimeZone::UTC)).unwrap();
    let messages: Vec<serde_json::Value> = matching
        .iter()
        .skip(page * page_size)
        .take(page_size)
        .map(|m| {
            serde_json::json!({
                "sid": m.sid, "account_sid": account, "to": m.to, "from": m.from, "body": m.body,
                "messaging_service_sid": m.messaging_service_sid, "status": "queued",
                "direction": "outbound-api", "date_created": rfc2822(m.created), "date_sent": null,
                "num_segments": "1",
            })
        })
        .collect();
    let base = format!("/2010-04-01/Accounts/{account}/Messages.json");
    let mut filters = String::new();
    for (k, v) in [("To", &to), ("From", &from)] {
        if let Some(v) = v {
            filters.push_str(&format!("{k}={}&", form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()));
        }
    }
    let next = ((page + 1) * page_size < matching.len())
        .then(|| format!("{base}?{filters}PageSize={page_size}&Page={}", page + 1));
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({
            "messages": messages, "page": page, "page_size": page_size,
            "uri": format!("{base}?{filters}PageSize={page_size}&Page={page}"),
            "first_page_uri": format!("{base}?{filters}PageSize={page_size}&Page=0"),
            "next_page_uri": next, "previous_page_uri": null,
        })),
    )
}

impl FakeTwilio {
    pub async fn start(&self) -> String {
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", post(fake_messages).get(fake_list))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    /// Send requests received per idempotency key.
    pub fn calls_per_key(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for key in self.keys.lock().unwrap().iter() {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        counts
    }
}

pub fn twilio(base_url: String) -> ProviderConfig {
    ProviderConfig::Twilio { account_sid: "ACtest".into(), auth_token: TOKEN.into(), base_url }
}

pub fn status_params(sid: &str, status: &str, error: Option<&str>) -> Vec<(String, String)> {
    let mut p = vec![
        ("MessageSid".to_string(), sid.to_string()),
        ("MessageStatus".to_string(), status.to_string()),
        ("AccountSid".to_string(), "ACtest".to_string()),
        ("From".to_string(), NUMBER.to_string()),
        ("To".to_string(), ANA.to_string()),
    ];
    if let Some(code) = error {
        p.push(("ErrorCode".to_string(), code.to_string()));
    }
    p
}

#[tokio::test]
async fn replies_go_out_through_twilio_and_statuses_only_move_forward() {
    let fake = FakeTwilio::default();
    // The first attempt hits a rate limit and the second a server error: both are retried.
    fake.script.lock().unwrap().extend([
        (429, serde_json::json!({"code": 20429, "message": "Too Many Requests", "status": 429})),
        (503, serde_json::json!({"message": "unavailable"})),
    ]);
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(twilio(api_base), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);

    assert_eq!(text(&base, "SMtw1", ANA, "where is my order").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["provider_sid"].is_string())).await;
    let reply = &outbound(&conv)[0];
    assert_eq!(reply["status"], "queued");
    let sid = reply["provider_sid"].as_str().unwrap().to_string();
    {
        let received = fake.received.lock().unwrap();
        assert_eq!(received.len(), 3, "two transient failures, then accepted");
        let form = &received[2];
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("To"), Some(ANA));
        assert_eq!(get("From"), Some(NUMBER));
        assert!(get("Body").unwrap().starts_with("Hi Ana!"));
        assert_eq!(get("StatusCallback"), Some(format!("{base}/webhooks/twilio/status").as_str()));
    }

    // Status callbacks, out of order: delivered arrives before sent.
    let cb = "/webhooks/twilio/status";
    for status in ["delivered", "sent", "queued"] {
        let r = post_signed(&base, cb, &status_params(&sid, status, None), TOKEN).await;
        assert_eq!(r.status(), 204, "{status}");
    }
    let conv = api(&base, &format!("/api/v1/conversations/{}", conv["id"])).await;
    assert_eq!(outbound(&conv)[0]["status"], "delivered", "never back from delivered");
    // A late failure does not undo a delivery; a read receipt follows it.
    for status in ["undelivered", "failed", "read"] {
        let r = post_signed(&base, cb, &status_params(&sid, status, Some("30003")), TOKEN).await;
        assert_eq!(r.status(), 204, "{status}");
    }
    let conv = api(&base, &format!("/api/v1/conversations/{}", conv["id"])).await;
    assert_eq!(outbound(&conv)[0]["status"], "read");
    // A message that failed is never read.
    assert_eq!(text(&base, "SMtw2", ANA, "what are your hours").await.status(), 200);
    let conv =
        wait_for(&base, ANA, |c| outbound(c).iter().filter(|m| m["provider_sid"].is_string()).count() == 2).await;
    let second = outbound(&conv).iter().find(|m| m["provider_sid"] != sid.as_str()).unwrap()["provider_sid"].clone();
    let second = second.as_str().unwrap();
    for status in ["failed", "read", "delivered"] {
        let r = post_signed(&base, cb, &status_params(second, status, Some("30003")), TOKEN).await;
        assert_eq!(r.status(), 204, "{status}");
    }
    let conv = api(&base, &format!("/api/v1/conversations/{}", conv["id"])).await;
    let second = outbound(&conv).into_iter().find(|m| m["provider_sid"] == second).unwrap();
    assert_eq!(second["status"], "failed", "a failed message stays failed");
    assert_eq!(second["error_code"], "30003");
    // Unsigned callbacks are refused.
    let r = reqwest::Client::new()
        .post(format!("{base}{cb}"))
        .form(&status_params(&sid, "failed", Some("30003")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    host.shutdown().await;
}

#[tokio::test]
async fn permanent_provider_errors_fail_once_with_the_error_code() {
    let fake = FakeTwilio::default();
    fake.script.lock().unwrap().push((
        400,
        serde_json::json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
    ));
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(twilio(api_base), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMperm", ANA, "what are your hours").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["status"] == "failed")).await;
    assert_eq!(outbound(&conv)[0]["error_code"], "21211");
    settled(&host.store).await;
    assert_eq!(fake.received.lock().unwrap().len(), 1, "a permanent error is not retried");
    assert_eq!(host.store.outbox_counts().await.unwrap(), (0, 0, 1));
    host.shutdown().await;
}

#[tokio::test]
async fn behind_a_proxy_the_public_url_is_signed_and_messaging_services_route() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tenant(log_provider(), first_party_plugins());
    t.messaging_service_sid = Some("MG00000000000000000000000000000001".into());
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: crate::support::database_url(dir.path()),
        bind: "127.0.0.1:0".parse().unwrap(),
        public_base_url: Some("https://sms.example.com".into()),
        tenants: vec![t],
        ..Config::default()
    };
    let host = server::start(config).await.unwrap();
    let base = format!("http://{}", host.addr);
    // Twilio signed the public URL (with and without :443); we are reached on 127.0.0.1.
    let mut params = inbound_params("SMproxy", ANA, "What are your hours?");
    // Sent to a pool number the tenant does not list, through its Messaging Service.
    params[4].1 = "+15550001111".into();
    params.push(("MessagingServiceSid".into(), "MG00000000000000000000000000000001".into()));
    for (i, public) in
        ["https://sms.example.com/webhooks/twilio/sms", "https://sms.example.com:443/webhooks/twilio/sms"]
            .iter()
            .enumerate()
    {
        params[0].1 = format!("SMproxy{i}");
        // A different customer each time, so each gets a conversation of their own.
        params[3].1 = format!("+1555300000{i}");
        let sig = signature::sign(TOKEN, public, &params);
        let r = reqwest::Client::new()
            .post(format!("{base}/webhooks/twilio/sms"))
            .header("X-Twilio-Signature", sig)
            .form(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{public}");
    }
    // Signing the internal address is now wrong.
    params[0].1 = "SMproxy9".into();
    assert_eq!(post_signed(&base, "/webhooks/twilio/sms", &params, TOKEN).await.status(), 403);
    for customer in ["+15553000000", "+15553000001"] {
        let conv = wait_for(&base, customer, |c| outbound(c).iter().any(|m| m["status"] == "delivered")).await;
        assert_eq!(outbound(&conv).len(), 1);
        assert_eq!(outbound(&conv)[0]["body"], "We're open Mon-Fri 9:00-18:00 and Sat 10:00-16:00.");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn concurrent_bursts_keep_one_conversation_per_customer_and_one_reply_per_message() {
    // Batches hold several messages of one customer and the same MessageSid
    // twice: each customer keeps one open conversation, each message is
    // stored once and answered once, in order.
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(log_provider(), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    let customers: Vec<String> = (0..5).map(|i| format!("+1555000{i:04}")).collect();
    let mut posts = Vec::new();
    for round in 0..6 {
        for (c, from) in customers.iter().enumerate() {
            for _copy in 0..2 {
                let (base, from) = (base.clone(), from.clone());
                let sid = format!("SMburst{c}r{round}");
                posts.push(tokio::spawn(async move { text(&base, &sid, &from, "Where is my order?").await.status() }));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for p in posts {
        assert_eq!(p.await.unwrap(), 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.store.pending_jobs().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "processing did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let list = api(&base, "/api/v1/conversations?limit=500").await;
    let conversations = list["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), customers.len(), "one conversation per customer: {list:#}");
    for from in &customers {
        let conv = wait_for(&base, from, |c| outbound(c).len() == 6).await;
        let messages = conv["messages"].as_array().unwrap();
        let inbound = messages.iter().filter(|m| m["direction"] == "inbound").count();
        assert_eq!(inbound, 6, "each MessageSid stored once for {from}");
        assert_eq!(outbound(&conv).len(), 6, "one reply per message for {from}");
        // Exactly this customer's six MessageSids, each once.
        let c = customers.iter().position(|x| x == from).unwrap();
        let mut sids: Vec<&str> = messages
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .map(|m| m["provider_sid"].as_str().unwrap_or(""))
            .collect();
        sids.sort();
        let expected: Vec<String> = (0..6).map(|r| format!("SMburst{c}r{r}")).collect();
        assert_eq!(sids, expected, "{from}");
        assert_eq!(conv["traces"].as_array().unwrap().iter().filter(|t| t["role"] == "classifier").count(), 6);
    }
    host.shutdown().await;
}

#[tokio::test]
async fn a_failing_binding_is_suspended_and_its_messages_go_to_humans() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = vec![
        PluginBindingConfig::new(Role::Classifier, smsdesk_artifacts::test_guests::TRAPPER.path),
        PluginBindingConfig::new(Role::Responder, "builtin:faq-responder"),
    ];
    let host = start(dir.path(), vec![tenant(log_provider(), plugins)]).await;
    let base = format!("http://{}", host.addr);
    let threshold = smsdesk::pipeline::breaker::THRESHOLD;
    let mut kinds = Vec::new();
    for i in 0..threshold + 2 {
        let from = format!("+1555300{i:04}");
        assert_eq!(text(&base, &format!("SMbrk{i}"), &from, "trap").await.status(), 200);
        let conv = wait_for(&base, &from, |c| c["owner"] == "human").await;
        assert!(outbound(&conv).is_empty());
        kinds.push(conv["traces"][0]["error_kind"].as_str().unwrap().to_string());
        if i == threshold {
            assert!(conv["handoff_reason"].as_str().unwrap().contains("suspended after"), "{conv:#}");
        }
    }
    let mut expected = vec!["trap".to_string(); threshold];
    expected.extend(["suspended".to_string(), "suspended".to_string()]);
    assert_eq!(kinds, expected, "after {threshold} failures the plugin is no longer called");
    // The admin sees which binding is suspended and why.
    let plugins = api(&base, "/api/v1/plugins").await;
    let classifier = &plugins["plugins"][0];
    assert_eq!(classifier["plugin"], "trapper");
    assert_eq!(classifier["breaker"]["state"], "open");
    assert!(classifier["breaker"]["last_error"].as_str().unwrap().starts_with("trap:"));
    assert!(classifier["breaker"]["retry_in_secs"].as_u64().unwrap() <= 30);
    assert_eq!(plugins["plugins"][1]["breaker"]["state"], "closed");
    host.shutdown().await;
}
