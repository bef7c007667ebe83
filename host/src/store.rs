//! Storage with sqlx: the only module that writes SQL. Two engines behind
//! one [`Store`]: SQLite (a file in the data directory, WAL; the embedded
//! default) and PostgreSQL (`database_url = "postgres://…"`). Statements are
//! written once, in SQL both accept (`$n` parameters, `RETURNING`,
//! `ON CONFLICT`, integer millisecond times, `LOWER(…) LIKE` for search),
//! through sqlx's `Any` driver; what really differs — connection set-up,
//! migrations, claiming work — is in `store/engine/`.

mod consent;
mod conversations;
mod engine;
mod inbound;
mod outbox;
mod plugins;
mod replicas;
mod reports;
mod shared;
mod sql;
mod tenants;
mod tickets;
mod traces;

pub use consent::NewConsentEvent;
pub use conversations::{
    ConversationDetail, ConversationRow, ConversationSummary, InboundRow, MessageRow, Outcome, TicketFilter, rfc3339,
};
pub use inbound::{ClaimedJob, InboundOutcome, NewInbound};
pub use outbox::{ClaimedSend, NewOutbound, SendResult, status_rank};
pub use plugins::{
    AuditEntry, ManagedBinding, NewPluginVersion, PluginVersion, Publisher, PublisherConflict, SecretHeader,
    SecretListing, ShadowResult, ShadowRun, StoredSecret, Trust,
};
pub use replicas::{Channel, Heard, Leadership, Listener, MAX_ANNOUNCEMENT, Schema};
pub use reports::{ReplayRow, ReportConversation, ReportData, ReportSend};
pub use shared::KvRefused;
pub use tickets::{Assignee, ChangeResult, NoteRow, TicketChange, TimelineEntry};
pub use traces::{NewTrace, TraceRow};

pub use engine::{Engine, redact_password as redact_url};
use sql::Sql;

use crate::clock::Clock;
use crate::config::Durability;
use sqlx::{Any, Encode, Pool, Type};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row held data the application did not write.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database cannot be used as configured (a bad URL, a server that
    /// does not answer, a schema newer than this binary).
    #[error("{0}")]
    Setup(String),
}

/// How long a claimed job or send stays leased to its worker's process
/// without a renewal. The process renews its leases every
/// `LEASE_RENEW_EVERY` while it runs; a process that died loses them after
/// at most this long, and another process's workers take the work.
pub const LEASE_MS: i64 = 30_000;

/// Pooled PostgreSQL connections per process unless configured
/// (`database_max_connections`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How often a running process renews its leases.
pub const LEASE_RENEW_EVERY: Duration = Duration::from_secs(10);

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database. On SQLite, which allows one writer at a time, every write
/// goes through a single connection (writers queue in the pool,
/// asynchronously, instead of sleeping in SQLite's busy handler) and reads
/// use their own pool, which in WAL mode never waits for the writer. On
/// PostgreSQL both are one pool and the server's own concurrency applies.
///
/// Webhook writes come first: while an inbound batch waits for the writer,
/// background work (pipeline and outbox) does not start a new write, so an
/// acknowledgement waits for at most the transaction already running. On
/// PostgreSQL, which has no single writer, the rule still keeps the
/// background from taking the machine while acknowledgements wait
/// (BENCHMARKS.md: without it the webhook p99 at 500/s triples).
#[derive(Clone, Debug)]
pub struct Store {
    writer: Pool<Any>,
    reader: Pool<Any>,
    engine: Engine,
    durability: Durability,
    inbound_waiting: Arc<AtomicUsize>,
    clock: Clock,
    /// This process's name on the leases it takes: `REPLICA#PID.START`
    /// (`with_replica`), unique per process, its prefix stable across
    /// restarts of one replica.
    owner: Arc<str>,
    /// The URL it was opened with, for connections of their own (listening,
    /// leading). Never logged.
    url: PrivateUrl,
}

/// A database URL that shows its password to nobody (`Debug` redacts it).
#[derive(Clone)]
struct PrivateUrl(Arc<str>);

impl std::fmt::Debug for PrivateUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::ops::Deref for PrivateUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Store {
    /// Open (creating if missing) and migrate the database at `url`:
    /// `sqlite://PATH` or `postgres://USER@HOST[:PORT]/DB`.
    pub async fn open(url: &str, durability: Durability) -> StoreResult<Store> {
        Self::open_pooled(url, durability, DEFAULT_MAX_CONNECTIONS).await
    }

    /// [`Store::open`] with at most `max_connections` pooled connections on
    /// PostgreSQL (`database_max_connections`; SQLite has its own fixed set).
    pub async fn open_pooled(url: &str, durability: Durability, max_connections: u32) -> StoreResult<Store> {
        let engine = Engine::of(url)?;
        let opened = match engine {
            Engine::SQLite => engine::sqlite::open(url, durability).await,
            Engine::PostgreSQL => engine::postgres::open(url, max_connections).await,
        };
        // One line that names the database, whatever went wrong.
        let (writer, reader) = opened.map_err(|e| match e {
            StoreError::Setup(_) => e,
            other => StoreError::Setup(format!(
                "opening the {} database {}: {other}",
                engine.name(),
                redact_url(url).trim_start_matches("sqlite://")
            )),
        })?;
        Ok(Store {
            writer,
            reader,
            engine,
            durability,
            inbound_waiting: Arc::new(AtomicUsize::new(0)),
            clock: Clock::default(),
            owner: lease_owner("local").into(),
            url: PrivateUrl(url.into()),
        })
    }

    /// Is there a database at `url` already (for tools that read a host's
    /// database and must not create an empty one)?
    pub async fn exists(url: &str) -> StoreResult<bool> {
        match Engine::of(url)? {
            Engine::SQLite => {
                let path = url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
                Ok(std::path::Path::new(path).exists())
            }
            Engine::PostgreSQL => engine::postgres::exists(url).await,
        }
    }

    /// The engine it runs on.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Name this process's leases after `replica` (a stable name per
    /// replica: restarting it releases the leases its earlier run held).
    pub fn with_replica(mut self, replica: &str) -> Store {
        self.owner = lease_owner(replica).into();
        self
    }

    /// This process's name on its leases and announcements (`REPLICA#PID.START`).
    pub fn process(&self) -> &str {
        &self.owner
    }

    /// Use `clock` for every time the store writes or compares.
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// Now, in milliseconds since the Unix epoch, by the store's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A read transaction in which every statement sees the same snapshot,
    /// on both engines (see [`Engine::snapshot`]).
    async fn snapshot(&self) -> StoreResult<sqlx::Transaction<'static, Any>> {
        let mut tx = self.reader.begin().await?;
        if let Some(statement) = self.engine.snapshot() {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// A transaction for background work that a crash can only make happen
    /// again — claiming jobs and sends, filing messages in tickets, a batch's
    /// outcomes (replies are queued with idempotency keys): on PostgreSQL
    /// with `normal` durability its commit does not wait for the WAL flush
    /// (`synchronous_commit = off`; the server flushes within 200 ms). What
    /// is acknowledged to a provider or a person — inbound messages, sends'
    /// results, admin and agent changes — always waits.
    async fn begin_background(&self) -> StoreResult<sqlx::Transaction<'static, Any>> {
        if self.engine == Engine::PostgreSQL && self.durability == Durability::Normal {
            // One round trip: both statements in one simple query.
            return Ok(self.writer.begin_with("BEGIN; SET LOCAL synchronous_commit TO OFF").await?);
        }
        Ok(self.writer.begin().await?)
    }

    /// Release, at start-up, the leases an earlier run of this process held,
    /// so its work is taken up at once instead of when the leases run out.
    /// On SQLite one process owns the database, so that is every lease; on
    /// PostgreSQL, which replicas share, only those of this replica's earlier
    /// runs: other replicas' leases are theirs until they stop renewing them.
    pub async fn release_leases(&self) -> StoreResult<(u64, u64)> {
        match self.engine {
            Engine::SQLite => self.release_leases_of(inbound::Leases::All).await,
            Engine::PostgreSQL => {
                let replica = self.owner.split_once('#').map_or(self.owner.as_ref(), |(r, _)| r).to_string();
                self.release_leases_of(inbound::Leases::EarlierRunsOf(&replica)).await
            }
        }
    }

    /// Called by background writers before they take the writer: let waiting
    /// webhook writes go first.
    async fn after_inbound(&self) {
        while self.inbound_waiting.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

/// `REPLICA#PID.NANOS`: unique per process (two processes never share a
/// pid at the same start instant), with the replica's name before the `#`.
fn lease_owner(replica: &str) -> String {
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let replica: String = replica.chars().filter(|c| *c != '#').collect();
    format!("{replica}#{}.{started:x}", std::process::id())
}

/// Push `(v1, v2, …)` as bound parameters: the list of an `IN`.
fn push_list<'t, T>(q: &mut Sql, values: impl IntoIterator<Item = T>)
where
    T: Encode<'t, Any> + Type<Any>,
{
    q.push("(");
    let mut list = q.separated(", ");
    for v in values {
        list.push_bind(v);
    }
    q.push(")");
}

/// Push `CASE key WHEN k1 THEN v1 … END`: one value per row in a multi-row
/// `UPDATE` (portable SQL, unlike `UPDATE … FROM (VALUES …)` parameter typing).
fn push_case<'t, K, V>(q: &mut Sql, key: &str, pairs: impl IntoIterator<Item = (K, V)>)
where
    K: Encode<'t, Any> + Type<Any>,
    V: Encode<'t, Any> + Type<Any>,
{
    q.push("CASE ").push(key);
    for (k, v) in pairs {
        q.push(" WHEN ").push_bind(k).push(" THEN ").push_bind(v);
    }
    q.push(" END");
}
