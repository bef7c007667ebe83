//! Write [smsdesk](https://example.invalid/smsdesk) plugins in Rust.
//!
//! A plugin is a WebAssembly component that the smsdesk host calls for one or
//! more **roles**:
//!
//! | role | trait | the host asks | the plugin answers |
//! |---|---|---|---|
//! | classifier | [`Classifier`] | an inbound text and its conversation | intents with confidence |
//! | crm | [`Crm`] | a phone number and tenant | a customer profile, or none |
//! | responder | [`Responder`] | the text, conversation, profile and intents | a [`Decision`] |
//!
//! Implement [`Plugin`] (name and version) and the trait of each role, then
//! call [`export!`] once, naming the roles. Build with
//! `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component to hand to the host.
//!
//! Plugins decide; the host acts. A plugin never sends a message itself: it
//! returns a decision, and the host applies consent rules, sends through its
//! outbox and records what happened. Failures are returned as [`PluginError`]
//! values; a panic works too (the host contains it) but reads worse in traces.
//!
//! # Example
//!
//! ```
//! use smsdesk_sdk::{
//!     Classifier, ConversationContext, Decision, InboundMessage, Intent, Plugin, PluginError,
//!     Priority, Responder,
//! };
//!
//! struct Greeter;
//!
//! impl Plugin for Greeter {
//!     const NAME: &'static str = "greeter";
//!     const VERSION: &'static str = "0.1.0";
//!     const DESCRIPTION: &'static str = "Says hello and hands billing to a human";
//! }
//!
//! impl Classifier for Greeter {
//!     fn classify(message: &InboundMessage, _context: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
//!         let text = message.body.to_lowercase();
//!         let mut intents = Vec::new();
//!         if text.contains("hello") || text.contains("hi ") {
//!             intents.push(Intent::new("greeting", 0.9));
//!         }
//!         if text.contains("charge") || text.contains("invoice") {
//!             intents.push(Intent::new("billing", 0.8));
//!         }
//!         Ok(intents)
//!     }
//! }
//!
//! impl Responder for Greeter {
//!     fn respond(
//!         _message: &InboundMessage,
//!         context: &ConversationContext,
//!         intents: &[Intent],
//!     ) -> Result<Decision, PluginError> {
//!         let name = context.profile.as_ref().and_then(|p| p.name.clone());
//!         Ok(match intents.first().map(|i| i.label.as_str()) {
//!             Some("greeting") => Decision::reply(format!(
//!                 "Hello {}! How can we help?",
//!                 name.as_deref().unwrap_or("there")
//!             )),
//!             Some("billing") => Decision::handoff("Billing question", Priority::High).team("billing"),
//!             _ => Decision::no_action(),
//!         })
//!     }
//! }
//!
//! // In the plugin crate (crate-type = ["cdylib"]), once:
//! // smsdesk_sdk::export!(Greeter: classifier, responder);
//! # let msg = InboundMessage {
//! #     id: "m1".into(), tenant: "t".into(), from: "+15550001111".into(), to: "+15550002222".into(),
//! #     body: "hello there".into(), received_at: "2026-01-01T00:00:00Z".into(), media_urls: vec![],
//! # };
//! # let ctx = ConversationContext { conversation_id: "c1".into(), history: vec![], profile: None };
//! # let intents = Greeter::classify(&msg, &ctx).unwrap();
//! # assert_eq!(intents[0].label, "greeting");
//! # assert_eq!(Greeter::respond(&msg, &ctx, &intents).unwrap().reply.as_deref(), Some("Hello there! How can we help?"));
//! ```
//!
//! # Host services
//!
//! - [`log`]: structured logging into the host's log.
//! - [`config`]: this plugin's configuration for the tenant being served.
//! - [`kv`]: a small key-value store scoped to (plugin, tenant); ask for
//!   [`Capability::KeyValue`] in [`Plugin::capabilities`].
//! - [`http`]: outbound HTTP brokered by the host, to the hosts named in
//!   [`Capability::OutboundHttp`] and granted by an admin. Credentials the
//!   admin attached to a host are added by the host: plugin code never holds them.
//!
//! # Limits the host enforces
//!
//! Each call runs in a fresh sandbox with a deadline (about 100 ms for
//! classify/respond, 2 s for CRM lookups by default) and a memory cap (32 MiB
//! by default). Outputs are checked: at most 32 intents with labels of at most
//! 64 characters and confidence in 0.0..=1.0; replies of at most 1,600
//! characters; at most 16 tags. There is no filesystem, no environment and no
//! network except [`http`]: read what you need from [`config`].

#![warn(missing_docs)]

/// The WIT contract version this SDK targets.
pub const WIT_VERSION: &str = "0.2.0";

#[doc(hidden)]
pub mod __private {
    //! Used by the code [`crate::export!`] generates. Not a public API.
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
    pub use wit_bindgen;

    extern crate alloc;

    /// Shared bindings: types and host imports (`imports` world).
    pub mod bindings {
        wit_bindgen::generate!({
            world: "imports",
            path: "../wit/v0.2.0",
            generate_unused_types: true,
            additional_derives: [PartialEq],
            with: {
                "smsdesk:plugin/types@0.2.0": generate,
                "smsdesk:plugin/logging@0.2.0": generate,
                "smsdesk:plugin/config@0.2.0": generate,
                "smsdesk:plugin/kv@0.2.0": generate,
                "smsdesk:plugin/http@0.2.0": generate,
            },
        });
    }

    use crate::{Classifier, Crm, Plugin, Responder};
    use crate::{
        ConversationContext, CustomerProfile, Decision, InboundMessage, Intent, PluginError, PluginInfo, Role,
    };

    pub fn manifest<P: Plugin>(roles: &[Role]) -> PluginInfo {
        PluginInfo {
            name: P::NAME.into(),
            version: P::VERSION.into(),
            description: P::DESCRIPTION.into(),
            roles: roles.to_vec(),
            capabilities: P::capabilities(),
        }
    }

    pub fn classify<P: Classifier>(
        message: InboundMessage,
        context: ConversationContext,
    ) -> Result<Vec<Intent>, PluginError> {
        P::classify(&message, &context)
    }

    pub fn lookup<P: Crm>(phone: String, tenant: String) -> Result<Option<CustomerProfile>, PluginError> {
        P::lookup(&phone, &tenant)
    }

    pub fn respond<P: Responder>(
        message: InboundMessage,
        context: ConversationContext,
        intents: Vec<Intent>,
    ) -> Result<Decision, PluginError> {
        P::respond(&message, &context, &intents)
    }
}

pub use __private::bindings::smsdesk::plugin::types::{
    Author, Capability, ConversationContext, CustomerProfile, Decision, ErrorKind, Handoff, InboundMessage, Intent,
    PluginError, PluginInfo, Priority, Role, Turn,
};

/// Export a plugin type as a WebAssembly component, naming its roles.
///
/// ```text
/// smsdesk_sdk::export!(MyPlugin: classifier);
/// smsdesk_sdk::export!(MyPlugin: crm, responder);
/// ```
///
/// `MyPlugin` must implement [`Plugin`] and the trait of every listed role.
/// The component exports exactly those roles (and the manifest), which is how
/// the host learns what the plugin does. Call it once per crate.
pub use smsdesk_sdk_macros::export;

/// Name, version and capabilities of a plugin. Every plugin implements it.
pub trait Plugin {
    /// Short kebab-case name, unique on a host (for example `keyword-intents`).
    const NAME: &'static str;
    /// Semantic version of this build of the plugin.
    const VERSION: &'static str;
    /// One line about what the plugin does.
    const DESCRIPTION: &'static str = "";

    /// Capabilities the plugin asks the host for. Nothing else is granted.
    fn capabilities() -> Vec<Capability> {
        Vec::new()
    }
}

/// The `classifier` role: label inbound messages with intents.
pub trait Classifier: Plugin {
    /// Intents found in `message`, most likely first. The default finds none.
    fn classify(message: &InboundMessage, context: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let _ = (message, context);
        Ok(Vec::new())
    }
}

/// The `crm` role: look customers up by phone number.
pub trait Crm: Plugin {
    /// The profile of the customer texting from `phone` (E.164) to `tenant`.
    /// The default knows nobody.
    fn lookup(phone: &str, tenant: &str) -> Result<Option<CustomerProfile>, PluginError> {
        let _ = (phone, tenant);
        Ok(None)
    }
}

/// The `responder` role: decide what happens with an inbound message.
pub trait Responder: Plugin {
    /// What the host should do. The default does nothing.
    fn respond(
        message: &InboundMessage,
        context: &ConversationContext,
        intents: &[Intent],
    ) -> Result<Decision, PluginError> {
        let _ = (message, context, intents);
        Ok(Decision::no_action())
    }
}

impl Intent {
    /// An intent with `label` and `confidence` (clamped to 0.0..=1.0).
    pub fn new(label: impl Into<String>, confidence: f32) -> Self {
        let confidence = if confidence.is_nan() { 0.0 } else { confidence.clamp(0.0, 1.0) };
        Intent { label: label.into(), confidence }
    }
}

impl Decision {
    /// Do nothing: no reply, no handoff, no tags.
    pub fn no_action() -> Self {
        Decision { reply: None, handoff: None, add_tags: Vec::new(), resolve: false }
    }

    /// Reply to the customer with `text`.
    ///
    /// The host refuses (as invalid output, and hands the conversation to a
    /// person) a reply over 1,600 UTF-16 units — what the provider counts:
    /// an emoji is two — or over 10 segments (153 GSM-7 characters or 67
    /// UCS-2 units each), or with a control character other than newline or
    /// a bidi override. Card numbers, SSNs and passwords in it are masked
    /// before it is stored or sent: send a link instead.
    pub fn reply(text: impl Into<String>) -> Self {
        Decision { reply: Some(text.into()), ..Decision::no_action() }
    }

    /// Hand the conversation to a human with `reason` and `priority`.
    pub fn handoff(reason: impl Into<String>, priority: Priority) -> Self {
        Decision { handoff: Some(Handoff { reason: reason.into(), priority, team: None }), ..Decision::no_action() }
    }

    /// Route a handoff to `team` (no effect without a handoff).
    pub fn team(mut self, team: impl Into<String>) -> Self {
        if let Some(handoff) = self.handoff.as_mut() {
            handoff.team = Some(team.into());
        }
        self
    }

    /// Also send `text` to the customer (for example "A teammate will text you shortly").
    pub fn with_reply(mut self, text: impl Into<String>) -> Self {
        self.reply = Some(text.into());
        self
    }

    /// Add tags to the conversation.
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.add_tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Mark the conversation resolved once the reply is queued.
    pub fn resolved(mut self) -> Self {
        self.resolve = true;
        self
    }
}

impl PluginError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError { kind, message: message.into() }
    }

    /// The plugin's configuration is missing or wrong.
    pub fn bad_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadConfig, message)
    }

    /// Anything else went wrong.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// A system the plugin depends on is unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// The input made no sense to the plugin.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
}

impl CustomerProfile {
    /// The value of attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Structured logging into the host's log.
pub mod log {
    use crate::__private::bindings::smsdesk::plugin::logging;
    pub use logging::Level;

    /// Log `message` at `level` with key/value `fields`.
    pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        logging::log(level, message, &fields);
    }

    /// Log at debug level.
    pub fn debug(message: &str) {
        log(Level::Debug, message, &[]);
    }

    /// Log at info level.
    pub fn info(message: &str) {
        log(Level::Info, message, &[]);
    }

    /// Log at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message, &[]);
    }

    /// Log at error level.
    pub fn error(message: &str) {
        log(Level::Error, message, &[]);
    }
}

/// This plugin's configuration for the tenant the call is made for.
pub mod config {
    use crate::__private::bindings::smsdesk::plugin::config as host;
    use crate::PluginError;
    use serde::de::DeserializeOwned;

    /// The whole configuration, deserialized into `T`.
    pub fn document<T: DeserializeOwned>() -> Result<T, PluginError> {
        let raw = host::document();
        serde_json::from_str(&raw).map_err(|e| PluginError::bad_config(format!("configuration: {e}")))
    }

    /// Top-level `key` deserialized into `T`, or `None` when it is not set.
    pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, PluginError> {
        match host::get(key) {
            None => Ok(None),
            Some(raw) => serde_json::from_str(&raw)
                .map(Some)
                .map_err(|e| PluginError::bad_config(format!("configuration key `{key}`: {e}"))),
        }
    }

    /// The whole configuration as JSON text (`{}` when none is set).
    pub fn raw() -> String {
        host::document()
    }
}

/// A small key-value store scoped to (this plugin, the current tenant).
///
/// Ask for [`crate::Capability::KeyValue`] in [`crate::Plugin::capabilities`];
/// without it every call fails with [`KvError::Denied`].
pub mod kv {
    use crate::__private::bindings::smsdesk::plugin::kv as host;
    pub use host::KvError;

    /// The value under `key`, if any.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, KvError> {
        host::get(key)
    }

    /// Store `value` under `key`.
    pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
        host::set(key, value)
    }

    /// Remove `key`.
    pub fn delete(key: &str) -> Result<(), KvError> {
        host::delete(key)
    }
}

/// Outbound HTTP, brokered by the host.
///
/// Ask for [`crate::Capability::OutboundHttp`] naming each host in
/// [`crate::Plugin::capabilities`]; an admin grants it per tenant. The host
/// allows HTTPS to granted hosts with public addresses only, follows
/// redirects itself (checking each hop), limits bodies (64 KiB out, 1 MiB
/// back) and gives the request what remains of the call's deadline. A refusal
/// is an [`HttpError`], never a trap; `?` turns it into a [`crate::PluginError`]
/// (`denied` or `unavailable`).
///
/// ```no_run
/// use smsdesk_sdk::http;
/// # fn f() -> Result<(), smsdesk_sdk::PluginError> {
/// let response = http::Request::get("https://crm.example.com/customers?phone=%2B15550001111")
///     .header("accept", "application/json")
///     .send()?;
/// if response.status == 200 {
///     let customer: serde_json::Value = response.json()?;
/// }
/// # Ok(()) }
/// ```
pub mod http {
    use crate::__private::bindings::smsdesk::plugin::http as host;
    use crate::{ErrorKind, PluginError};
    pub use host::{HttpError, Method, Response};

    /// A request being built.
    #[derive(Debug, Clone)]
    pub struct Request(host::Request);

    impl Request {
        /// A request with `method` to `url`.
        pub fn new(method: Method, url: impl Into<String>) -> Self {
            Request(host::Request { method, url: url.into(), headers: Vec::new(), body: Vec::new() })
        }

        /// A `GET` of `url`.
        pub fn get(url: impl Into<String>) -> Self {
            Self::new(Method::Get, url)
        }

        /// A `POST` to `url`.
        pub fn post(url: impl Into<String>) -> Self {
            Self::new(Method::Post, url)
        }

        /// Add a header.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.0.headers.push((name.into(), value.into()));
            self
        }

        /// Set the body.
        pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
            self.0.body = body.into();
            self
        }

        /// Set a JSON body and its content type.
        pub fn json<T: serde::Serialize>(self, value: &T) -> Result<Self, PluginError> {
            let body = serde_json::to_vec(value).map_err(|e| PluginError::internal(format!("encoding JSON: {e}")))?;
            Ok(self.header("content-type", "application/json").body(body))
        }

        /// Send it through the host and wait for the answer.
        pub fn send(self) -> Result<Response, HttpError> {
            send(&self.0)
        }
    }

    /// Send a request through the host.
    pub fn send(request: &host::Request) -> Result<Response, HttpError> {
        host::send(request)
    }

    impl Response {
        /// The body as UTF-8 text (lossy).
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }

        /// The body parsed as JSON.
        pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, PluginError> {
            serde_json::from_slice(&self.body)
                .map_err(|e| PluginError::unavailable(format!("response is not the expected JSON: {e}")))
        }

        /// The first header called `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    impl HttpError {
        /// What went wrong, in words (`denied: host `x` is not granted`).
        pub fn describe(&self) -> String {
            match self {
                HttpError::Denied(why) => format!("denied: {why}"),
                HttpError::InvalidRequest(why) => format!("invalid request: {why}"),
                HttpError::TooLarge(why) => format!("too large: {why}"),
                HttpError::Timeout => "timed out".into(),
                HttpError::Unavailable(why) => format!("unavailable: {why}"),
            }
        }
    }

    impl From<HttpError> for PluginError {
        fn from(e: HttpError) -> Self {
            let kind = match &e {
                HttpError::Denied(_) => ErrorKind::Denied,
                HttpError::InvalidRequest(_) | HttpError::TooLarge(_) => ErrorKind::Internal,
                HttpError::Timeout | HttpError::Unavailable(_) => ErrorKind::Unavailable,
            };
            PluginError::new(kind, format!("HTTP {}", e.describe()))
        }
    }
}
