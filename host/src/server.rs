//! Start-up: open the store, load plugins, start the workers and the HTTP
//! server. Used by `smsdesk serve`, `smsdesk demo` and the integration tests.

use crate::config::Config;
use crate::http::{self, AppState};
use crate::messaging::outbox::Outbox;
use crate::pipeline::Pipeline;
use crate::pipeline::bindings::Bindings;
use crate::pipeline::ingest::Ingest;
use crate::plugins::{Runtime, RuntimeConfig};
use crate::store::Store;
use crate::tenants::Tenants;
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// A running host.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The database (for tests and tools).
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    status: Arc<crate::cluster::Status>,
    stop_workers: tokio::sync::watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// How long a shutdown waits for the batches its workers hold.
pub const DRAIN_GRACE: Duration = Duration::from_secs(20);

impl Server {
    /// Shut down as a replica should (SIGTERM, Ctrl-C): say not ready, stop
    /// taking requests and work, let the requests and batches in flight
    /// finish (up to `grace`), then hand back whatever this process still
    /// holds so another replica (or the next start) takes it at once.
    pub async fn drain(mut self, grace: Duration) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        self.status.draining.store(true, Ordering::Relaxed);
        let _ = self.stop_workers.send(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let deadline = tokio::time::Instant::now() + grace;
        let _ = tokio::time::timeout_at(deadline, &mut self.served).await;
        let finished = tokio::time::timeout_at(deadline, async {
            for w in self.workers.drain(..) {
                let _ = w.await;
            }
        })
        .await
        .is_ok();
        let (jobs, sends) = self.store.hand_back_leases().await.context("handing back leases")?;
        if finished {
            tracing::info!(jobs, sends, "shut down: work in flight finished");
        } else {
            tracing::warn!(jobs, sends, "shut down before the work in flight finished; handed it back");
        }
        Ok(())
    }

    /// Stop accepting requests and wait for the HTTP server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.served).await;
    }

    /// Serve until `stop` resolves (a signal), then shut down as a replica
    /// should ([`Server::drain`]); or until the HTTP server fails.
    pub async fn serve_until(mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            served = &mut self.served => served.context("server task")?.context("serving HTTP"),
            () = stop => self.drain(DRAIN_GRACE).await,
        }
    }

    /// Serve until the HTTP server stops (Ctrl-C handling is the caller's).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.served.await.context("server task")?.context("serving HTTP")
    }
}

/// Start a host from `config`.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    Ok(launch(config, true).await?.0)
}

/// The host's two kinds of work, one batch at a time, for a caller that
/// decides the interleaving (the consent property test): the pipeline and
/// the outbox exactly as the workers run them, without the workers.
#[derive(Clone)]
pub struct Stepper {
    /// Inbound messages: claim a batch, run the stages, apply the outcomes.
    pub pipeline: Pipeline,
    /// Sends: claim a batch, settle, gate, call the provider, record.
    pub outbox: Outbox,
}

/// [`start`] without pipeline and outbox workers: everything else (HTTP,
/// housekeeping, the lease heartbeat) runs; the work moves only when the
/// returned [`Stepper`] is stepped.
pub async fn start_stepped(config: Config) -> anyhow::Result<(Server, Stepper)> {
    launch(config, false).await
}

async fn launch(config: Config, spawn_workers: bool) -> anyhow::Result<(Server, Stepper)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = Store::open_pooled(&config.database_url(), config.durability, config.database_max_connections)
        .await?
        .with_clock(config.clock.clone())
        .with_replica(&config.replica());
    store.sync_tenants(&config.tenants).await.context("storing tenants")?;
    let (jobs_resumed, sends_resumed) = store.release_leases().await.context("releasing leases")?;
    if jobs_resumed + sends_resumed > 0 {
        tracing::info!(jobs_resumed, sends_resumed, "resuming work a stopped process had claimed");
    }
    // The heartbeat: this process's leases stay alive while it runs; when
    // it stops, they run out and any replica's workers take the work.
    tokio::spawn({
        let store = store.clone();
        async move {
            let mut every = tokio::time::interval(crate::store::LEASE_RENEW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if let Err(e) = store.renew_leases(crate::store::LEASE_MS).await {
                    tracing::warn!(error = %e, "renewing this process's leases failed; will try again");
                }
            }
        }
    });

    let compile = crate::plugins::CompileLimits {
        memory_bytes: config.plugin_compile_memory_mib.max(64) << 20,
        worker: config.plugin_compile_worker.clone().or_else(crate::plugins::compile::default_worker),
        ..Default::default()
    };
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(config.plugin_cache_dir.clone().unwrap_or_else(|| config.data_dir.join("plugin-cache"))),
        compile,
        kv: Arc::new(crate::pipeline::kv::StoreKv::new(store.clone(), crate::plugins::KV_QUOTA)),
        ..RuntimeConfig::default()
    })?;
    let listener = store.listen().await.context("listening to the other replicas")?;
    let state =
        crate::pipeline::bindings::PluginState::load(&store).await.context("reading managed plugin bindings")?;
    let bindings = Arc::new(Bindings::load(&runtime, &store, &config.tenants, &state).await?);
    let tenants = Arc::new(Tenants::new(&config.tenants).with_admins(&config.admins));
    if config.watch_plugins {
        tokio::spawn(bindings.clone().watch(store.clone(), Duration::from_millis(500)));
    }
    let jobs = Arc::new(Notify::new());
    let outbox_notify = Arc::new(Notify::new());
    // With other replicas (PostgreSQL), ticket events are relayed to them
    // and theirs come here; plugin changes they announce are swapped in.
    let events = match store.engine() {
        crate::store::Engine::PostgreSQL => {
            let (events, relay) = crate::events::Events::relayed();
            crate::cluster::spawn_relay(store.clone(), relay);
            events
        }
        crate::store::Engine::SQLite => crate::events::Events::default(),
    };
    crate::cluster::spawn_listener(&store, listener, bindings.clone(), events.clone());
    let status = Arc::new(crate::cluster::Status::default());
    let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

    let listener =
        tokio::net::TcpListener::bind(config.bind).await.with_context(|| format!("listening on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let base = config.public_base_url.clone().unwrap_or_else(|| format!("http://{addr}"));

    let pipeline = Pipeline {
        store: store.clone(),
        tenants: tenants.clone(),
        bindings: bindings.clone(),
        jobs: jobs.clone(),
        outbox: outbox_notify.clone(),
        profile_ttl: Duration::from_secs(config.profile_ttl_secs),
        events: events.clone(),
        shadow: spawn_shadow_recorder(store.clone()),
    };
    let mut workers = Vec::new();
    if spawn_workers {
        workers.extend(pipeline.spawn_workers(config.pipeline_workers, workers_stop.clone()));
    }
    let outbox = Outbox {
        store: store.clone(),
        tenants: tenants.clone(),
        notify: outbox_notify.clone(),
        status_callback: Some(format!("{}/webhooks/twilio/status", base.trim_end_matches('/'))),
        events: events.clone(),
    };
    if spawn_workers {
        workers.extend(outbox.spawn_workers(config.outbox_workers, workers_stop));
    }
    let stepper = Stepper { pipeline, outbox };
    crate::cluster::spawn_housekeeping(store.clone(), tenants.clone(), events.clone(), status.clone());

    let state = AppState {
        store: store.clone(),
        tenants,
        ingest: Ingest::start(store.clone(), jobs),
        public_base_url: config.public_base_url.clone(),
        outbox: outbox_notify,
        bindings,
        events: events.clone(),
        shutdown: shutdown_rx,
        max_plugin_bytes: config.max_plugin_bytes,
        status: status.clone(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.await;
        // Event streams end, so graceful shutdown does not wait on them.
        let _ = shutdown_tx.send(true);
    }));
    tracing::info!(%addr, "smsdesk is listening");
    Ok((Server { addr, store, stop: Some(stop), served, status, stop_workers, workers }, stepper))
}

/// Record shadow comparisons in batches, off the message path.
fn spawn_shadow_recorder(store: Store) -> tokio::sync::mpsc::Sender<crate::store::ShadowResult> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<crate::store::ShadowResult>(4096);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
            if let Err(e) = store.insert_shadow_results(&batch).await {
                tracing::error!(error = %e, "recording shadow results failed");
            }
        }
    });
    tx
}
