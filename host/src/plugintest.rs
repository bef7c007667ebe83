//! `smsdesk plugin test`: run a plugin against a file of conversation cases
//! with expected decisions and say which pass. The first-party plugins keep
//! their cases beside their code (`plugins/*/cases.yaml`) and the test suite
//! runs them through this same harness.
//!
//! ```yaml
//! config: { greeting: "hi" }          # the plugin's configuration (optional)
//! cases:
//!   - name: order status for a known customer
//!     text: "Where is my order?"
//!     from: "+15551234567"            # optional
//!     history: ["customer: hi", "bot: hello!"]   # optional, oldest first
//!     profile: { id: c1, name: Ana, attributes: { last-order-id: "1042" } }  # optional
//!     intents: { order-status: 0.9 }  # a responder's input (optional)
//!     http:                           # canned answers to the plugin's HTTP requests (optional)
//!       - url: "https://crm.example.com/customers?phone=%2B15551234567"  # exact, or a prefix ending in *
//!         method: GET                 # default GET
//!         status: 200                 # default 200
//!         json: { id: c1, name: Ana } # or `body: "text"`
//!     expect:
//!       intent: order-status          # classifier: the top intent …
//!       min_confidence: 0.8           # … at least this sure
//!       no_intent: false              # classifier: nothing found
//!       action: reply                 # responder: reply | reply-and-resolve | handoff | no-action
//!       reply_contains: "1042"
//!       handoff_reason_contains: "person"
//!       priority: high                # handoff priority
//!       team: billing
//!       tags: [order-status]          # tags the decision adds (all of these)
//!       profile_name: Ana             # crm: the profile found (or `found: false`)
//!       found: true
//!       error_contains: "denied"      # any role: the call fails, saying this
//! ```
//!
//! No case reaches the network. A plugin's HTTP request is checked as on a
//! host (the host must be one its manifest asks for, HTTPS unless…) and
//! answered from the case's `http` list; a request nothing answers gets
//! `unavailable`.

use crate::domain::{Author, ConversationContext, CustomerProfile, InboundMessage, Intent, Role, Turn};
use crate::plugins::{CallContext, LoadedPlugin, PluginConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A cases file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesFile {
    /// The plugin's configuration for every case.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it checks.
    pub name: String,
    /// The customer's message.
    #[serde(default)]
    pub text: String,
    /// The customer's number.
    #[serde(default = "default_from")]
    pub from: String,
    /// Earlier turns, `"customer: …"`, `"bot: …"` or `"agent: …"`.
    #[serde(default)]
    pub history: Vec<String>,
    /// The CRM profile the plugin sees.
    #[serde(default)]
    pub profile: Option<ProfileInput>,
    /// The intents a responder gets.
    #[serde(default)]
    pub intents: BTreeMap<String, f32>,
    /// Canned answers to the plugin's HTTP requests.
    #[serde(default)]
    pub http: Vec<CannedHttp>,
    /// What must come out.
    pub expect: Expect,
}

/// A profile in a case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    /// CRM id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Tier.
    #[serde(default)]
    pub tier: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// A canned HTTP answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedHttp {
    /// The method it answers (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// The URL it answers: exact, or a prefix when it ends in `*`.
    pub url: String,
    /// The status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// A JSON body (sets `content-type: application/json`).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A text body.
    #[serde(default)]
    pub body: Option<String>,
}

impl CannedHttp {
    fn answers(&self, r: &crate::broker::Request) -> bool {
        let method = self.method.as_deref().unwrap_or("GET");
        let url = match self.url.strip_suffix('*') {
            Some(prefix) => r.url.starts_with(prefix),
            None => r.url == self.url,
        };
        url && method.eq_ignore_ascii_case(&r.method)
    }

    fn response(&self) -> crate::broker::Response {
        let (body, headers) = match (&self.json, &self.body) {
            (Some(j), _) => (j.to_string().into_bytes(), vec![("content-type".into(), "application/json".into())]),
            (None, Some(b)) => (b.clone().into_bytes(), vec![("content-type".into(), "text/plain".into())]),
            (None, None) => (Vec::new(), Vec::new()),
        };
        crate::broker::Response { status: self.status.unwrap_or(200), headers, body }
    }
}

/// Answer a case's requests from its canned list.
fn fake(canned: Vec<CannedHttp>) -> crate::broker::Fake {
    crate::broker::Fake(std::sync::Arc::new(move |r: &crate::broker::Request| {
        canned
            .iter()
            .find(|c| c.answers(r))
            .map(CannedHttp::response)
            .ok_or_else(|| crate::broker::BrokerError::Failed(format!("no canned answer for {} {}", r.method, r.url)))
    }))
}

/// Expectations; only those given are checked.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Classifier: the top intent.
    pub intent: Option<String>,
    /// Classifier: its confidence at least.
    pub min_confidence: Option<f32>,
    /// Classifier: no intent at all.
    pub no_intent: Option<bool>,
    /// Responder: reply | reply-and-resolve | handoff | no-action.
    pub action: Option<String>,
    /// Responder: the reply contains this.
    pub reply_contains: Option<String>,
    /// Responder: the handoff reason contains this.
    pub handoff_reason_contains: Option<String>,
    /// Responder: handoff priority.
    pub priority: Option<String>,
    /// Responder: handoff team.
    pub team: Option<String>,
    /// Responder: tags added (all of these).
    #[serde(default)]
    pub tags: Vec<String>,
    /// CRM: a profile was found (or not).
    pub found: Option<bool>,
    /// CRM: the profile's name.
    pub profile_name: Option<String>,
    /// Any role: the call fails, and its error says this.
    pub error_contains: Option<String>,
}

fn default_from() -> String {
    "+15551234567".into()
}

/// How one case went.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case.
    pub name: String,
    /// Passed?
    pub passed: bool,
    /// What did not match (empty when passed).
    pub failures: Vec<String>,
    /// What the plugin returned, in short.
    pub got: String,
}

/// Parse a cases file (YAML; errors name the line).
pub fn parse(text: &str) -> Result<CasesFile, String> {
    let file: CasesFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if file.cases.is_empty() {
        return Err("the file has no cases".into());
    }
    Ok(file)
}

/// Run every case against `plugin` in `role`.
pub async fn run(plugin: &LoadedPlugin, role: Role, file: &CasesFile) -> Result<Vec<CaseResult>, String> {
    let config = match &file.config {
        None => PluginConfig::default(),
        Some(v) => PluginConfig::from_json_value(v.clone()).map_err(|e| format!("config: {e}"))?,
    };
    // Granted what the manifest asks for, as a configured binding would be;
    // the network itself is replaced by each case's canned answers.
    let grants: Vec<String> = plugin.manifest().capabilities.iter().map(|c| c.to_string()).collect();
    let http = std::sync::Arc::new(crate::broker::Policy::from_grants(&grants));
    let mut out = Vec::new();
    for case in &file.cases {
        let call = CallContext {
            tenant: "plugin-test".into(),
            config: config.clone(),
            http: http.clone(),
            http_fake: Some(fake(case.http.clone())),
            ..Default::default()
        };
        out.push(run_case(plugin, role, &call, case).await);
    }
    Ok(out)
}

async fn run_case(plugin: &LoadedPlugin, role: Role, call: &CallContext, case: &Case) -> CaseResult {
    let message = InboundMessage {
        id: "test-1".into(),
        tenant: "plugin-test".into(),
        from: case.from.clone(),
        to: "+15550000000".into(),
        body: case.text.clone(),
        received_at: "2026-01-05T15:00:00Z".into(),
        media_urls: Vec::new(),
    };
    let history = case
        .history
        .iter()
        .map(|line| {
            let (who, text) = line.split_once(':').unwrap_or(("customer", line));
            let author = match who.trim() {
                "bot" => Author::Bot,
                "agent" => Author::Agent,
                "system" => Author::System,
                _ => Author::Customer,
            };
            Turn { author, body: text.trim().to_string(), at: "2026-01-05T14:59:00Z".into() }
        })
        .collect();
    let profile = case.profile.as_ref().map(|p| CustomerProfile {
        id: p.id.clone(),
        name: p.name.clone(),
        tier: p.tier.clone(),
        attributes: p.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    });
    let context = ConversationContext { conversation_id: "test".into(), history, profile };
    let e = &case.expect;
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(what);
        }
    };
    // A failed call passes only when the case expects that failure.
    let failed = |check: &mut dyn FnMut(bool, String), err: &crate::plugins::PluginError| {
        match &e.error_contains {
            Some(want) => check(err.to_string().contains(want.as_str()), format!("the error should contain {want:?}")),
            None => check(false, format!("the call failed: {err}")),
        }
        format!("error: {}", err.to_string().chars().take(200).collect::<String>())
    };
    let got = match role {
        Role::Classifier => match plugin.classify(call, &message, &context).await {
            Err(err) => failed(&mut check, &err),
            Ok(intents) => {
                let top = intents.iter().max_by(|a, b| a.confidence.total_cmp(&b.confidence));
                if let Some(want) = &e.intent {
                    check(top.is_some_and(|t| &t.label == want), format!("top intent should be `{want}`"));
                }
                if let Some(min) = e.min_confidence {
                    check(top.is_some_and(|t| t.confidence >= min), format!("top confidence should be at least {min}"));
                }
                if let Some(none) = e.no_intent {
                    check(intents.is_empty() == none, format!("no_intent should be {none}"));
                }
                let shown: Vec<String> = intents.iter().map(|i| format!("{}={:.2}", i.label, i.confidence)).collect();
                if shown.is_empty() { "no intents".into() } else { shown.join(", ") }
            }
        },
        Role::Responder => {
            let intents: Vec<Intent> =
                case.intents.iter().map(|(label, c)| Intent { label: label.clone(), confidence: *c }).collect();
            match plugin.respond(call, &message, &context, &intents).await {
                Err(err) => failed(&mut check, &err),
                Ok(d) => {
                    let action = crate::replay::decision_action(&d);
                    if let Some(want) = &e.action {
                        check(&action.kind == want, format!("action should be `{want}`"));
                    }
                    if let Some(want) = &e.reply_contains {
                        check(
                            d.reply.as_deref().is_some_and(|r| r.contains(want.as_str())),
                            format!("reply should contain {want:?}"),
                        );
                    }
                    if let Some(want) = &e.handoff_reason_contains {
                        check(
                            d.handoff.as_ref().is_some_and(|h| h.reason.contains(want.as_str())),
                            format!("handoff reason should contain {want:?}"),
                        );
                    }
                    if let Some(want) = &e.priority {
                        let p = d.handoff.as_ref().map(|h| crate::tickets::priority_str(h.priority));
                        check(p == Some(want.as_str()), format!("handoff priority should be `{want}`"));
                    }
                    if let Some(want) = &e.team {
                        check(
                            d.handoff.as_ref().and_then(|h| h.team.as_deref()) == Some(want.as_str()),
                            format!("handoff team should be `{want}`"),
                        );
                    }
                    for tag in &e.tags {
                        check(d.add_tags.contains(tag), format!("tags should include `{tag}`"));
                    }
                    match (&d.reply, &d.handoff) {
                        (_, Some(h)) => format!("handoff: {} [{}]", h.reason, crate::tickets::priority_str(h.priority)),
                        (Some(r), None) => format!("{}: {r}", action.kind),
                        (None, None) => "no action".into(),
                    }
                }
            }
        }
        Role::Crm => match plugin.lookup(call, &case.from).await {
            Err(err) => failed(&mut check, &err),
            Ok(profile) => {
                if let Some(want) = e.found {
                    check(profile.is_some() == want, format!("found should be {want}"));
                }
                if let Some(want) = &e.profile_name {
                    check(
                        profile.as_ref().and_then(|p| p.name.as_deref()) == Some(want.as_str()),
                        format!("profile name should be {want:?}"),
                    );
                }
                match profile {
                    Some(p) => format!("profile {} ({})", p.id, p.name.unwrap_or_default()),
                    None => "no profile".into(),
                }
            }
        },
    };
    if let Some(want) = &e.error_contains
        && !got.starts_with("error: ")
    {
        failures.push(format!("the call should have failed with {want:?}"));
    }
    CaseResult { name: case.name.clone(), passed: failures.is_empty(), failures, got }
}

/// The pass/fail table.
pub fn table(results: &[CaseResult]) -> String {
    let width = results.iter().map(|r| r.name.chars().count()).max().unwrap_or(4).clamp(4, 60);
    let mut out = format!("{:<6} {:<width$}  got\n", "result", "case");
    for r in results {
        let got: String = r.got.chars().take(80).collect();
        out.push_str(&format!("{:<6} {:<width$}  {got}\n", if r.passed { "pass" } else { "FAIL" }, r.name));
        for f in &r.failures {
            out.push_str(&format!("{:<6} {:<width$}    - {f}\n", "", ""));
        }
    }
    let passed = results.iter().filter(|r| r.passed).count();
    out.push_str(&format!("{passed} of {} cases passed\n", results.len()));
    out
}
