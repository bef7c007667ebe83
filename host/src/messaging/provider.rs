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
    /// The outbox's key for this message. Sent as `I-Twilio-Idempotency-Token`
    /// for correlation only: Twilio documents that header on the webhooks it
    /// sends, not as a way to deduplicate REST sends, so nothing relies on it.
    /// Duplicates after a crash are prevented by the outbox's attempt record
    /// and [`Provider::find`].
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
    /// The provider may have taken the message all the same (the request went
    /// out but no answer came back, or a gateway error): it must be asked
    /// before the message is sent again.
    pub in_doubt: bool,
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
                    .map_err(|e| SendError {
                        transient: true,
                        // Refused before it was sent: certainly not taken.
                        in_doubt: !e.is_connect(),
                        code: None,
                        message: format!("request failed: {e}"),
                    })?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
                if status.is_success() {
                    let sid = json["sid"].as_str().unwrap_or_default().to_string();
                    if sid.is_empty() {
                        return Err(SendError {
                            transient: true,
                            in_doubt: true,
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
                // 429 and 503 are refusals; other server errors (500, 502,
                // 504) may come after the message was created.
                let in_doubt = status.is_server_error() && status.as_u16() != 503;
                Err(SendError { transient, in_doubt, code, message: format!("HTTP {}: {message}", status.as_u16()) })
            }
        }
    }
}

/// How far before an attempt's start a provider's creation time may lie and
/// still be that attempt (clock skew between us and the provider).
const CLOCK_SKEW_MS: i64 = 120_000;
/// Pages of the provider's message list read while settling one send.
const LOOKUP_PAGES: usize = 4;

impl Provider {
    /// Messages the provider has that match `sms` (same recipient, sender and
    /// text) created since `since_ms`, oldest first: what settles a send in
    /// doubt. Twilio: `GET …/Messages.json?To=…&From=…` (newest first, paged;
    /// through a Messaging Service, by `To` and the message's service).
    /// `DateSent` is deliberately not used as a filter: a message still queued
    /// at Twilio has no send date, and hiding it would turn a doubt into a
    /// duplicate. The `log` provider keeps nothing and finds nothing.
    pub async fn find(&self, sms: &OutboundSms<'_>, since_ms: i64) -> Result<Vec<Accepted>, SendError> {
        let Provider::Twilio { client, account_sid, auth_token, base_url } = self else {
            return Ok(Vec::new());
        };
        let failed = |message: String| SendError { transient: true, in_doubt: true, code: None, message };
        let service = sms.from.starts_with("MG");
        let mut query: Vec<(&str, &str)> = vec![("To", sms.to), ("PageSize", "50")];
        if !service {
            query.push(("From", sms.from));
        }
        let earliest = since_ms - CLOCK_SKEW_MS;
        let mut found = Vec::new();
        let first = reqwest::Url::parse_with_params(
            &format!("{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            &query,
        )
        .map_err(|e| failed(format!("listing messages: bad URL: {e}")))?;
        let mut next = Some(first.to_string());
        for _ in 0..LOOKUP_PAGES {
            let Some(url) = next.take() else { break };
            let request = client.get(&url).basic_auth(account_sid, Some(auth_token));
            let response = request.send().await.map_err(|e| failed(format!("listing messages failed: {e}")))?;
            let status = response.status();
            let text = response.text().await.map_err(|e| failed(format!("listing messages failed: {e}")))?;
            if !status.is_success() {
                let mut t = text;
                t.truncate(200);
                return Err(failed(format!("listing messages: HTTP {}: {t}", status.as_u16())));
            }
            let page: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| failed(format!("listing messages: not JSON: {e}")))?;
            let Some(messages) = page["messages"].as_array() else {
                return Err(failed("listing messages: no `messages` list in the answer".into()));
            };
            let mut older_seen = false;
            for m in messages {
                let created = m["date_created"].as_str().and_then(|d| jiff::fmt::rfc2822::parse(d).ok());
                let created_ms = created.map(|z| z.timestamp().as_millisecond());
                if created_ms.is_some_and(|c| c < earliest) {
                    older_seen = true;
                    continue;
                }
                let outbound = m["direction"].as_str().is_none_or(|d| d.starts_with("outbound"));
                let same_sender = if service {
                    m["messaging_service_sid"].as_str() == Some(sms.from)
                } else {
                    m["from"].as_str() == Some(sms.from)
                };
                if outbound
                    && same_sender
                    && m["to"].as_str() == Some(sms.to)
                    && m["body"].as_str() == Some(sms.body)
                    && let Some(sid) = m["sid"].as_str().filter(|s| !s.is_empty())
                {
                    let status = m["status"].as_str().unwrap_or("queued").to_string();
                    found.push((created_ms.unwrap_or(i64::MAX), Accepted { sid: sid.to_string(), status }));
                }
            }
            if older_seen {
                break;
            }
            next = page["next_page_uri"].as_str().filter(|u| u.starts_with('/')).map(|u| format!("{base_url}{u}"));
        }
        found.sort_by_key(|(created, _)| *created);
        Ok(found.into_iter().map(|(_, a)| a).collect())
    }
}

use sha2::Digest as _;
