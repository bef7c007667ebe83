//! What differs between the engines: connection set-up and migrations
//! (`sqlite.rs`, `postgres.rs`), and the few statement fragments that cannot
//! be written once (claiming work without two workers taking the same row).

pub mod postgres;
pub mod sqlite;

use super::{StoreError, StoreResult};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// An embedded file (the default).
    SQLite,
    /// A server, shared by several hosts.
    PostgreSQL,
}

impl Engine {
    /// The engine a database URL names.
    pub fn of(url: &str) -> StoreResult<Engine> {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Engine::SQLite),
            "postgres" | "postgresql" => Ok(Engine::PostgreSQL),
            _ => Err(StoreError::Setup(format!(
                "database URL `{}` is neither sqlite://PATH nor postgres://USER@HOST/DATABASE",
                redact_password(url)
            ))),
        }
    }

    /// Its name, for logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Engine::SQLite => "SQLite",
            Engine::PostgreSQL => "PostgreSQL",
        }
    }

    /// What follows the `SELECT … LIMIT n` that picks rows to claim: on
    /// PostgreSQL, lock them and skip rows another transaction holds (two
    /// workers never take the same job); SQLite has one writer, so nothing.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Engine::SQLite => "",
            Engine::PostgreSQL => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The statement that makes claims of sends run one at a time, until the
    /// claiming transaction ends (so each sees the leases the one before it
    /// took): on PostgreSQL a transaction advisory lock, shared by every
    /// process on the database; SQLite's single writer already serialises.
    pub fn serialise_claims(self) -> Option<&'static str> {
        match self {
            Engine::SQLite => None,
            // The key: "smsdesk outbox claim", any fixed number.
            Engine::PostgreSQL => Some("SELECT pg_advisory_xact_lock(7283013001)"),
        }
    }

    /// The statement that makes a read transaction see one snapshot: SQLite's
    /// read transactions already do; PostgreSQL's default (READ COMMITTED)
    /// gives each statement its own, so a ticket read as three queries could
    /// show a reply without the outcome written with it.
    pub fn snapshot(self) -> Option<&'static str> {
        match self {
            Engine::SQLite => None,
            Engine::PostgreSQL => Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        }
    }

    /// What follows a `SELECT` of one row that the transaction will change
    /// from what it read (a cursor): on PostgreSQL, lock it until the
    /// transaction ends; SQLite's single writer already serialises.
    pub fn lock_row(self) -> &'static str {
        match self {
            Engine::SQLite => "",
            Engine::PostgreSQL => " FOR UPDATE",
        }
    }
}

/// `url` with its password (if any) replaced, for messages.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// sqlx's `Any` driver needs the drivers installed once per process.
fn install_drivers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// A migration the database has but this binary does not know: a newer
/// smsdesk migrated it. Said plainly, with both numbers.
fn migrate_error(engine: Engine, e: sqlx::migrate::MigrateError, known: i64) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => StoreError::Setup(format!(
            "the {} database was migrated by a newer smsdesk (migration {v}; this binary knows up to {known}): \
             run the newer binary, or restore a backup from before it",
            engine.name()
        )),
        other => StoreError::Migrate(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_engine_and_keep_their_password_out_of_errors() {
        assert_eq!(Engine::of("sqlite:///var/lib/smsdesk/smsdesk.db").unwrap(), Engine::SQLite);
        assert_eq!(Engine::of("postgres://postgres@127.0.0.1/smsdesk").unwrap(), Engine::PostgreSQL);
        assert_eq!(Engine::of("postgresql://u:p@db:5433/x").unwrap(), Engine::PostgreSQL);
        let err = Engine::of("mysql://root:hunter2@db/x").unwrap_err().to_string();
        assert!(err.contains("mysql://root:****@db/x") && !err.contains("hunter2"), "{err}");
        assert!(Engine::of("smsdesk.db").is_err());
    }
}
