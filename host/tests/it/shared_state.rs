//! State replicas share, on both engines: the plugin key-value store (one
//! quota per space, held when two processes write one space at once) and
//! uploaded components, kept in the database.

use smsdesk::config::{Config, Durability};
use smsdesk::store::{KvRefused, Store};

async fn open(dir: &std::path::Path) -> Store {
    let url =
        Config { data_dir: dir.to_path_buf(), database_url: crate::support::database_url(dir), ..Config::default() }
            .database_url();
    std::fs::create_dir_all(dir).unwrap();
    Store::open(&url, Durability::Normal).await.expect("store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_writing_one_space_at_once_never_pass_its_quota() {
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one database: two processes, two pools.
    let (one, two) = (open(dir.path()).await, open(dir.path()).await);
    let quota = 10_000i64;
    let value = vec![7u8; 995];
    // 24 writers, 12 on each, each a new 5-byte key with a 995-byte value:
    // 1,000 bytes each, so exactly 10 fit.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..24 {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        let value = value.clone();
        writers.spawn(
            async move { store.kv_set("acme", "qa/counter", &format!("k{i:04}"), &value, quota).await.unwrap() },
        );
    }
    let results = writers.join_all().await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results.iter().filter(|r| **r == Err(KvRefused::Quota)).count();
    assert_eq!((accepted, refused), (10, 14));
    assert_eq!(one.kv_used("acme", "qa/counter").await.unwrap(), 10_000);

    // What one process wrote, the other reads; another tenant's space is empty.
    let written: Vec<String> = (0..24).map(|i| format!("k{i:04}")).collect();
    let mut found = 0;
    for key in &written {
        if let Some(v) = two.kv_get("acme", "qa/counter", key).await.unwrap() {
            assert_eq!(v, value);
            found += 1;
        }
        assert_eq!(one.kv_get("globex", "qa/counter", key).await.unwrap(), None);
    }
    assert_eq!(found, 10);
    // Full: a new key is refused, a smaller value for a present key fits and
    // frees what it no longer uses; a delete frees its key and value.
    let mut present = None;
    for key in &written {
        if one.kv_get("acme", "qa/counter", key).await.unwrap().is_some() {
            present = Some(key.clone());
            break;
        }
    }
    let present = present.unwrap();
    assert_eq!(one.kv_set("acme", "qa/counter", "new-key", b"x", quota).await.unwrap(), Err(KvRefused::Quota));
    assert_eq!(two.kv_set("acme", "qa/counter", &present, b"small", quota).await.unwrap(), Ok(()));
    assert_eq!(one.kv_used("acme", "qa/counter").await.unwrap(), 10_000 - 995 + 5);
    one.kv_delete("acme", "qa/counter", &present).await.unwrap();
    one.kv_delete("acme", "qa/counter", "never-written").await.unwrap();
    assert_eq!(two.kv_used("acme", "qa/counter").await.unwrap(), 9_000);
    assert_eq!(two.kv_get("acme", "qa/counter", &present).await.unwrap(), None);
    // Another tenant's space has a quota of its own.
    assert_eq!(two.kv_set("globex", "qa/counter", "k", &value, quota).await.unwrap(), Ok(()));
}
