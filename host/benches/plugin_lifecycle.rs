//! Plugin lifecycle on a live host: the time from uploading a new version to
//! it serving (with the component never seen before, and with the
//! precompiled cache warm), and start-up with 20 installed plugins (cold
//! cache, then warm) against start-up with none — measured in one run.
//!
//! Run: `cargo bench -p smsdesk --bench plugin_lifecycle [-- --rounds N]`.

use smsdesk::config::{Config, PluginBindingConfig, TenantConfig, UserConfig, UserRole};
use smsdesk::domain::Role;
use smsdesk::server;
use std::path::Path;
use std::time::{Duration, Instant};

const ADMIN: &str = "bench-admin-token-000001";

/// The component with a custom section appended: the same plugin, new bytes
/// (a new hash, so nothing cached matches it).
fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    let name = b"smsdesk-bench";
    let mut content = vec![name.len() as u8];
    content.extend_from_slice(name);
    content.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    let mut n = content.len();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&content);
    out
}

fn tenant(i: usize) -> TenantConfig {
    let mut t: TenantConfig = toml::from_str(&format!(
        "id = \"t{i}\"\nname = \"T{i}\"\nnumbers = [\"+1555700{i:04}\"]\nprovider = {{ kind = \"log\", auth_token = \"x\" }}\n"
    ))
    .unwrap();
    t.plugins = vec![PluginBindingConfig::new(Role::Classifier, "builtin:keyword-intents")];
    t
}

fn config(data: &Path, cache: &Path, tenants: usize) -> Config {
    Config {
        data_dir: data.to_path_buf(),
        bind: "127.0.0.1:0".parse().unwrap(),
        plugin_cache_dir: Some(cache.to_path_buf()),
        tenants: (0..tenants.max(1)).map(tenant).collect(),
        admins: vec![UserConfig {
            id: "bench".into(),
            name: "Bench".into(),
            role: UserRole::Admin,
            teams: vec![],
            token: Some(ADMIN.into()),
            token_sha256: None,
        }],
        ..Config::default()
    }
}

async fn install(base: &str, tenant: &str, bytes: Vec<u8>) -> (Duration, Duration) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let up = http
        .post(format!("{base}/admin/v1/plugins"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(up.status().is_success(), "upload: {}", up.status());
    let id = up.json::<serde_json::Value>().await.unwrap()["plugin"]["id"].clone();
    let uploaded = started.elapsed();
    let started = Instant::now();
    let bound = http
        .put(format!("{base}/admin/v1/tenants/{tenant}/bindings/responder/greeter"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "version_id": id, "grants": ["outbound-http:crm.example.com"] }))
        .send()
        .await
        .unwrap();
    assert!(bound.status().is_success(), "bind: {}", bound.status());
    (uploaded, started.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize =
        std::env::args().skip_while(|a| a != "--rounds").nth(1).and_then(|n| n.parse().ok()).unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let greeter = std::fs::read(smsdesk_artifacts::test_guests::GREETER_V2.path).unwrap();
    rt.block_on(async {
        // Upload → serving: the bind call returns after the swap, so the
        // next message uses the new version.
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let host = server::start(config(&dir.path().join("a"), &cache, 1)).await.unwrap();
        let base = format!("http://{}", host.addr);
        let stamp = std::process::id();
        let (mut cold_up, mut cold_bind, mut warm_up, mut warm_bind) = (vec![], vec![], vec![], vec![]);
        for r in 0..rounds {
            let bytes = variant(&greeter, &format!("{stamp}-{r}"));
            let (u, b) = install(&base, "t0", bytes.clone()).await;
            cold_up.push(u);
            cold_bind.push(b);
            // The same component on a second host sharing the cache: no compile.
            let d2 = tempfile::tempdir().unwrap();
            let other = server::start(config(d2.path(), &cache, 1)).await.unwrap();
            let (u, b) = install(&format!("http://{}", other.addr), "t0", bytes).await;
            warm_up.push(u);
            warm_bind.push(b);
            other.shutdown().await;
        }
        host.shutdown().await;
        println!(
            "upload → serving, component never seen: upload {} + bind {} = {} (median of {rounds}, {} KiB)",
            ms(median(cold_up.clone())),
            ms(median(cold_bind.clone())),
            ms(median(cold_up.iter().zip(&cold_bind).map(|(a, b)| *a + *b).collect())),
            greeter.len() / 1024
        );
        println!(
            "upload → serving, precompiled cache warm: upload {} + bind {} = {}",
            ms(median(warm_up.clone())),
            ms(median(warm_bind.clone())),
            ms(median(warm_up.iter().zip(&warm_bind).map(|(a, b)| *a + *b).collect()))
        );

        // Start-up with 20 installed plugins (20 tenants, each its own component).
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let data = dir.path().join("data");
        let host = server::start(config(&data, &cache, 20)).await.unwrap();
        let base = format!("http://{}", host.addr);
        for i in 0..20 {
            install(&base, &format!("t{i}"), variant(&greeter, &format!("{stamp}-startup-{i}"))).await;
        }
        host.shutdown().await;
        // Cold: a fresh cache directory, every component compiled.
        let fresh_cache = dir.path().join("cache-cold");
        let started = Instant::now();
        let host = server::start(config(&data, &fresh_cache, 20)).await.unwrap();
        let cold = started.elapsed();
        host.shutdown().await;
        let mut warm = vec![];
        for _ in 0..rounds {
            let started = Instant::now();
            let host = server::start(config(&data, &fresh_cache, 20)).await.unwrap();
            warm.push(started.elapsed());
            host.shutdown().await;
        }
        let bare_dir = tempfile::tempdir().unwrap();
        let mut bare = vec![];
        for _ in 0..rounds {
            let started = Instant::now();
            let host = server::start(config(bare_dir.path(), &cache, 20)).await.unwrap();
            bare.push(started.elapsed());
            host.shutdown().await;
        }
        println!("start-up, 20 tenants, no installed plugins (baseline): {}", ms(median(bare)));
        println!("start-up, 20 installed plugins, cache cold: {}", ms(cold));
        println!("start-up, 20 installed plugins, cache warm: {} (median of {rounds})", ms(median(warm)));
    });
}
