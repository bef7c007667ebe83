//! Providers: how a message leaves. `twilio` speaks Twilio's REST API (its base
//! URL is configurable, so tests run it against a local server with the same
//! wire format); `log` is for development: it records the message and marks it
//! delivered.

use crate::config::ProviderConfig;
use std::time::Duration;

/// One SMS to hand to a provider.
#[derive(Debug, Clone)]
pub struct OutboundSms<'a> {
    /// The tenant's number, or a Messaging Service SID (`MG…`).
    pub from: &'a str,
    /// The recipient (E.164).
    pub to: &'a str,
    /// Text (at most 1,600 characters).
    pub body: &'a str,
    /// The outbox's key for this message; sent as a header so a provider that
    /// honours it can drop a duplicate after a crash between send and record.
    pub idempotency_key: &'a str,
    /// Where the provider should POST status changes.
    pub status_callback: Option<&'a str>,
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's id (`SM…`).
    pub sid: String,
    /// Its initial status (`queued`, `accepted`, … or `delivered` for `log`).
    pub status: String,
}

/// The provider did not take the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Worth retrying (timeouts, 429, 5xx) or not (invalid number and the like).
    pub transient: bool,
    /// The provider's error code (for example `21211`), if it gave one.
    pub code: Option<String>,
    /// What happened.
    pub message: String,
}

/// A configured provider.
#[derive(Debug, Clone)]
pub enum Provider {
    /// Twilio's REST API.
    Twilio {
        /// HTTP client (connection pool).
        client: reqwest::Client,
        /// `AC…`.
        account_sid: String,
        /// API secret.
        auth_token: String,
        /// `https://api.twilio.com` or a local stand-in.
        base_url: String,
    },
    /// Development provider.
    Log,
}

impl Provider {
    /// The provider a tenant's configuration describes.
    pub fn from_config(config: &ProviderConfig) -> Provider {
        match config {
            ProviderConfig::Twilio { account_sid, auth_token, base_url } => Provider::Twilio {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default(),
                account_sid: account_sid.clone(),
                auth_token: auth_token.clone(),
                base_url: base_url.trim_end_matches('/').to_string(),
            },
            ProviderConfig::Log { .. } => Provider::Log,
        }
    }

    /// Its kind, for metrics: `twilio` or `log`.
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::Twilio { .. } => "twilio",
            Provider::Log => "log",
        }
    }

    /// Hand one message to the provider.
    pub async fn send(&self, sms: &OutboundSms<'_>) -> Result<Accepted, SendError> {
        match self {
            Provider::Log => {
                tracing::info!(target: "provider::log", to = sms.to, from = sms.from, key = sms.idempotency_key, "SMS: {}", sms.body);
                let digest = sha2::Sha256::digest(sms.idempotency_key.as_bytes());
                Ok(Accepted { sid: format!("SMlog{}", &hex::encode(digest)[..27]), status: "delivered".into() })
            }
            Provider::Twilio { client, account_sid, auth_token, base_url } => {
                let url = format!("{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json");
                let mut form: Vec<(&str, &str)> = vec![("To", sms.to), ("Body", sms.body)];
                if sms.from.starts_with("MG") {
                    form.push(("MessagingServiceSid", sms.from));
                } else {
                    form.push(("From", sms.from));
                }
                if let Some(cb) = sms.status_callback {
                    form.push(("StatusCallback", cb));
                }
                let response = client
                    .post(&url)
                    .basic_auth(account_sid, Some(auth_token))
                    .header("I-Twilio-Idempotency-Token", sms.idempotency_key)
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| SendError { transient: true, code: None, message: format!("request failed: {e}") })?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                if status.is_success() {
                    let sid = json["sid"].as_str().unwrap_or_default().to_string();
                    if sid.is_empty() {
                        return Err(SendError {
                            transient: true,
                            code: None,
                            message: format!("HTTP {status} without a message sid"),
                        });
                    }
                    let initial = json["status"].as_str().unwrap_or("queued").to_string();
                    return Ok(Accepted { sid, status: initial });
                }
                let code = match &json["code"] {
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    serde_json::Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                let message = json["message"].as_str().map(str::to_string).unwrap_or_else(|| {
                    let mut t = text.clone();
                    t.truncate(200);
                    t
                });
                let transient = status.as_u16() == 429 || status.is_server_error() || code.as_deref() == Some("20429");
                Err(SendError { transient, code, message: format!("HTTP {}: {message}", status.as_u16()) })
            }
        }
    }
}

use sha2::Digest as _;
