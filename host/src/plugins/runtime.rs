//! The engine, the linker, loading components and calling their roles.

use super::cache::{ArtifactCache, CacheOutcome};
use super::compile::CompileLimits;
use super::error::{FailureKind, PluginError, truncate_chars};
use super::host::{CallState, KvStore, MemoryKv, PluginConfig};
use super::limits::{self, Limits};
use super::wit::{self as bindings, v1, v2};
use crate::domain::{
    Capability, ConversationContext, CustomerProfile, Decision, InboundMessage, Intent, Manifest, Role,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

/// A component's exports under the contract version it targets.
enum Exports {
    V1(v1::Exports),
    V2(v2::Exports),
}

impl Exports {
    fn version(&self) -> &'static str {
        match self {
            Exports::V1(_) => v1::WIT_VERSION,
            Exports::V2(_) => v2::WIT_VERSION,
        }
    }
}

/// Run `$body` with `$b` naming the bindings module of the component's
/// contract version and `$x` its export indices: the same code, per version.
macro_rules! per_version {
    ($exports:expr, $b:ident, $x:ident => $body:expr) => {
        match $exports {
            Exports::V1($x) => {
                #[allow(unused_imports)]
                use super::wit::v1 as $b;
                $body
            }
            Exports::V2($x) => {
                #[allow(unused_imports)]
                use super::wit::v2 as $b;
                $body
            }
        }
    };
}

/// Check out a store (warm or fresh), load the role's guest from `$idx` and
/// run `$call` with `$guest` and `$store` bound, under the call's deadline.
/// Yields (store, instance used, calls it served, raw outcome).
macro_rules! run_role {
    ($self:ident, $role:expr, $ctx:expr, $deadline:expr, $idx:expr, |$guest:ident, $store:ident| $call:expr) => {{
        let (mut $store, warm, calls) = $self.checkout($ctx, $deadline);
        let mut used = None;
        let raw = {
            let run = async {
                let instance = match warm {
                    Some(instance) => instance,
                    None => $self.instantiate(Some($role), &mut $store).await?,
                };
                used = Some(instance);
                let $guest = $idx
                    .load(&mut $store, &instance)
                    .map_err(|e| $self.err(Some($role), FailureKind::InvalidComponent, root_cause(&e)))?;
                Ok($call.await)
            };
            flatten(tokio::time::timeout($deadline + DEADLINE_GRACE + super::host::KV_WAIT_EXCUSED, run).await)
        };
        ($store, used, calls, raw)
    }};
}

/// How the runtime is set up. The defaults fit one host process.
#[derive(Clone)]
pub struct RuntimeConfig {
    /// Where precompiled components are kept (`None`: compile every load).
    pub cache_dir: Option<PathBuf>,
    /// Instances that may be alive at once (the pooling allocator's slots).
    pub max_instances: u32,
    /// Ceiling for any plugin's memory cap, in bytes (the pool's slot size).
    pub max_memory_bytes: usize,
    /// Granularity of deadlines.
    pub epoch_tick: Duration,
    /// Storage behind the plugins' key-value interface.
    pub kv: Arc<dyn KvStore>,
    /// What a component may make the host compile, and where compiling happens.
    pub compile: CompileLimits,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache_dir: None,
            max_instances: 256,
            max_memory_bytes: 256 << 20,
            epoch_tick: Duration::from_millis(1),
            kv: Arc::new(MemoryKv::default()),
            compile: CompileLimits::default(),
        }
    }
}

/// Who a call is made for: the tenant, the plugin's configuration for it and
/// what the binding may reach over brokered HTTP.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The tenant.
    pub tenant: String,
    /// The plugin's configuration for this tenant.
    pub config: PluginConfig,
    /// Hosts the binding was granted, with the secret headers to inject
    /// (the default grants nothing).
    pub http: Arc<crate::broker::Policy>,
    /// A key-value space of its own instead of the (plugin, tenant) one: a
    /// shadow candidate's, so it can never change what the active version reads.
    pub kv_space: Option<Arc<str>>,
    /// The plugin's identity, `publisher/name`, whose key-value space the
    /// call uses (`None`: the bare manifest name, for command-line runs).
    pub identity: Option<Arc<str>>,
    /// Canned HTTP answers instead of the network (`smsdesk plugin test`).
    pub http_fake: Option<crate::broker::Fake>,
}

/// Facts about a loaded component, for `plugin inspect` and admins.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentInfo {
    /// The contract version the component targets (from its export names).
    pub wit_version: Option<String>,
    /// Roles found from the exports.
    pub roles: Vec<Role>,
    /// Every import, by name.
    pub imports: Vec<String>,
    /// Every export, by name.
    pub exports: Vec<String>,
    /// Component size in bytes.
    pub size: usize,
    /// SHA-256 of the component bytes.
    pub sha256: String,
    /// The publisher key whose valid signature it carries (`ed25519:…`), if signed.
    pub publisher_key: Option<String>,
    /// Whether it came from the precompiled cache.
    #[serde(skip)]
    pub cache: CacheOutcome,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: ArtifactCache,
    compile: CompileLimits,
    kv: Arc<dyn KvStore>,
    tick: Duration,
    stop_ticker: Arc<AtomicBool>,
    /// Idle warm instances held by every plugin of this runtime together,
    /// and the most that may be: each holds a slot of the pooling allocator,
    /// so many tenants' idle instances must never starve new calls.
    idle_warm: std::sync::atomic::AtomicUsize,
    max_idle_warm: usize,
    /// Slots for calls in progress (the pool's slots less the idle budget):
    /// a call waits for one before its store exists and its deadline starts,
    /// so a burst queues instead of failing — the host's limit is never
    /// blamed on a plugin.
    slots: tokio::sync::Semaphore,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The plugin runtime. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

/// Extra time beyond a deadline before the host abandons a call that is stuck
/// in a host import (epoch interruption only fires while Wasm code runs).
const DEADLINE_GRACE: Duration = Duration::from_millis(50);

impl Runtime {
    /// Create the engine, the pooling allocator, the linker and the deadline ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(config.max_instances)
            .total_core_instances(config.max_instances * 8)
            .total_memories(config.max_instances * 2)
            .total_tables(config.max_instances * 4)
            .total_stacks(config.max_instances)
            .max_memory_size(config.max_memory_bytes)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(32)
            .max_component_instance_size(1 << 20);
        let mut wasm = super::compile::wasm_config();
        wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(|e| anyhow::anyhow!("creating the Wasm engine: {e}"))?;

        let mut linker: Linker<CallState> = Linker::new(&engine);
        // Components built by componentize-py or jco import many `wasi:*`
        // interfaces; they all resolve against a context that grants nothing.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        // Every contract version the host runs, side by side (their interface
        // names differ by version, so they never collide).
        v1::FullPlugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| anyhow::anyhow!("linking host imports (0.1.0): {e}"))?;
        v2::FullPlugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| anyhow::anyhow!("linking host imports (0.2.0): {e}"))?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), config.epoch_tick, stop_ticker.clone());
        let cache = ArtifactCache::new(&engine, config.cache_dir);
        // Idle warm instances get a quarter of the slots at most; the rest stay for calls.
        let slots = config.max_instances as usize;
        let max_idle_warm = (slots / 4).max(1);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                compile: config.compile,
                kv: config.kv,
                tick: config.epoch_tick,
                stop_ticker,
                idle_warm: Default::default(),
                max_idle_warm,
                slots: tokio::sync::Semaphore::new(slots.saturating_sub(max_idle_warm).max(1)),
            }),
        })
    }

    /// Compile (or load from the cache), link and check a component.
    ///
    /// `label` names the plugin in errors until its manifest is known (a file
    /// name, say). Compilation runs on a blocking thread, off the async workers.
    pub async fn load(&self, label: &str, bytes: Vec<u8>, limits: Limits) -> Result<LoadedPlugin, PluginError> {
        let invalid = |detail: String| PluginError::new(label, None, FailureKind::InvalidComponent, detail);
        check_header(&bytes).map_err(invalid)?;
        // Who signed it (checked before anything is compiled): a component
        // altered after signing, or with a forged signature, never loads.
        let publisher_key = match smsdesk_signing::verify(&bytes) {
            Ok(smsdesk_signing::Signed::By(key)) => Some(key.to_string()),
            // Sections that do not even parse: the compiler says what is wrong.
            Ok(smsdesk_signing::Signed::Unsigned) | Err(smsdesk_signing::Error::Malformed(_)) => None,
            Err(e) => return Err(invalid(e.to_string())),
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size = bytes.len();
        let inner = self.inner.clone();
        let hash = sha256.clone();
        let (component, cache) = tokio::task::spawn_blocking(move || {
            inner.cache.load_or_compile(&inner.engine, &bytes, &hash, &inner.compile)
        })
        .await
        .map_err(|e| invalid(format!("compilation task failed: {e}")))?
        .map_err(|mut e| {
            truncate_chars(&mut e, 400);
            invalid(e)
        })?;

        // A component built against a contract version this host does not
        // run gets that said plainly, before the linker's lower-level complaint.
        let ty = component.component_type();
        let prefix = format!("{}/", bindings::PACKAGE);
        let mut versions: Vec<String> = ty
            .imports(&self.inner.engine)
            .map(|(n, _)| n.to_string())
            .chain(ty.exports(&self.inner.engine).map(|(n, _)| n.to_string()))
            .filter_map(|n| n.strip_prefix(&prefix).and_then(|r| r.split_once('@')).map(|(_, v)| v.to_string()))
            .collect();
        versions.sort();
        versions.dedup();
        let unknown: Vec<&String> = versions.iter().filter(|v| !bindings::WIT_VERSIONS.contains(&v.as_str())).collect();
        if !unknown.is_empty() {
            return Err(invalid(format!(
                "built against {}@{}; this host runs contract versions {}",
                bindings::PACKAGE,
                unknown.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                bindings::WIT_VERSIONS.join(", ")
            )));
        }
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| invalid(format!("cannot be linked: {}", root_cause(&e))))?;

        // The version of its `manifest` export decides which contract it is called by.
        let contract = if let Some(x) = v2::Exports::find(&pre) {
            Exports::V2(x)
        } else if let Some(x) = v1::Exports::find(&pre) {
            Exports::V1(x)
        } else {
            return Err(invalid(format!(
                "does not export `{}/manifest` (contract versions {})",
                bindings::PACKAGE,
                bindings::WIT_VERSIONS.join(", ")
            )));
        };
        let (has_classifier, has_crm, has_responder) = per_version!(&contract, _b, x => {
            (x.classifier.is_some(), x.crm.is_some(), x.responder.is_some())
        });
        let mut roles = Vec::new();
        if has_classifier {
            roles.push(Role::Classifier);
        }
        if has_crm {
            roles.push(Role::Crm);
        }
        if has_responder {
            roles.push(Role::Responder);
        }
        if roles.is_empty() {
            return Err(invalid(format!(
                "exports no role: a plugin must export at least one of `{p}/classifier`, `{p}/crm` or `{p}/responder`",
                p = bindings::PACKAGE,
            )));
        }

        let imports: Vec<String> = ty.imports(&self.inner.engine).map(|(name, _)| name.to_string()).collect();
        let exports: Vec<String> = ty.exports(&self.inner.engine).map(|(name, _)| name.to_string()).collect();
        let wit_version = Some(contract.version().to_string());
        let info =
            ComponentInfo { wit_version, roles: roles.clone(), imports, exports, size, sha256, publisher_key, cache };

        let instance_calls = match limits.instance_calls {
            Some(n) => n.max(1),
            None if size >= limits::HEAVY_COMPONENT_BYTES => limits::HEAVY_INSTANCE_CALLS,
            None => 1,
        };
        let mut plugin = LoadedPlugin {
            instance_calls,
            warm: Default::default(),
            runtime: self.inner.clone(),
            name: Arc::from(label),
            manifest: Manifest {
                name: label.to_string(),
                version: String::new(),
                description: String::new(),
                roles: roles.clone(),
                capabilities: Vec::new(),
            },
            info,
            limits,
            pre,
            contract,
            raw_phone_numbers: false,
        };
        let manifest = plugin.call_manifest().await?;
        limits::check_manifest(&manifest).map_err(|e| invalid(format!("bad manifest: {e}")))?;
        let mut claimed = manifest.roles.clone();
        claimed.sort();
        claimed.dedup();
        if claimed != roles {
            return Err(invalid(format!(
                "manifest claims roles [{}] but the component exports [{}]",
                join(&claimed),
                join(&roles)
            )));
        }
        plugin.name = Arc::from(manifest.name.as_str());
        plugin.raw_phone_numbers = manifest.capabilities.contains(&crate::domain::Capability::RawPhoneNumbers);
        plugin.manifest = manifest;
        Ok(plugin)
    }

    /// The engine's configuration fingerprint used in cache keys.
    pub fn cache_path_for(&self, sha256: &str) -> Option<PathBuf> {
        self.inner.cache.path_for(sha256)
    }
}

fn join(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// An error's chain for people: the wasm backtrace (which only means
/// something to the plugin's author, and goes to the log) left out, the
/// plugin's words escaped.
fn root_cause(e: &wasmtime::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|cause| cause.to_string())
        .filter(|text| !text.starts_with("error while executing at wasm backtrace"))
        .collect();
    let mut text = limits::plugin_text(&parts.join(": "));
    truncate_chars(&mut text, 400);
    text
}

/// Tell core modules, components and non-Wasm apart before compiling.
fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err("not a WebAssembly file (missing the \\0asm header)".into());
    }
    match &bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(
            "is a core WebAssembly module, not a component: build for wasm32-wasip2 or wrap it with `wasm-tools component new`"
                .into(),
        ),
        other => Err(format!("unsupported WebAssembly version/layer {other:02x?}")),
    }
}

fn spawn_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("smsdesk-epoch".into())
        .spawn(move || {
            // Advance the epoch by wall time, catching up after oversleeping, so a
            // deadline of N ticks is N ticks of real time.
            let start = Instant::now();
            let mut ticks: u128 = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let due = start.elapsed().as_nanos() / tick.as_nanos().max(1);
                while ticks < due {
                    engine.increment_epoch();
                    ticks += 1;
                }
            }
        })
        .expect("spawning the epoch thread");
}

/// A compiled, linked and checked plugin, ready to be called many times.
pub struct LoadedPlugin {
    runtime: Arc<Inner>,
    name: Arc<str>,
    manifest: Manifest,
    /// Its manifest asks for `raw-phone-numbers` (else it sees numbers masked).
    raw_phone_numbers: bool,
    info: ComponentInfo,
    limits: Limits,
    pre: InstancePre<CallState>,
    /// Its exports, by the contract version it was built against.
    contract: Exports,
    /// Calls an instance serves before it is retired (1: a fresh instance per call).
    instance_calls: u32,
    /// Idle warm instances per (tenant, configuration).
    warm: Arc<std::sync::Mutex<WarmPool>>,
}

/// Idle warm instances by (tenant, configuration JSON).
type WarmPool = HashMap<(String, Arc<str>), Vec<Warm>>;

/// An instance kept for the next call of the same tenant and configuration.
struct Warm {
    store: Store<CallState>,
    instance: wasmtime::component::Instance,
    calls: u32,
}

/// Idle warm instances kept per (plugin, tenant, configuration); each holds
/// one of the pooling allocator's slots.
const MAX_IDLE_WARM: usize = 2;

impl Drop for LoadedPlugin {
    fn drop(&mut self) {
        let idle: usize = self.warm.lock().unwrap_or_else(|p| p.into_inner()).values().map(Vec::len).sum();
        self.runtime.idle_warm.fetch_sub(idle, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("manifest", &self.manifest).field("info", &self.info).finish()
    }
}

/// The outcome of running guest code in a store, before it is judged.
type Raw<T> = Result<Result<wasmtime::Result<T>, tokio::time::error::Elapsed>, PluginError>;

impl LoadedPlugin {
    /// The plugin's name (from its manifest).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The checked manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Facts about the component.
    pub fn info(&self) -> &ComponentInfo {
        &self.info
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The roles the component exports.
    pub fn roles(&self) -> &[Role] {
        &self.info.roles
    }

    /// Whether the component exports `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.info.roles.contains(&role)
    }

    fn err(&self, role: Option<Role>, kind: FailureKind, detail: impl Into<String>) -> PluginError {
        PluginError::new(&*self.name, role, kind, detail)
    }

    fn missing(&self, role: Role) -> PluginError {
        self.err(Some(role), FailureKind::MissingRole, format!("the component does not export the `{role}` role"))
    }

    /// Calls one instance serves before it is retired.
    pub fn instance_calls(&self) -> u32 {
        self.instance_calls
    }

    /// A store for a call: a warm one of this tenant and configuration if
    /// there is one (with its instance and how many calls it served), else a
    /// fresh one to instantiate into.
    fn checkout(
        &self,
        ctx: &CallContext,
        deadline: Duration,
    ) -> (Store<CallState>, Option<wasmtime::component::Instance>, u32) {
        if self.instance_calls > 1 {
            let key = (ctx.tenant.clone(), Arc::from(ctx.config.as_json()));
            let warm = self.warm.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&key).and_then(Vec::pop);
            if let Some(mut w) = warm {
                self.runtime.idle_warm.fetch_sub(1, Ordering::Relaxed);
                w.store.data_mut().reset_for_call(ctx, Instant::now() + deadline);
                self.arm(&mut w.store, deadline);
                return (w.store, Some(w.instance), w.calls);
            }
        }
        (self.new_store(ctx, deadline), None, 0)
    }

    /// After a call that went well: keep the instance for the next call of
    /// the same tenant and configuration, unless it has served its calls.
    fn checkin(
        &self,
        ctx: &CallContext,
        store: Store<CallState>,
        instance: Option<wasmtime::component::Instance>,
        calls: u32,
    ) {
        let Some(instance) = instance else { return };
        if self.instance_calls <= 1 || calls + 1 >= self.instance_calls {
            return;
        }
        let key = (ctx.tenant.clone(), Arc::from(ctx.config.as_json()));
        let mut warm = self.warm.lock().unwrap_or_else(|p| p.into_inner());
        let idle = warm.entry(key).or_default();
        if idle.len() >= MAX_IDLE_WARM {
            return;
        }
        // Within the runtime's budget of idle instances, or not kept.
        let budget = &self.runtime.idle_warm;
        if budget.fetch_add(1, Ordering::Relaxed) >= self.runtime.max_idle_warm {
            budget.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        idle.push(Warm { store, instance, calls: calls + 1 });
    }

    fn arm(&self, store: &mut Store<CallState>, deadline: Duration) {
        let tick = self.runtime.tick.as_nanos().max(1);
        let ticks = deadline.as_nanos().div_ceil(tick).max(1) as u64;
        store.set_epoch_deadline(ticks);
    }

    fn new_store(&self, ctx: &CallContext, deadline: Duration) -> Store<CallState> {
        let kv_allowed = self.manifest.capabilities.contains(&Capability::KeyValue);
        let state = CallState::new(
            self.name.clone(),
            ctx.tenant.clone(),
            ctx.config.clone(),
            self.runtime.kv.clone(),
            kv_allowed,
            self.limits.memory_bytes,
            self.limits.stdio_bytes,
        );
        let mut state = state;
        state.reset_for_call(ctx, Instant::now() + deadline);
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|state| &mut state.memory);
        self.arm(&mut store, deadline);
        // At the armed tick: stop, unless the call's deadline moved out
        // (time excused for waits on the host's key-value store).
        let tick = self.runtime.tick;
        store.epoch_deadline_callback(move |ctx| {
            let left = ctx.data().deadline.saturating_duration_since(Instant::now());
            Ok(match left.as_nanos().div_ceil(tick.as_nanos().max(1)) as u64 {
                0 => wasmtime::UpdateDeadline::Interrupt,
                ticks => wasmtime::UpdateDeadline::Continue(ticks),
            })
        });
        store
    }

    fn check_input(&self, role: Role, message: &InboundMessage) -> Result<(), PluginError> {
        if message.body.len() > limits::MAX_INPUT_BODY_BYTES {
            return Err(self.err(
                Some(role),
                FailureKind::InvalidInput,
                format!(
                    "message body is {} bytes; plugins get at most {}",
                    message.body.len(),
                    limits::MAX_INPUT_BODY_BYTES
                ),
            ));
        }
        Ok(())
    }

    /// Turn what happened in the store into a value or a typed error, and pass
    /// the guest's stdout/stderr to the log.
    fn judge<T>(
        &self,
        role: Option<Role>,
        store: &Store<CallState>,
        deadline: Duration,
        raw: Raw<T>,
    ) -> Result<T, PluginError> {
        let state = store.data();
        let stdout = state.stdout.text();
        let stderr = state.stderr.text();
        // The plugin's text goes in a field, escaped: a line break in it can
        // never start a line that reads like the host's own.
        if !stdout.is_empty() {
            tracing::debug!(target: "plugin", plugin = %self.name, tenant = %state.tenant,
                stdout = %limits::plugin_text(stdout.trim_end()), "plugin wrote to stdout");
        }
        if !stderr.is_empty() {
            tracing::warn!(target: "plugin", plugin = %self.name, tenant = %state.tenant,
                stderr = %limits::plugin_text(stderr.trim_end()), "plugin wrote to stderr");
        }
        let error = match raw? {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => error,
            Err(_elapsed) => {
                return Err(self.err(role, FailureKind::Deadline, format!("did not finish within {deadline:?}")));
            }
        };
        if state.memory.exceeded {
            return Err(self.err(
                role,
                FailureKind::Memory,
                format!("tried to grow memory past its cap of {} MiB", self.limits.memory_bytes >> 20),
            ));
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => {
                Err(self.err(role, FailureKind::Deadline, format!("ran past its deadline of {deadline:?}")))
            }
            Some(Trap::UnreachableCodeReached) if stderr.contains("panicked") => {
                Err(self.err(role, FailureKind::Panic, limits::plugin_text(&panic_message(&stderr))))
            }
            Some(trap) => Err(self.err(role, FailureKind::Trap, trap.to_string())),
            None => Err(self.err(role, FailureKind::Trap, root_cause(&error))),
        }
    }

    async fn instantiate(
        &self,
        role: Option<Role>,
        store: &mut Store<CallState>,
    ) -> Result<wasmtime::component::Instance, PluginError> {
        let e = match self.pre.instantiate_async(&mut *store).await {
            Ok(instance) => return Ok(instance),
            Err(e) => e,
        };
        // The whole story (backtrace included) is for the log; agents read the kind.
        tracing::debug!(target: "plugin", plugin = %self.name, error = %limits::plugin_text(&format!("{e:?}")),
            "instantiation failed");
        let (kind, detail) = if store.data().memory.exceeded {
            (
                FailureKind::Memory,
                format!("tried to grow memory past its cap of {} MiB while starting", self.limits.memory_bytes >> 20),
            )
        } else {
            match e.downcast_ref::<Trap>() {
                // A start function that loops: the call's deadline, reached before the call began.
                Some(Trap::Interrupt) => (FailureKind::Deadline, "ran past its deadline while starting up".to_string()),
                Some(trap) => (FailureKind::Trap, format!("trapped while starting up: {trap}")),
                None => (FailureKind::Instantiate, root_cause(&e)),
            }
        };
        Err(self.err(role, kind, detail))
    }

    async fn call_manifest(&self) -> Result<Manifest, PluginError> {
        let _slot = self.runtime.slots.acquire().await.ok();
        let deadline = limits::MANIFEST_DEADLINE.max(self.limits.classify_deadline);
        let mut store = self.new_store(&CallContext::default(), deadline);
        let raw = {
            let run = async {
                let instance = self.instantiate(None, &mut store).await?;
                let manifest: wasmtime::Result<Manifest> = per_version!(&self.contract, _b, x => {
                    let guest = x
                        .manifest
                        .load(&mut store, &instance)
                        .map_err(|e| self.err(None, FailureKind::InvalidComponent, root_cause(&e)))?;
                    guest.call_get(&mut store).await.map(Into::into)
                });
                Ok(manifest)
            };
            flatten(tokio::time::timeout(deadline + DEADLINE_GRACE, run).await)
        };
        self.judge(None, &store, deadline, raw).map_err(|mut e| {
            e.detail = format!("manifest: {}", e.detail);
            e
        })
    }

    /// Run the `classifier` role.
    pub async fn classify(
        &self,
        ctx: &CallContext,
        message: &InboundMessage,
        context: &ConversationContext,
    ) -> Result<Vec<Intent>, PluginError> {
        let role = Role::Classifier;
        if !self.has_role(role) {
            return Err(self.missing(role));
        }
        self.check_input(role, message)?;
        let deadline = self.limits.classify_deadline;
        let _slot = self.runtime.slots.acquire().await.ok();
        let (store, used, calls, raw) = per_version!(&self.contract, b, x => {
            let idx = x.classifier.as_ref().ok_or_else(|| self.missing(role))?;
            let msg = b::inbound(message, self.raw_phone_numbers);
            let cx = b::context(context, limits::MAX_HISTORY_TURNS);
            let (store, used, calls, raw) =
                run_role!(self, role, ctx, deadline, idx, |guest, store| guest.call_classify(&mut store, &msg, &cx));
            let raw = map_raw(raw, |r| {
                r.map(|v| v.into_iter().map(Into::into).collect::<Vec<Intent>>()).map_err(b::guest_error)
            });
            (store, used, calls, raw)
        });
        let returned = self.judge(Some(role), &store, deadline, raw)?;
        let mut intents = self.guest_result(role, returned)?;
        let found = limits::clean_intents(&self.limits, &mut intents)
            .map_err(|e| self.err(Some(role), FailureKind::InvalidOutput, e))?;
        self.note_redactions(ctx, role, found);
        self.checkin(ctx, store, used, calls);
        Ok(intents)
    }

    /// Run the `crm` role.
    pub async fn lookup(&self, ctx: &CallContext, phone: &str) -> Result<Option<CustomerProfile>, PluginError> {
        let role = Role::Crm;
        if !self.has_role(role) {
            return Err(self.missing(role));
        }
        if phone.len() > 64 {
            return Err(self.err(Some(role), FailureKind::InvalidInput, "phone number longer than 64 bytes"));
        }
        let deadline = self.limits.crm_deadline;
        // Without the `raw-phone-numbers` capability a plugin sees the number masked.
        let shown;
        let phone = if self.raw_phone_numbers {
            phone
        } else {
            shown = crate::domain::mask_phone(phone);
            shown.as_str()
        };
        let _slot = self.runtime.slots.acquire().await.ok();
        let (store, used, calls, raw) = per_version!(&self.contract, b, x => {
            let idx = x.crm.as_ref().ok_or_else(|| self.missing(role))?;
            let (store, used, calls, raw) =
                run_role!(self, role, ctx, deadline, idx, |guest, store| guest.call_lookup(&mut store, phone, &ctx.tenant));
            let raw = map_raw(raw, |r| r.map(|p| p.map(CustomerProfile::from)).map_err(b::guest_error));
            (store, used, calls, raw)
        });
        let returned = self.judge(Some(role), &store, deadline, raw)?;
        let mut profile = self.guest_result(role, returned)?;
        if let Some(p) = &mut profile {
            let found = limits::clean_profile(p).map_err(|e| self.err(Some(role), FailureKind::InvalidOutput, e))?;
            self.note_redactions(ctx, role, found);
        }
        self.checkin(ctx, store, used, calls);
        Ok(profile)
    }

    /// Run the `responder` role.
    pub async fn respond(
        &self,
        ctx: &CallContext,
        message: &InboundMessage,
        context: &ConversationContext,
        intents: &[Intent],
    ) -> Result<Decision, PluginError> {
        let role = Role::Responder;
        if !self.has_role(role) {
            return Err(self.missing(role));
        }
        self.check_input(role, message)?;
        let deadline = self.limits.respond_deadline;
        let _slot = self.runtime.slots.acquire().await.ok();
        let (store, used, calls, raw) = per_version!(&self.contract, b, x => {
            let idx = x.responder.as_ref().ok_or_else(|| self.missing(role))?;
            let msg = b::inbound(message, self.raw_phone_numbers);
            let cx = b::context(context, limits::MAX_HISTORY_TURNS);
            let intents: Vec<b::types::Intent> = intents.iter().take(self.limits.max_intents).map(Into::into).collect();
            let (store, used, calls, raw) = run_role!(self, role, ctx, deadline, idx, |guest, store| guest
                .call_respond(&mut store, &msg, &cx, &intents));
            let raw = map_raw(raw, |r| r.map(Decision::from).map_err(b::guest_error));
            (store, used, calls, raw)
        });
        let returned = self.judge(Some(role), &store, deadline, raw)?;
        let mut decision = self.guest_result(role, returned)?;
        let found = limits::clean_decision(&self.limits, &mut decision)
            .map_err(|e| self.err(Some(role), FailureKind::InvalidOutput, e))?;
        self.note_redactions(ctx, role, found);
        self.checkin(ctx, store, used, calls);
        Ok(decision)
    }

    /// Say (without the text) that the host masked something a plugin said.
    fn note_redactions(&self, ctx: &CallContext, role: Role, found: crate::messaging::redact::Redactions) {
        if found.any() {
            tracing::info!(target: "plugin", plugin = %self.name, tenant = %ctx.tenant, role = role.as_str(),
                cards = found.cards, ssns = found.ssns, passwords = found.passwords,
                "masked card numbers, SSNs or passwords in a plugin's output");
        }
    }

    fn guest_result<T>(&self, role: Role, r: Result<T, (&'static str, String)>) -> Result<T, PluginError> {
        r.map_err(|(kind, message)| {
            // The plugin's own words reach agents (hand-off reasons) and logs.
            let mut message = limits::plugin_text(&message);
            truncate_chars(&mut message, 500);
            self.err(Some(role), FailureKind::Guest, format!("{kind}: {message}"))
        })
    }
}

/// Convert the value inside a raw outcome.
fn map_raw<T, U>(raw: Raw<T>, f: impl FnOnce(T) -> U) -> Raw<U> {
    raw.map(|r| r.map(|w| w.map(f)))
}

fn flatten<T>(r: Result<Result<wasmtime::Result<T>, PluginError>, tokio::time::error::Elapsed>) -> Raw<T> {
    match r {
        Ok(Ok(result)) => Ok(Ok(result)),
        Ok(Err(e)) => Err(e),
        Err(elapsed) => Ok(Err(elapsed)),
    }
}

/// The panic message from a Rust guest's stderr ("panicked at file:line:col:\nmessage").
fn panic_message(stderr: &str) -> String {
    let start = stderr.find("panicked").unwrap_or(0);
    let text: String = stderr[start..].lines().take(3).collect::<Vec<_>>().join(" ");
    let mut text = text.trim().to_string();
    truncate_chars(&mut text, 300);
    text
}
