//! Killing the process after webhooks were acknowledged loses nothing and
//! sends nothing twice: after a restart every message gets exactly one reply.

use crate::host::{ANA, API_TOKEN, TOKEN, api, inbound_params, post_signed};
use std::process::{Child, Command, Stdio};
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

#[tokio::test]
async fn killing_after_the_ack_and_restarting_yields_exactly_one_reply_each() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("smsdesk.toml");
    std::fs::write(
        &config,
        format!(
            r#"{database}
data_dir = "{data}"
bind = "127.0.0.1:{port}"

[[tenants]]
id = "acme"
name = "Acme"
numbers = ["+15557650100"]
api_token = "{API_TOKEN}"
provider = {{ kind = "log", auth_token = "{TOKEN}" }}

[[tenants.plugins]]
role = "classifier"
plugin = "builtin:keyword-intents"

[[tenants.plugins]]
role = "responder"
plugin = "builtin:faq-responder"
"#,
            data = dir.path().join("data").display(),
            database = crate::support::database_line(&dir.path().join("data")),
        ),
    )
    .unwrap();
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

    let mut child = spawn(&config);
    wait_healthy(&base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let replies = loop {
        let list = api(&base, "/api/v1/conversations?limit=500").await;
        let conversations = list["conversations"].as_array().unwrap().clone();
        let mut replies = Vec::new();
        for c in &conversations {
            let detail = api(&base, &format!("/api/v1/conversations/{}", c["id"])).await;
            let out = detail["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count();
            replies.push((c["contact"].as_str().unwrap().to_string(), out));
        }
        if replies.len() == customers.len() && replies.iter().all(|(_, n)| *n >= 1) {
            // Give a wrongly repeated job time to show itself before judging.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            break replies;
        }
        assert!(Instant::now() < deadline, "not every message was answered after the restart: {replies:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut again = Vec::new();
    for (contact, _) in &replies {
        let list = api(&base, "/api/v1/conversations?limit=500").await;
        let id =
            list["conversations"].as_array().unwrap().iter().find(|c| c["contact"] == contact.as_str()).unwrap()["id"]
                .clone();
        let detail = api(&base, &format!("/api/v1/conversations/{id}")).await;
        let out = detail["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").count();
        again.push((contact.clone(), out));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(again.iter().all(|(_, n)| *n == 1), "exactly one reply per message: {again:?}");
    assert!(!again.iter().any(|(c, _)| c == ANA));
}
