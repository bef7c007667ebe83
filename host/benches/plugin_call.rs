//! Cost of a plugin call, against baselines measured in the same run.
//!
//! (a) smsdesk: `LoadedPlugin::classify` on `keyword-intents` — fresh pooled
//!     instance and `Store`, deadline, memory cap, capped stdio, conversions,
//!     output checks;
//! (b) bare wasmtime: the same engine settings, `InstancePre` + instantiate +
//!     call with a minimal store, nothing else;
//! (c) the same classifier compiled natively (parsing its configuration and
//!     classifying, as the plugin does on every call);
//! (d) loading the component: compiling it vs loading the precompiled artifact.
//!
//! Run: `cargo bench -p smsdesk --bench plugin_call`.

use criterion::{Criterion, criterion_group, criterion_main};
use smsdesk::domain::{ConversationContext, InboundMessage};
use smsdesk::plugins::{CallContext, Limits, Runtime, RuntimeConfig};
use std::hint::black_box;
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

const TEXT: &str = "Where is my order? Tracking hasn't moved";

mod bare {
    wasmtime::component::bindgen!({
        world: "full-plugin",
        path: "../wit/v0.2.0",
        imports: { default: async },
        exports: { default: async },
    });
}
use bare::exports::smsdesk::plugin::classifier;
use bare::smsdesk::plugin::{config, http, kv, logging, types};

struct BareState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
impl types::Host for BareState {}
impl logging::Host for BareState {
    async fn log(&mut self, _: logging::Level, _: String, _: Vec<(String, String)>) {}
}
impl config::Host for BareState {
    async fn document(&mut self) -> String {
        "{}".to_string()
    }
    async fn get(&mut self, _: String) -> Option<String> {
        None
    }
}
impl kv::Host for BareState {
    async fn get(&mut self, _: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        Err(kv::KvError::Denied)
    }
    async fn set(&mut self, _: String, _: Vec<u8>) -> Result<(), kv::KvError> {
        Err(kv::KvError::Denied)
    }
    async fn delete(&mut self, _: String) -> Result<(), kv::KvError> {
        Err(kv::KvError::Denied)
    }
}
impl http::Host for BareState {
    async fn send(&mut self, _: http::Request) -> Result<http::Response, http::HttpError> {
        Err(http::HttpError::Denied("nothing granted".into()))
    }
}

fn bare_engine() -> Engine {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(256)
        .total_core_instances(2048)
        .total_memories(512)
        .total_tables(1024)
        .total_stacks(256)
        .max_memory_size(256 << 20)
        .max_core_instances_per_component(64)
        .max_memories_per_component(16)
        .max_tables_per_component(32)
        .max_component_instance_size(1 << 20);
    let mut config = Config::new();
    config.epoch_interruption(true).allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).unwrap()
}

fn message() -> InboundMessage {
    InboundMessage {
        id: "m1".into(),
        tenant: "acme".into(),
        from: "+15551234567".into(),
        to: "+15557654321".into(),
        body: TEXT.into(),
        received_at: "2026-11-28T09:00:00Z".into(),
        media_urls: vec![],
    }
}

fn plugin_call(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bytes = smsdesk_artifacts::first_party::KEYWORD_INTENTS.read().unwrap();
    let mut group = c.benchmark_group("classify keyword-intents");
    group.measurement_time(Duration::from_secs(5));

    // (a) smsdesk's full call.
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let plugin = tokio.block_on(runtime.load("keyword-intents", bytes.clone(), Limits::default())).unwrap();
    let ctx = CallContext { tenant: "acme".into(), config: Default::default(), ..Default::default() };
    let msg = message();
    let cx = ConversationContext { conversation_id: "c1".into(), history: vec![], profile: None };
    group.bench_function("a smsdesk call (fresh pooled instance)", |b| {
        b.iter(|| {
            let intents = tokio.block_on(plugin.classify(&ctx, &msg, &cx)).unwrap();
            assert_eq!(intents[0].label, "order-status");
            black_box(intents)
        })
    });

    // (b) bare wasmtime: InstancePre + call.
    let engine = bare_engine();
    let mut linker: Linker<BareState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    bare::FullPlugin::add_to_linker::<BareState, HasSelf<BareState>>(&mut linker, |s| s).unwrap();
    let component = Component::from_binary(&engine, &bytes).unwrap();
    let pre = linker.instantiate_pre(&component).unwrap();
    let indices = classifier::GuestIndices::new(&pre).unwrap();
    let wit_msg = types::InboundMessage {
        id: msg.id.clone(),
        tenant: msg.tenant.clone(),
        from: msg.from.clone(),
        to: msg.to.clone(),
        body: msg.body.clone(),
        received_at: msg.received_at.clone(),
        media_urls: vec![],
    };
    let wit_cx = types::ConversationContext { conversation_id: "c1".into(), history: vec![], profile: None };
    group.bench_function("b bare wasmtime (InstancePre + call)", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let mut store =
                    Store::new(&engine, BareState { wasi: WasiCtx::builder().build(), table: ResourceTable::new() });
                store.set_epoch_deadline(1_000_000);
                let instance = pre.instantiate_async(&mut store).await.unwrap();
                let guest = indices.load(&mut store, &instance).unwrap();
                let intents = guest.call_classify(&mut store, &wit_msg, &wit_cx).await.unwrap().unwrap();
                assert_eq!(intents[0].label, "order-status");
                black_box(intents)
            })
        })
    });

    // For reference: the bare harness's fixed cost, instantiating without a call.
    group.bench_function("b0 bare wasmtime (instantiate only)", |b| {
        b.iter(|| {
            tokio.block_on(async {
                let mut store =
                    Store::new(&engine, BareState { wasi: WasiCtx::builder().build(), table: ResourceTable::new() });
                store.set_epoch_deadline(1_000_000);
                black_box(pre.instantiate_async(&mut store).await.unwrap())
            })
        })
    });

    // (c) native: what the plugin does per call, without Wasm.
    group.bench_function("c native classifier", |b| {
        b.iter(|| {
            let config: keyword_intents::Config = serde_json::from_str(black_box("{}")).unwrap();
            let rules = keyword_intents::Rules::from_config(&config).unwrap();
            let intents = rules.classify(black_box(TEXT));
            assert_eq!(intents[0].label, "order-status");
            black_box(intents)
        })
    });
    group.finish();

    // (d) compile vs cached artifact.
    let mut group = c.benchmark_group("load keyword-intents");
    group.sample_size(10);
    let uncached = Runtime::new(RuntimeConfig::default()).unwrap();
    group.bench_function("d compile (no cache)", |b| {
        b.iter(|| black_box(tokio.block_on(uncached.load("k", bytes.clone(), Limits::default())).unwrap()))
    });
    let dir = tempfile::tempdir().unwrap();
    let cached = Runtime::new(RuntimeConfig { cache_dir: Some(dir.path().into()), ..Default::default() }).unwrap();
    tokio.block_on(cached.load("k", bytes.clone(), Limits::default())).unwrap();
    group.bench_function("d load precompiled artifact", |b| {
        b.iter(|| {
            let plugin = tokio.block_on(cached.load("k", bytes.clone(), Limits::default())).unwrap();
            assert_eq!(plugin.info().cache, smsdesk::plugins::CacheOutcome::Cached);
            black_box(plugin)
        })
    });
    group.finish();
}

criterion_group!(benches, plugin_call);
criterion_main!(benches);
