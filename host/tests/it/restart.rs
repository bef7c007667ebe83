//! Killing the process after webhooks were acknowledged loses nothing and
//! sends nothing twice: after a restart every message gets exactly one reply.

use crate::host::{API_TOKEN, FakeTwilio, NUMBER, TOKEN, api, inbound_params, post_signed};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_smsdesk"))
        .args(["serve", "--config"])
        .arg(config)
        .env("SMSDESK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting smsdesk serve")
}

pub async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("smsdesk did not become healthy at {base}");
}

/// A `smsdesk serve` configuration in `dir`: one tenant (acme, the first-party
/// classifier and responder) sending through the Twilio API at `api_base`.
pub fn host_config(dir: &std::path::Path, port: u16, api_base: &str) -> std::path::PathBuf {
    let config = dir.join("smsdesk.toml");
    std::fs::write(
        &config,
        format!(
            r#"{database}
data_dir = "{data}"
bind = "127.0.0.1:{port}"

[[tenants]]
id = "acme"
name = "Acme"
numbers = ["{NUMBER}"]
api_token = "{API_TOKEN}"
provider = {{ kind = "twilio", account_sid = "ACtest", auth_token = "{TOKEN}", base_url = "{api_base}" }}

[[tenants.plugins]]
role = "classifier"
plugin = "builtin:keyword-intents"

[[tenants.plugins]]
role = "responder"
plugin = "builtin:faq-responder"
"#,
            data = dir.join("data").display(),
            database = crate::support::database_line(&dir.join("data")),
        ),
    )
    .unwrap();
    config
}

/// Wait until the `smsdesk serve` child whose config `host_config(dir, …)`
/// wrote has nothing pending (read from its database, as a second reader).
pub async fn child_settled(dir: &std::path::Path) {
    let data = dir.join("data");
    let url = crate::support::database_url(&data)
        .unwrap_or_else(|| format!("sqlite://{}", data.join("smsdesk.db").display()));
    let store = smsdesk::store::Store::open(&url, Default::default()).await.unwrap();
    crate::host::settled(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_after_the_ack_and_restarting_yields_exactly_one_reply_each() {
    // Twilio answers slowly, so the kill finds replies still to send.
    let fake = FakeTwilio::default();
    fake.answer_delay_ms.store(200, Ordering::SeqCst);
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = host_config(dir.path(), port, &api_base);
    let base = format!("http://127.0.0.1:{port}");

    let mut child = spawn(&config);
    wait_healthy(&base).await;
    // A burst of messages from different customers; kill -9 right after the
    // last acknowledgement, so some are processed, some half-way, some not at all.
    let customers: Vec<String> = (0..20).map(|i| format!("+1555200{i:04}")).collect();
    for (i, from) in customers.iter().enumerate() {
        let r = post_signed(
            &base,
            "/webhooks/twilio/sms",
            &inbound_params(&format!("SMkill{i}"), from, "What are your hours?"),
            TOKEN,
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before_restart = fake.received.lock().unwrap().len();
    assert!(before_restart < customers.len(), "work was pending at the kill: {before_restart} replies already sent");

    let mut child = spawn(&config);
    wait_healthy(&base).await;
    // Every customer's reply reaches the provider, and every send of the
    // first process has been settled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = api(&base, "/api/v1/conversations?limit=500").await;
        let conversations = list["conversations"].as_array().unwrap().clone();
        let mut settled = conversations.len() == customers.len();
        for c in &conversations {
            let detail = api(&base, &format!("/api/v1/conversations/{}", c["id"])).await;
            let out = crate::host::outbound(&detail);
            settled &= !out.is_empty() && out.iter().all(|m| m["provider_sid"].is_string());
        }
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "not every message was answered after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing is pending: anything repeated has already reached the fake.
    child_settled(dir.path()).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for customer in &customers {
        let copies = fake.messages.lock().unwrap().iter().filter(|m| &m.to == customer).count();
        assert_eq!(copies, 1, "{customer} got {copies} replies");
    }
    let calls = fake.calls_per_key();
    assert_eq!(calls.len(), customers.len());
    assert!(calls.values().all(|n| *n == 1), "provider calls per key: {calls:?}");
}
