//! What the host gives a plugin during one call: its configuration, logging,
//! the scoped key-value store, brokered outbound HTTP (contract 0.2.0) and a
//! WASI context that grants nothing. The imports every contract version
//! shares are implemented once and wired to each version's traits by
//! `host_imports!`.

use super::wit::{v1, v2};
use crate::broker;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// A plugin's configuration for one tenant, parsed once and shared by calls.
/// Its `Debug` shows the keys only: values may be secrets.
#[derive(Clone)]
pub struct PluginConfig {
    raw: Arc<str>,
    parsed: Arc<serde_json::Map<String, serde_json::Value>>,
}

impl std::fmt::Debug for PluginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginConfig").field("keys", &self.parsed.keys().collect::<Vec<_>>()).finish()
    }
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig { raw: Arc::from("{}"), parsed: Arc::new(serde_json::Map::new()) }
    }
}

impl PluginConfig {
    /// From a JSON object.
    pub fn from_json_value(value: serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Object(map) => {
                let raw = serde_json::to_string(&map).map_err(|e| e.to_string())?;
                Ok(PluginConfig { raw: Arc::from(raw), parsed: Arc::new(map) })
            }
            other => Err(format!("plugin configuration must be a table/object, not {}", json_kind(&other))),
        }
    }

    /// The configuration with the tenant's secrets for the plugin added as
    /// string values (a secret replaces a plain value of the same name).
    pub fn with_secrets(&self, secrets: &[(String, String)]) -> PluginConfig {
        if secrets.is_empty() {
            return self.clone();
        }
        let mut map = (*self.parsed).clone();
        for (name, value) in secrets {
            map.insert(name.clone(), serde_json::Value::String(value.clone()));
        }
        let raw = serde_json::to_string(&map).unwrap_or_else(|_| "{}".into());
        PluginConfig { raw: Arc::from(raw), parsed: Arc::new(map) }
    }

    /// From TOML or JSON text (JSON if it starts with `{`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_start();
        let value: serde_json::Value = if trimmed.starts_with('{') {
            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?
        } else {
            let table: toml::Table = toml::from_str(text).map_err(|e| format!("invalid TOML: {e}"))?;
            serde_json::to_value(table).map_err(|e| e.to_string())?
        };
        Self::from_json_value(value)
    }

    /// The configuration as a JSON object text.
    pub fn as_json(&self) -> &str {
        &self.raw
    }

    fn get(&self, key: &str) -> Option<String> {
        self.parsed.get(key).map(|v| v.to_string())
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Whose keys these are: one plugin serving one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvScope {
    /// The plugin's identity (`publisher/name`; a shadow candidate's own space has a suffix).
    pub plugin: String,
    /// The tenant.
    pub tenant: String,
}

/// Why a key-value operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvError {
    /// Capability not requested.
    Denied,
    /// Empty or longer than [`KV_MAX_KEY`].
    InvalidKey,
    /// Longer than [`KV_MAX_VALUE`].
    ValueTooLarge,
    /// Over [`KV_QUOTA`] for the scope.
    QuotaExceeded,
    /// The backing store failed.
    Unavailable,
}

/// Longest key in bytes.
pub const KV_MAX_KEY: usize = 256;
/// Largest value in bytes.
pub const KV_MAX_VALUE: usize = 64 << 10;
/// Most bytes (keys + values) per scope.
pub const KV_QUOTA: usize = 1 << 20;
/// The most time per call spent waiting on the key-value store that does
/// not count against the call's deadline.
pub const KV_WAIT_EXCUSED: Duration = Duration::from_secs(1);

/// A boxed future, so stores can be used as trait objects.
pub type KvFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KvError>> + Send + 'a>>;

/// Storage behind the `kv` interface. Implementations enforce the quota; the
/// host checks key and value sizes before calling them.
pub trait KvStore: Send + Sync + 'static {
    /// Read a key.
    fn get<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>>;
    /// Write a key.
    fn set<'a>(&'a self, scope: &'a KvScope, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()>;
    /// Remove a key.
    fn delete<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, ()>;
}

/// An in-process key-value store (the default until a database store is configured).
///
/// Each (plugin, tenant) space has its own lock and keeps its byte count as
/// it changes, so a write costs the same with 8 keys or 8,000 and one busy
/// space never waits on another.
#[derive(Debug, Default)]
pub struct MemoryKv {
    spaces: Mutex<HashMap<KvScope, Arc<Mutex<Space>>>>,
}

/// One scope's keys and the bytes (keys + values) they hold.
#[derive(Debug, Default)]
struct Space {
    entries: HashMap<String, Vec<u8>>,
    used: usize,
}

impl MemoryKv {
    /// A scope's space; with `create`, made if it is missing.
    fn space(&self, scope: &KvScope, create: bool) -> Option<Arc<Mutex<Space>>> {
        let mut spaces = self.spaces.lock().unwrap_or_else(|p| p.into_inner());
        match spaces.get(scope) {
            Some(space) => Some(space.clone()),
            None if create => Some(spaces.entry(scope.clone()).or_default().clone()),
            None => None,
        }
    }
}

fn lock(space: &Mutex<Space>) -> std::sync::MutexGuard<'_, Space> {
    space.lock().unwrap_or_else(|p| p.into_inner())
}

impl KvStore for MemoryKv {
    fn get<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        let value = self.space(scope, false).and_then(|space| lock(&space).entries.get(key).cloned());
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(&'a self, scope: &'a KvScope, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()> {
        let space = self.space(scope, true).expect("created");
        let result = {
            let mut space = lock(&space);
            let old = space.entries.get(key).map_or(0, |v| key.len() + v.len());
            let used = space.used - old + key.len() + value.len();
            if used > KV_QUOTA {
                Err(KvError::QuotaExceeded)
            } else {
                space.used = used;
                space.entries.insert(key.to_string(), value);
                Ok(())
            }
        };
        Box::pin(async move { result })
    }

    fn delete<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, ()> {
        if let Some(space) = self.space(scope, false) {
            let mut space = lock(&space);
            if let Some(v) = space.entries.remove(key) {
                space.used -= key.len() + v.len();
            }
        }
        Box::pin(async { Ok(()) })
    }
}

/// Guest stdout/stderr kept in memory up to a cap; the rest is silently dropped
/// so a chatty plugin can neither fill the host's memory nor trap on output.
#[derive(Clone)]
pub struct CappedOutput {
    buf: Arc<Mutex<Vec<u8>>>,
    cap: usize,
}

impl CappedOutput {
    pub fn new(cap: usize) -> Self {
        CappedOutput { buf: Arc::new(Mutex::new(Vec::new())), cap }
    }

    /// Forget what was written (an instance reused for another call).
    pub fn clear(&self) {
        self.buf.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// What was written, lossily decoded.
    pub fn text(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl tokio::io::AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        let room = self.cap.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
        // Claim the whole write so the guest never sees an error or blocks.
        std::task::Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl wasmtime_wasi::cli::IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Most log records one call may write.
const MAX_LOG_RECORDS: u32 = 100;
/// Longest log message kept, in bytes.
const MAX_LOG_BYTES: usize = 2048;
/// Most outbound HTTP requests one call may make.
pub const MAX_HTTP_REQUESTS: u32 = 8;

/// Memory growth limits of one store, remembering whether the cap was hit.
pub struct MemoryCap {
    pub limit: usize,
    pub exceeded: bool,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The state of one plugin call's `Store`.
pub struct CallState {
    pub plugin: Arc<str>,
    pub tenant: String,
    pub config: PluginConfig,
    pub kv: Arc<dyn KvStore>,
    pub kv_allowed: bool,
    /// What the binding may reach over HTTP (empty: nothing).
    pub http: Arc<broker::Policy>,
    /// A key-value space of the call's own (a shadow candidate's).
    pub kv_space: Option<Arc<str>>,
    /// Whose key-value space it is: the plugin's identity (`publisher/name`),
    /// or its bare name where no publisher is known (command-line runs).
    pub owner: Arc<str>,
    /// Canned HTTP answers instead of the network.
    pub http_fake: Option<broker::Fake>,
    /// When the current call must be finished (brokered requests get what
    /// remains). Time the call waits on the host's key-value store moves it
    /// out (up to [`KV_WAIT_EXCUSED`] per call): the host's database is not
    /// the plugin's to blame.
    pub deadline: Instant,
    /// Key-value waits excused so far in this call.
    pub kv_waited: Duration,
    pub http_requests: u32,
    pub logs_written: u32,
    pub memory: MemoryCap,
    pub stdout: CappedOutput,
    pub stderr: CappedOutput,
    pub wasi: WasiCtx,
    pub table: ResourceTable,
}

impl CallState {
    /// Make a state kept with a warm instance ready for its next call: the
    /// per-call counters and captured output start over.
    pub fn reset_for_call(&mut self, ctx: &super::CallContext, deadline: Instant) {
        self.http = ctx.http.clone();
        self.kv_space = ctx.kv_space.clone();
        self.owner = ctx.identity.clone().unwrap_or_else(|| self.plugin.clone());
        self.http_fake = ctx.http_fake.clone();
        self.deadline = deadline;
        self.kv_waited = Duration::ZERO;
        self.http_requests = 0;
        self.logs_written = 0;
        self.memory.exceeded = false;
        self.stdout.clear();
        self.stderr.clear();
    }

    /// A fresh state granting nothing but clocks and random numbers.
    pub fn new(
        plugin: Arc<str>,
        tenant: String,
        config: PluginConfig,
        kv: Arc<dyn KvStore>,
        kv_allowed: bool,
        memory_limit: usize,
        stdio_bytes: usize,
    ) -> Self {
        let stdout = CappedOutput::new(stdio_bytes);
        let stderr = CappedOutput::new(stdio_bytes);
        // No preopened directories, no environment, no arguments, closed stdin;
        // sockets and name lookups refused. Clocks and randomness stay available.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        CallState {
            owner: plugin.clone(),
            plugin,
            tenant,
            config,
            kv,
            kv_allowed,
            http: Arc::new(broker::Policy::default()),
            kv_space: None,
            http_fake: None,
            deadline: Instant::now(),
            kv_waited: Duration::ZERO,
            http_requests: 0,
            logs_written: 0,
            memory: MemoryCap { limit: memory_limit, exceeded: false },
            stdout,
            stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }

    fn scope(&self) -> KvScope {
        let plugin = match &self.kv_space {
            Some(space) => format!("{}#{space}", self.owner),
            None => self.owner.to_string(),
        };
        KvScope { plugin, tenant: self.tenant.clone() }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl CallState {
    fn write_log(&mut self, level: tracing::Level, mut message: String, fields: Vec<(String, String)>) {
        self.logs_written += 1;
        if self.logs_written > MAX_LOG_RECORDS {
            return;
        }
        if message.len() > MAX_LOG_BYTES {
            let mut cut = MAX_LOG_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        // The plugin's words are fields of a record the host writes, escaped
        // (controls, line breaks, bidi overrides) and redacted: whatever it
        // logs, every line reads as the plugin's, never as the host's.
        let fields: Vec<String> = fields
            .iter()
            .take(16)
            .map(|(k, v)| format!("{}={}", super::limits::plugin_text(k), super::limits::plugin_text(v)))
            .collect();
        let fields = fields.join(" ");
        let text = super::limits::plugin_text(&message);
        let plugin = &*self.plugin;
        let tenant = &self.tenant;
        match level {
            tracing::Level::DEBUG | tracing::Level::TRACE => {
                tracing::debug!(target: "plugin", plugin, tenant, fields, text, "plugin log")
            }
            tracing::Level::INFO => tracing::info!(target: "plugin", plugin, tenant, fields, text, "plugin log"),
            tracing::Level::WARN => tracing::warn!(target: "plugin", plugin, tenant, fields, text, "plugin log"),
            tracing::Level::ERROR => tracing::error!(target: "plugin", plugin, tenant, fields, text, "plugin log"),
        }
    }

    fn check_key(&self, key: &str) -> Result<(), KvError> {
        if !self.kv_allowed {
            return Err(KvError::Denied);
        }
        if key.is_empty() || key.len() > KV_MAX_KEY {
            return Err(KvError::InvalidKey);
        }
        Ok(())
    }

    /// Excuse `waited` (a key-value call's time) from the call's deadline,
    /// up to [`KV_WAIT_EXCUSED`] in all.
    fn excuse(&mut self, waited: Duration) {
        let excused = waited.min(KV_WAIT_EXCUSED.saturating_sub(self.kv_waited));
        self.kv_waited += excused;
        self.deadline += excused;
    }

    async fn kv_get(&mut self, key: String) -> Result<Option<Vec<u8>>, KvError> {
        self.check_key(&key)?;
        let scope = self.scope();
        let started = Instant::now();
        let result = self.kv.get(&scope, &key).await;
        self.excuse(started.elapsed());
        result
    }

    async fn kv_set(&mut self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.check_key(&key)?;
        if value.len() > KV_MAX_VALUE {
            return Err(KvError::ValueTooLarge);
        }
        let scope = self.scope();
        let started = Instant::now();
        let result = self.kv.set(&scope, &key, value).await;
        self.excuse(started.elapsed());
        result
    }

    async fn kv_delete(&mut self, key: String) -> Result<(), KvError> {
        self.check_key(&key)?;
        let scope = self.scope();
        let started = Instant::now();
        let result = self.kv.delete(&scope, &key).await;
        self.excuse(started.elapsed());
        result
    }

    /// A brokered request: checked against the binding's policy, bounded by
    /// the call's deadline and by [`MAX_HTTP_REQUESTS`] per call.
    async fn http_send(&mut self, request: broker::Request) -> Result<broker::Response, broker::BrokerError> {
        self.http_requests += 1;
        if self.http_requests > MAX_HTTP_REQUESTS {
            return Err(broker::BrokerError::BadRequest(format!("at most {MAX_HTTP_REQUESTS} HTTP requests per call")));
        }
        let started = Instant::now();
        let result = match &self.http_fake {
            Some(fake) => broker::check_target(&self.http, &request.url).and_then(|()| (fake.0)(&request)),
            None => broker::fetch(&self.http, &request, self.deadline).await,
        };
        let outcome = match &result {
            Ok(r) => format!("{}xx", r.status / 100),
            Err(e) => e.kind().to_string(),
        };
        crate::metrics::count(
            "smsdesk_plugin_http_requests_total",
            &[("tenant", &self.tenant), ("plugin", &self.plugin), ("outcome", &outcome)],
            1,
        );
        match &result {
            Ok(r) => tracing::debug!(target: "plugin", plugin = %self.plugin, tenant = %self.tenant, status = r.status,
                elapsed_ms = started.elapsed().as_millis() as u64, "brokered HTTP request"),
            Err(e) => tracing::info!(target: "plugin", plugin = %self.plugin, tenant = %self.tenant, error = %e,
                "brokered HTTP request refused or failed"),
        }
        result
    }
}

/// Implement the imports every contract version shares for one version's
/// generated traits, delegating to the methods above.
macro_rules! host_imports {
    ($v:ident) => {
        impl $v::types::Host for CallState {}

        impl $v::logging::Host for CallState {
            async fn log(&mut self, level: $v::logging::Level, message: String, fields: Vec<(String, String)>) {
                let level = match level {
                    $v::logging::Level::Debug => tracing::Level::DEBUG,
                    $v::logging::Level::Info => tracing::Level::INFO,
                    $v::logging::Level::Warn => tracing::Level::WARN,
                    $v::logging::Level::Error => tracing::Level::ERROR,
                };
                self.write_log(level, message, fields);
            }
        }

        impl $v::config::Host for CallState {
            async fn document(&mut self) -> String {
                self.config.as_json().to_string()
            }

            async fn get(&mut self, key: String) -> Option<String> {
                self.config.get(&key)
            }
        }

        impl $v::kv::Host for CallState {
            async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, $v::kv::KvError> {
                self.kv_get(key).await.map_err(Into::into)
            }

            async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), $v::kv::KvError> {
                self.kv_set(key, value).await.map_err(Into::into)
            }

            async fn delete(&mut self, key: String) -> Result<(), $v::kv::KvError> {
                self.kv_delete(key).await.map_err(Into::into)
            }
        }

        impl From<KvError> for $v::kv::KvError {
            fn from(e: KvError) -> Self {
                match e {
                    KvError::Denied => $v::kv::KvError::Denied,
                    KvError::InvalidKey => $v::kv::KvError::InvalidKey,
                    KvError::ValueTooLarge => $v::kv::KvError::ValueTooLarge,
                    KvError::QuotaExceeded => $v::kv::KvError::QuotaExceeded,
                    KvError::Unavailable => $v::kv::KvError::Unavailable,
                }
            }
        }
    };
}

host_imports!(v1);
host_imports!(v2);

impl v2::http::Host for CallState {
    async fn send(&mut self, request: v2::http::Request) -> Result<v2::http::Response, v2::http::HttpError> {
        use v2::http::{HttpError, Method};
        let method = match request.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        };
        let request =
            broker::Request { method: method.into(), url: request.url, headers: request.headers, body: request.body };
        match self.http_send(request).await {
            Ok(r) => Ok(v2::http::Response { status: r.status, headers: r.headers, body: r.body }),
            Err(e) => Err(match e {
                broker::BrokerError::NotGranted(_)
                | broker::BrokerError::Insecure(_)
                | broker::BrokerError::PrivateAddress(..) => HttpError::Denied(e.to_string()),
                broker::BrokerError::BadRequest(_) => HttpError::InvalidRequest(e.to_string()),
                broker::BrokerError::TooLarge(..) => HttpError::TooLarge(e.to_string()),
                broker::BrokerError::Timeout => HttpError::Timeout,
                broker::BrokerError::Dns(_)
                | broker::BrokerError::TooManyRedirects
                | broker::BrokerError::Failed(_) => HttpError::Unavailable(e.to_string()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_toml_and_json() {
        let c = PluginConfig::parse("min_confidence = 0.5\n[intents]\nwarranty = [\"covered\"]\n").unwrap();
        assert_eq!(c.get("min_confidence").as_deref(), Some("0.5"));
        assert_eq!(c.get("intents").as_deref(), Some(r#"{"warranty":["covered"]}"#));
        assert_eq!(c.get("missing"), None);
        let j = PluginConfig::parse(r#"{"a": "b"}"#).unwrap();
        assert_eq!(j.get("a").as_deref(), Some("\"b\""));
        assert!(PluginConfig::parse("[1, 2]").is_err());
        assert!(PluginConfig::parse("= nope").unwrap_err().contains("invalid TOML"));
    }

    #[tokio::test]
    async fn memory_kv_enforces_the_quota_per_scope() {
        let kv = MemoryKv::default();
        let a = KvScope { plugin: "p".into(), tenant: "a".into() };
        let b = KvScope { plugin: "p".into(), tenant: "b".into() };
        for i in 0..15 {
            kv.set(&a, &format!("k{i}"), vec![0; KV_MAX_VALUE]).await.unwrap();
        }
        assert_eq!(kv.set(&a, "k99", vec![0; KV_MAX_VALUE]).await, Err(KvError::QuotaExceeded));
        // Replacing a key does not count its old value twice.
        kv.set(&a, "k0", vec![1; KV_MAX_VALUE]).await.unwrap();
        // Another tenant's scope is separate.
        kv.set(&b, "k0", vec![2; 3]).await.unwrap();
        assert_eq!(kv.get(&b, "k0").await.unwrap(), Some(vec![2; 3]));
        assert_eq!(kv.get(&a, "k0").await.unwrap().unwrap()[0], 1);
        kv.delete(&a, "k0").await.unwrap();
        assert_eq!(kv.get(&a, "k0").await.unwrap(), None);
        // The space's byte count follows deletes and replacements: the room a
        // delete frees can be used again, and a smaller value frees the rest.
        kv.set(&a, "k98", vec![0; KV_MAX_VALUE]).await.unwrap();
        assert_eq!(kv.set(&a, "k99", vec![0; KV_MAX_VALUE]).await, Err(KvError::QuotaExceeded));
        kv.set(&a, "k1", vec![0; 1]).await.unwrap();
        kv.set(&a, "k99", vec![0; KV_MAX_VALUE]).await.unwrap();
        for i in 0..100 {
            kv.delete(&a, &format!("k{i}")).await.unwrap();
        }
        for i in 0..15 {
            kv.set(&a, &format!("again{i}"), vec![0; KV_MAX_VALUE]).await.unwrap();
        }
    }
}
