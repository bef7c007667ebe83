//! SQLite: a file, WAL, one writer connection and a read-only pool.

use super::super::StoreResult;
use super::Engine;
use crate::config::Durability;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Executor, Pool};

/// `url` with `mode` set (`rwc`: create if missing; `ro`: read only).
fn with_mode(url: &str, mode: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode={mode}")
}

/// Open the file (creating it if missing), migrate it, and return the
/// single writer and the read pool.
pub async fn open(url: &str, durability: Durability) -> StoreResult<(Pool<Any>, Pool<Any>)> {
    super::install_drivers();
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA synchronous = {synchronous}"))).await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(&with_mode(url, "rwc"))
        .await?;
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    migrator.run(&writer).await.map_err(|e| super::migrate_error(Engine::SQLite, e, known))?;
    let reader = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                Ok(())
            })
        })
        .connect(&with_mode(url, "ro"))
        .await?;
    Ok((writer, reader))
}
