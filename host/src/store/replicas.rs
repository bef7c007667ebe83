//! What replicas on one database tell each other, and which of them leads
//! work that must run in one place at a time. PostgreSQL: `NOTIFY`/`LISTEN`
//! and a session advisory lock. SQLite has one process, which hears nothing
//! from others and always leads.

use super::{Engine, Store, StoreResult};
use sqlx::Connection as _;

/// A channel replicas announce changes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A tenant's plugin set changed (an admin action).
    Plugins,
    /// Tickets changed (live events for the inbox).
    Tickets,
}

impl Channel {
    const ALL: [Channel; 2] = [Channel::Plugins, Channel::Tickets];

    fn name(self) -> &'static str {
        match self {
            Channel::Plugins => "smsdesk_plugins",
            Channel::Tickets => "smsdesk_tickets",
        }
    }
}

/// The longest payload an announcement carries (PostgreSQL refuses 8,000
/// bytes and more).
pub const MAX_ANNOUNCEMENT: usize = 7_900;

/// What a listener heard.
#[derive(Debug)]
pub enum Heard {
    /// An announcement.
    Announcement {
        /// Where.
        channel: Channel,
        /// What (the announcer's text).
        payload: String,
    },
    /// The connection was lost and made again: announcements may have been
    /// missed in between.
    Reconnected,
}

/// A connection that hears announcements.
pub struct Listener {
    inner: sqlx::postgres::PgListener,
    /// The connection was lost and making it again failed.
    lost: bool,
}

impl Listener {
    /// The next announcement, or word that some may have been missed (the
    /// connection was lost; it is listening again when this returns). An
    /// error is a reconnect that failed: the next call tries again.
    pub async fn next(&mut self) -> StoreResult<Heard> {
        if self.lost {
            // `LISTEN` again, on a new connection.
            self.inner.listen_all(Channel::ALL.map(Channel::name)).await?;
            self.lost = false;
            return Ok(Heard::Reconnected);
        }
        loop {
            match self.inner.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(channel) = Channel::ALL.into_iter().find(|c| c.name() == n.channel()) {
                        return Ok(Heard::Announcement { channel, payload: n.payload().to_string() });
                    }
                }
                // Lost, and listening again on a new connection.
                Ok(None) => return Ok(Heard::Reconnected),
                Err(e) => {
                    self.lost = true;
                    return Err(e.into());
                }
            }
        }
    }
}

/// This process leads work that runs in one place at a time, while it holds
/// the lock (PostgreSQL: a session advisory lock on a connection of its own,
/// which the server releases when that connection ends, however the process
/// ended).
pub struct Leadership {
    connection: Option<sqlx::PgConnection>,
}

impl Leadership {
    /// Is the lock still held? (The lock's connection answers.) A leader that
    /// lost it must stop and try to lead again.
    pub async fn held(&mut self) -> bool {
        match &mut self.connection {
            None => true,
            Some(c) => c.ping().await.is_ok(),
        }
    }
}

/// What `/readyz` reports about the database.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The newest migration applied to the database.
    pub applied: i64,
    /// The newest this binary knows.
    pub known: i64,
}

impl Store {
    /// The database answers: which migrations it has, against this binary's.
    pub async fn schema(&self) -> StoreResult<Schema> {
        let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.reader)
            .await?;
        let known = match self.engine {
            Engine::SQLite => sqlx::migrate!("./migrations/sqlite").iter().map(|m| m.version).max(),
            Engine::PostgreSQL => sqlx::migrate!("./migrations/postgres").iter().map(|m| m.version).max(),
        };
        Ok(Schema { applied: applied.unwrap_or(0), known: known.unwrap_or(0) })
    }

    /// Announce `payload` on `channel` to every replica listening (this one
    /// too). Nothing on SQLite.
    pub async fn announce(&self, channel: Channel, payload: &str) -> StoreResult<()> {
        if self.engine == Engine::PostgreSQL {
            sqlx::query("SELECT pg_notify($1, $2)").bind(channel.name()).bind(payload).execute(&self.writer).await?;
        }
        Ok(())
    }

    /// Listen to every channel; `None` on SQLite, where no other process
    /// announces anything.
    pub async fn listen(&self) -> StoreResult<Option<Listener>> {
        if self.engine != Engine::PostgreSQL {
            return Ok(None);
        }
        let mut inner = sqlx::postgres::PgListener::connect(&self.url).await?;
        inner.listen_all(Channel::ALL.map(Channel::name)).await?;
        Ok(Some(Listener { inner, lost: false }))
    }

    /// Try to lead `work` (one name per kind of work): `Some` if this process
    /// now holds its lock, `None` if another one does. SQLite: always leads.
    pub async fn lead(&self, work: &str) -> StoreResult<Option<Leadership>> {
        if self.engine != Engine::PostgreSQL {
            return Ok(Some(Leadership { connection: None }));
        }
        let mut connection = sqlx::PgConnection::connect(&self.url).await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1)::bigint)")
            .bind(format!("smsdesk:{work}"))
            .fetch_one(&mut connection)
            .await?;
        if got {
            Ok(Some(Leadership { connection: Some(connection) }))
        } else {
            let _ = connection.close().await;
            Ok(None)
        }
    }
}
