//! Storage with sqlx: the only module that writes SQL. SQLite (a file in the
//! data directory, WAL) is the embedded default; the SQL sticks to what
//! PostgreSQL also accepts (`$n` parameters, `RETURNING`, `ON CONFLICT`,
//! integer millisecond times) so a PostgreSQL backend can follow.

mod consent;
mod conversations;
mod inbound;
mod outbox;
mod plugins;
mod reports;
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
pub use reports::{ReplayRow, ReportConversation, ReportData, ReportSend};
pub use tickets::{Assignee, ChangeResult, NoteRow, TicketChange, TimelineEntry};
pub use traces::{NewTrace, TraceRow};

use crate::clock::Clock;
use crate::config::Durability;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Encode, Pool, QueryBuilder, Sqlite, Type};
use std::str::FromStr;
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
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database. SQLite allows one writer at a time, so every write goes
/// through a single connection (writers queue in the pool, asynchronously,
/// instead of sleeping in SQLite's busy handler); reads use their own pool
/// and, in WAL mode, never wait for the writer.
///
/// Webhook writes come first: while an inbound batch waits for the writer,
/// background work (pipeline and outbox) does not start a new write, so an
/// acknowledgement waits for at most the transaction already running.
#[derive(Clone, Debug)]
pub struct Store {
    writer: Pool<Sqlite>,
    reader: Pool<Sqlite>,
    inbound_waiting: Arc<AtomicUsize>,
    clock: Clock,
}

impl Store {
    /// Open (creating if missing) and migrate the database at `url`.
    pub async fn open(url: &str, durability: Durability) -> StoreResult<Store> {
        let synchronous = match durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(Store { writer, reader, inbound_waiting: Arc::new(AtomicUsize::new(0)), clock: Clock::default() })
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

    /// Called by background writers before they take the writer: let waiting
    /// webhook writes go first.
    async fn after_inbound(&self) {
        while self.inbound_waiting.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
}

/// Push `(v1, v2, …)` as bound parameters: the list of an `IN`.
fn push_list<'t, T>(q: &mut QueryBuilder<Sqlite>, values: impl IntoIterator<Item = T>)
where
    T: Encode<'t, Sqlite> + Type<Sqlite>,
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
fn push_case<'t, K, V>(q: &mut QueryBuilder<Sqlite>, key: &str, pairs: impl IntoIterator<Item = (K, V)>)
where
    K: Encode<'t, Sqlite> + Type<Sqlite>,
    V: Encode<'t, Sqlite> + Type<Sqlite>,
{
    q.push("CASE ").push(key);
    for (k, v) in pairs {
        q.push(" WHEN ").push_bind(k).push(" THEN ").push_bind(v);
    }
    q.push(" END");
}
