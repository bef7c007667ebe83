//! The demo: a tenant wired to the first-party plugins and the `log`
//! provider, and a terminal chat that texts it through a signed webhook.

use crate::config::{Config, PluginBindingConfig, ProviderConfig, TenantConfig, UserConfig, UserRole};
use crate::domain::Role;
use crate::messaging::signature;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The demo tenant's number.
pub const DEMO_NUMBER: &str = "+15557650100";
/// The token demo webhooks are signed with.
pub const DEMO_AUTH_TOKEN: &str = "demo-auth-token";
/// The demo tenant's read-API token.
pub const DEMO_API_TOKEN: &str = "demo-api-token";
/// The demo agent Sam's token (sign in to /inbox with it).
pub const DEMO_AGENT_TOKEN: &str = "demo-agent-sam-token";
/// The demo agent Lee's token.
pub const DEMO_AGENT2_TOKEN: &str = "demo-agent-lee-token";
/// The demo admin's token (reports).
pub const DEMO_ADMIN_TOKEN: &str = "demo-admin-token-0001";
/// A customer the demo CRM knows.
pub const DEMO_CUSTOMER: &str = "+15551234567";

fn table(toml_text: &str) -> toml::Table {
    toml::from_str(toml_text).expect("demo configuration is valid TOML")
}

/// The demo configuration: one tenant, first-party plugins, the `log` provider.
pub fn config(data_dir: PathBuf, bind: std::net::SocketAddr) -> Config {
    let crm = table(
        r#"
        [profiles."+15551234567"]
        id = "cus_1001"
        name = "Ana"
        tier = "gold"
        attributes = { last-order-id = "1042", order-status = "in transit", eta = "Tuesday" }
        "#,
    );
    Config {
        data_dir,
        bind,
        tenants: vec![TenantConfig {
            id: "demo".into(),
            name: "Demo Outfitters".into(),
            numbers: vec![DEMO_NUMBER.into()],
            messaging_service_sid: None,
            time_zone: "America/New_York".into(),
            help_text: Some(
                "Demo Outfitters support: text this number or email help@example.com. Reply STOP to opt out. Msg & data rates may apply."
                    .into(),
            ),
            api_token: Some(DEMO_API_TOKEN.into()),
            provider: ProviderConfig::Log { auth_token: DEMO_AUTH_TOKEN.into() },
            plugins: vec![
                PluginBindingConfig::new(Role::Crm, "builtin:demo-crm").with_config(crm),
                PluginBindingConfig::new(Role::Classifier, "builtin:keyword-intents"),
                PluginBindingConfig::new(Role::Responder, "builtin:faq-responder"),
            ],
            consent: Default::default(),
            templates: [(
                "shipping-delay".to_string(),
                "Demo Outfitters: hi {name}, order #{order} is running late. Reply STOP to opt out.".to_string(),
            )]
            .into(),
            users: vec![
                UserConfig {
                    id: "sam".into(),
                    name: "Sam Rivera".into(),
                    role: UserRole::Agent,
                    teams: vec!["support".into(), "billing".into()],
                    token: Some(DEMO_AGENT_TOKEN.into()),
                    token_sha256: None,
                },
                UserConfig {
                    id: "lee".into(),
                    name: "Lee Park".into(),
                    role: UserRole::Agent,
                    teams: vec!["billing".into()],
                    token: Some(DEMO_AGENT2_TOKEN.into()),
                    token_sha256: None,
                },
                UserConfig {
                    id: "admin".into(),
                    name: "Demo Admin".into(),
                    role: UserRole::Admin,
                    teams: vec![],
                    token: Some(DEMO_ADMIN_TOKEN.into()),
                    token_sha256: None,
                },
            ],
            tickets: crate::tickets::TicketsConfig {
                canned: [
                    (
                        "order-status".to_string(),
                        "Hi {first_name}, order #{order_id} is on its way. Anything else I can do?".to_string(),
                    ),
                    (
                        "refund-started".to_string(),
                        "Hi {first_name}, I've started the refund for order #{order_id}; it takes 3-5 business days. ({reference})"
                            .to_string(),
                    ),
                    ("goodbye".to_string(), "Thanks for contacting {brand}! - {agent_name}".to_string()),
                ]
                .into(),
                ..Default::default()
            },
        }],
        ..Config::default()
    }
}

/// A fresh directory for a demo run.
pub fn fresh_data_dir() -> PathBuf {
    let stamp = jiff::Timestamp::now().as_second();
    std::env::temp_dir().join(format!("smsdesk-demo-{stamp}-{}", std::process::id()))
}

/// Options of `smsdesk chat`.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The server's base URL.
    pub server: String,
    /// The customer's number.
    pub from: String,
    /// The tenant's number.
    pub to: String,
    /// Webhook signing token.
    pub auth_token: String,
    /// Read-API token.
    pub api_token: String,
}

/// Post one signed inbound webhook, as Twilio would.
pub async fn send_text(client: &reqwest::Client, o: &ChatOptions, body: &str, sid: &str) -> Result<()> {
    let url = format!("{}/webhooks/twilio/sms", o.server.trim_end_matches('/'));
    let params: Vec<(String, String)> = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("SmsMessageSid", sid),
        ("AccountSid", "ACdemo"),
        ("From", o.from.as_str()),
        ("To", o.to.as_str()),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
        ("SmsStatus", "received"),
        ("ApiVersion", "2010-04-01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sig = signature::sign(&o.auth_token, &url, &params);
    let response = client
        .post(&url)
        .header("X-Twilio-Signature", sig)
        .form(&params)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !response.status().is_success() {
        bail!("the server answered {}: {}", response.status(), response.text().await.unwrap_or_default());
    }
    Ok(())
}

/// The terminal chat: each line is texted to the server; replies are printed.
pub async fn chat(o: ChatOptions) -> Result<()> {
    let client = reqwest::Client::new();
    println!("Texting {} as {} through {} (Ctrl-D to quit).", o.to, o.from, o.server);
    let stdin = std::io::stdin();
    let mut seen: i64 = 0;
    let mut handed_off = false;
    let mut n = 0u64;
    loop {
        print!("you> ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            println!();
            return Ok(());
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        n += 1;
        let sid = format!("SMchat{}{:08}{n:06}", std::process::id(), jiff::Timestamp::now().as_second() % 100_000_000);
        send_text(&client, &o, text, &sid).await?;
        // Watch the conversation until the bot answers or a human takes over.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut printed = false;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let Some(conv) = conversation(&client, &o).await? else { continue };
            let messages = conv["messages"].as_array().cloned().unwrap_or_default();
            let newest_inbound =
                messages.iter().filter(|m| m["direction"] == "inbound").filter_map(|m| m["id"].as_i64()).max();
            for m in &messages {
                let id = m["id"].as_i64().unwrap_or(0);
                if m["direction"] == "outbound" && id > seen {
                    seen = id;
                    printed = true;
                    println!("{}> {}", m["author"].as_str().unwrap_or("bot"), m["body"].as_str().unwrap_or(""));
                }
            }
            if conv["owner"] == "human" && !handed_off {
                handed_off = true;
                printed = true;
                println!("(handed to a human: {})", conv["handoff_reason"].as_str().unwrap_or("no reason given"));
            }
            let processed = newest_inbound.is_some_and(|id| {
                conv["traces"].as_array().is_some_and(|t| t.iter().any(|x| x["message_id"].as_i64() == Some(id)))
            });
            if printed || (processed && handed_off) {
                break;
            }
        }
        if !printed {
            println!("(no reply yet)");
        }
    }
}

async fn conversation(client: &reqwest::Client, o: &ChatOptions) -> Result<Option<serde_json::Value>> {
    let base = o.server.trim_end_matches('/');
    let get = |path: String| async move {
        let value: serde_json::Value = client
            .get(format!("{base}{path}"))
            .bearer_auth(&o.api_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(value)
    };
    let list = get("/api/v1/conversations?limit=500".to_string()).await?;
    let Some(id) = list["conversations"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["contact"] == o.from.as_str()))
        .and_then(|c| c["id"].as_i64())
    else {
        return Ok(None);
    };
    Ok(Some(get(format!("/api/v1/conversations/{id}")).await?))
}
