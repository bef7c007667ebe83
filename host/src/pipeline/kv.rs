//! The plugins' key-value store, kept in the database: every replica sees
//! what a plugin wrote on another, and it outlives restarts. The quota is
//! per space (one plugin serving one tenant), counted in the database.

use crate::plugins::{KvError, KvFuture, KvScope, KvStore};
use crate::store::{KvRefused, Store};

/// [`KvStore`] over the [`Store`].
#[derive(Debug, Clone)]
pub struct StoreKv {
    store: Store,
    quota: i64,
}

impl StoreKv {
    /// Keys in `store`, at most `quota` bytes (keys + values) per space.
    pub fn new(store: Store, quota: usize) -> StoreKv {
        StoreKv { store, quota: quota as i64 }
    }
}

fn unavailable(e: crate::store::StoreError) -> KvError {
    tracing::error!(error = %e, "plugin key-value store failed");
    KvError::Unavailable
}

impl KvStore for StoreKv {
    fn get<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { self.store.kv_get(&scope.tenant, &scope.plugin, key).await.map_err(unavailable) })
    }

    fn set<'a>(&'a self, scope: &'a KvScope, key: &'a str, value: Vec<u8>) -> KvFuture<'a, ()> {
        Box::pin(async move {
            match self.store.kv_set(&scope.tenant, &scope.plugin, key, &value, self.quota).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(KvRefused::Quota)) => Err(KvError::QuotaExceeded),
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn delete<'a>(&'a self, scope: &'a KvScope, key: &'a str) -> KvFuture<'a, ()> {
        Box::pin(async move { self.store.kv_delete(&scope.tenant, &scope.plugin, key).await.map_err(unavailable) })
    }
}
