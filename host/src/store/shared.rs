//! State replicas share: the plugin key-value store and uploaded components.
//! Written once for both engines.

use super::{Store, StoreResult};
use sqlx::Row;

/// Why a key-value write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvRefused {
    /// The space would hold more than its quota.
    Quota,
}

impl Store {
    /// A key of a plugin's space (`plugin` is the space's name: the plugin's
    /// identity, a shadow candidate's with its suffix).
    pub async fn kv_get(&self, tenant: &str, plugin: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query("SELECT value FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3")
            .bind(tenant)
            .bind(plugin)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| r.get::<Vec<u8>, _>(0)))
    }

    /// Write a key, if the space stays within `quota` bytes (keys + values).
    /// The space's row is locked for the transaction, so two replicas
    /// writing one space at once are counted one after the other. A write
    /// commits like background work (`begin_background`): the plugin is
    /// waiting inside its deadline, and a crash can lose at most the last
    /// fraction of a second of key-value writes, never a message.
    pub async fn kv_set(
        &self,
        tenant: &str,
        plugin: &str,
        key: &str,
        value: &[u8],
        quota: i64,
    ) -> StoreResult<Result<(), KvRefused>> {
        let mut tx = self.begin_background().await?;
        let used = lock_space(&mut tx, tenant, plugin).await?;
        let old: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(LENGTH(value) AS BIGINT) FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let key_len = key.len() as i64;
        let used = used - old.map_or(0, |n| n + key_len) + key_len + value.len() as i64;
        if used > quota {
            tx.rollback().await?;
            return Ok(Err(KvRefused::Quota));
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant_id, plugin, key, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, plugin, key) DO UPDATE SET value = excluded.value",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(key)
        .bind(value.to_vec())
        .execute(&mut *tx)
        .await?;
        set_used(&mut tx, tenant, plugin, used).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Remove a key (nothing if it is not there).
    pub async fn kv_delete(&self, tenant: &str, plugin: &str, key: &str) -> StoreResult<()> {
        let mut tx = self.begin_background().await?;
        let used = lock_space(&mut tx, tenant, plugin).await?;
        let removed: Option<i64> = sqlx::query_scalar(
            "DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin = $2 AND key = $3
             RETURNING CAST(LENGTH(value) AS BIGINT)",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(n) = removed {
            set_used(&mut tx, tenant, plugin, used - n - key.len() as i64).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bytes (keys + values) a space holds.
    pub async fn kv_used(&self, tenant: &str, plugin: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT used FROM plugin_kv_spaces WHERE tenant_id = $1 AND plugin = $2")
            .bind(tenant)
            .bind(plugin)
            .fetch_optional(&self.reader)
            .await?
            .unwrap_or(0))
    }

    /// An uploaded component's bytes, by content hash.
    pub async fn plugin_component(&self, sha256: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query("SELECT bytes FROM plugin_components WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.reader)
            .await?
            .map(|r| r.get::<Vec<u8>, _>(0)))
    }
}

/// Make the space's row if it is missing and lock it for the transaction
/// (PostgreSQL: the row lock of the conflict's `UPDATE`; SQLite: the one
/// writer), in one statement. Returns the bytes it holds.
async fn lock_space(tx: &mut sqlx::Transaction<'static, sqlx::Any>, tenant: &str, plugin: &str) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO plugin_kv_spaces (tenant_id, plugin, used) VALUES ($1, $2, 0)
         ON CONFLICT (tenant_id, plugin) DO UPDATE SET used = plugin_kv_spaces.used RETURNING used",
    )
    .bind(tenant)
    .bind(plugin)
    .fetch_one(&mut **tx)
    .await?)
}

async fn set_used(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &str,
    plugin: &str,
    used: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE plugin_kv_spaces SET used = $3 WHERE tenant_id = $1 AND plugin = $2")
        .bind(tenant)
        .bind(plugin)
        .bind(used)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
