//! PostgreSQL: one pool; the database is created if missing.

use super::super::{StoreError, StoreResult};
use super::{Engine, redact_password};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Connection, Executor, Pool};
use std::time::Duration;

/// Does the database `url` names exist?
pub async fn exists(url: &str) -> StoreResult<bool> {
    super::install_drivers();
    let (mut admin, name) = admin_connection(url).await?;
    let found = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?
        .is_some();
    let _ = admin.close().await;
    Ok(found)
}

/// A connection to the server's `postgres` database as the user of `url`,
/// and the name of the database `url` names.
async fn admin_connection(url: &str) -> StoreResult<(sqlx::AnyConnection, String)> {
    let (server, name) = url
        .split_once('?')
        .map_or(url, |(base, _)| base)
        .rsplit_once('/')
        .filter(|(server, name)| !name.is_empty() && server.contains("://") && !server.ends_with('/'))
        .ok_or_else(|| {
            StoreError::Setup(format!("database URL `{}` names no database (…/DATABASE)", redact_password(url)))
        })?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(StoreError::Setup(format!("database name `{name}`: use letters, digits, `_` and `-`")));
    }
    let query = url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    let admin = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::AnyConnection::connect(&format!("{server}/postgres{query}")),
    )
    .await
    .map_err(|_| {
        StoreError::Setup(format!("cannot reach PostgreSQL at {}: no answer within 10 s", redact_password(url)))
    })?
    .map_err(|e| unreachable(url, e))?;
    Ok((admin, name.to_string()))
}

/// Create the database `url` names if it does not exist.
async fn ensure_database(url: &str) -> StoreResult<()> {
    let (mut admin, name) = admin_connection(url).await?;
    let name = name.as_str();
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await?
        .is_some();
    if !exists {
        // Two hosts starting at once may both try: the loser finds it made.
        if let Err(e) = admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await
            && !e.to_string().contains("already exists")
        {
            return Err(StoreError::Setup(format!("creating the PostgreSQL database `{name}`: {e}")));
        }
        tracing::info!(database = name, "created the PostgreSQL database");
    }
    let _ = admin.close().await;
    Ok(())
}

/// A connection that failed: the server did not answer, or answered no.
fn unreachable(url: &str, e: sqlx::Error) -> StoreError {
    let url = redact_password(url);
    StoreError::Setup(match e {
        sqlx::Error::Database(e) => format!("PostgreSQL at {url} refused the connection: {}", e.message()),
        sqlx::Error::Io(e) => format!("cannot reach PostgreSQL at {url}: {e}"),
        other => format!("cannot reach PostgreSQL at {url}: {other}"),
    })
}

/// Prepared statements each connection keeps, unless the URL says: a batch
/// statement has one text per batch size (`IN ($1, …, $n)`, multi-row
/// `VALUES`), so sqlx's default of 100 would evict and re-prepare (a round
/// trip and a plan) on most batches.
const STATEMENT_CACHE: u32 = 2000;

fn with_statement_cache(url: &str) -> String {
    if url.contains("statement-cache-capacity=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}statement-cache-capacity={STATEMENT_CACHE}")
}

/// Create (if missing) and migrate the database; one pool serves reads and writes.
pub async fn open(url: &str, max_connections: u32) -> StoreResult<(Pool<Any>, Pool<Any>)> {
    super::install_drivers();
    ensure_database(url).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&with_statement_cache(url))
        .await
        .map_err(|e| unreachable(url, e))?;
    let migrator = sqlx::migrate!("./migrations/postgres");
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    migrator.run(&pool).await.map_err(|e| super::migrate_error(Engine::PostgreSQL, e, known))?;
    Ok((pool.clone(), pool))
}
