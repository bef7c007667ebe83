//! What the sandbox hardening costs, each against its baseline in the same run:
//!
//! - compiling a component in the compile worker (a child process with a
//!   memory cap) against compiling it in this process: wall time, and how
//!   much of this process's memory stays held afterwards;
//! - a key-value write with 8,000 keys in the space: the per-space index
//!   against the old whole-space scan;
//! - cleaning a responder's reply (redaction, controls, segments) against
//!   the plugin call it follows.
//!
//! Run: `cargo bench -p smsdesk --bench hardening`.

use smsdesk::domain::Decision;
use smsdesk::plugins::{CompileLimits, KvScope, KvStore, Limits, MemoryKv, Runtime, RuntimeConfig};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A component with `n` empty core functions (what an attacker uploads).
fn many_functions(n: u32) -> Vec<u8> {
    fn leb(mut v: u32, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(body.len() as u32, out);
        out.extend_from_slice(body);
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module);
    let mut funcs = Vec::new();
    leb(n, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, n as usize));
    section(3, &funcs, &mut module);
    let mut code = Vec::new();
    leb(n, &mut code);
    for _ in 0..n {
        code.extend_from_slice(&[2, 0, 0x0b]);
    }
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component);
    component
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn compile(rt: &tokio::runtime::Runtime, worker: bool) {
    let limits = CompileLimits {
        worker: worker.then(|| env!("CARGO_BIN_EXE_smsdesk").into()),
        memory_bytes: 4 << 30,
        ..Default::default()
    };
    let runtime = Runtime::new(RuntimeConfig { compile: limits, ..Default::default() }).unwrap();
    let greeter = smsdesk_artifacts::test_guests::GREETER_V1.read().unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        rt.block_on(runtime.load("greeter", greeter.clone(), Limits::default())).unwrap();
        times.push(started.elapsed());
    }
    // A component that loads nothing but costs the compiler: 90,000 functions.
    let before = rss_kib();
    let started = Instant::now();
    let _ = rt.block_on(runtime.load("big", many_functions(90_000), Limits::default()));
    let big = started.elapsed();
    let after = rss_kib();
    println!(
        "compile {:<10} greeter (170 KiB) median {:>7.1} ms | 90,000 functions {:>6.2} s, this process's RSS {:>+7} MiB after",
        if worker { "worker" } else { "in process" },
        median(times).as_secs_f64() * 1e3,
        big.as_secs_f64(),
        (after as i64 - before as i64) / 1024
    );
}

/// The old key-value write: scan the whole space under one lock to sum its size.
#[derive(Default)]
struct ScanKv {
    scopes: std::sync::Mutex<HashMap<KvScope, HashMap<String, Vec<u8>>>>,
}

impl ScanKv {
    fn set(&self, scope: &KvScope, key: &str, value: Vec<u8>) -> bool {
        let mut s = self.scopes.lock().unwrap();
        let map = s.entry(scope.clone()).or_default();
        let used: usize = map.iter().filter(|(k, _)| k.as_str() != key).map(|(k, v)| k.len() + v.len()).sum();
        if used + key.len() + value.len() > 1 << 20 {
            return false;
        }
        map.insert(key.to_string(), value);
        true
    }
}

fn kv(rt: &tokio::runtime::Runtime) {
    let scope = KvScope { plugin: "qa/kv".into(), tenant: "acme".into() };
    let indexed = MemoryKv::default();
    let scan = ScanKv::default();
    for i in 0..8_000 {
        rt.block_on(indexed.set(&scope, &format!("key-{i:05}"), vec![0; 64])).unwrap();
        scan.set(&scope, &format!("key-{i:05}"), vec![0; 64]);
    }
    let n = 2_000;
    let started = Instant::now();
    for i in 0..n {
        rt.block_on(indexed.set(&scope, &format!("key-{:05}", i % 8_000), vec![1; 64])).unwrap();
    }
    let indexed_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    let started = Instant::now();
    for i in 0..n {
        assert!(scan.set(&scope, &format!("key-{:05}", i % 8_000), vec![1; 64]));
    }
    let scan_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "kv write at 8,000 keys: per-space index {indexed_us:>8.2} µs | whole-space scan (before) {scan_us:>8.2} µs ({:.0}×)",
        scan_us / indexed_us
    );
}

fn cleaning(rt: &tokio::runtime::Runtime) {
    let reply = "Hi Ana! Your order #1042 is in transit, expected Tuesday. Track it here: https://example.com/track";
    let limits = Limits::default();
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        let mut d =
            Decision { reply: Some(reply.into()), add_tags: vec!["order-status".into()], ..Decision::default() };
        std::hint::black_box(smsdesk::plugins::limits::clean_decision(&limits, &mut d).unwrap());
    }
    let clean_us = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    let per = |f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..n {
            f();
        }
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let redact_us = per(&|| {
        std::hint::black_box(smsdesk::messaging::redact::redact(std::hint::black_box(reply)));
    });
    let segments_us = per(&|| {
        std::hint::black_box(smsdesk::messaging::segments::analyze(std::hint::black_box(reply)));
    });
    println!("  of which: redaction {redact_us:.2} µs, segment count {segments_us:.2} µs");
    // The call it follows: the first-party responder, fresh instance.
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let faq = rt
        .block_on(runtime.load(
            "faq-responder",
            smsdesk_artifacts::first_party::FAQ_RESPONDER.read().unwrap(),
            Limits::default(),
        ))
        .unwrap();
    let msg = smsdesk::domain::InboundMessage {
        id: "m".into(),
        tenant: "acme".into(),
        from: "+15551234567".into(),
        to: "+15557650100".into(),
        body: "what are your hours".into(),
        received_at: "2026-12-01T00:00:00Z".into(),
        media_urls: vec![],
    };
    let ctx = smsdesk::domain::ConversationContext { conversation_id: "c".into(), history: vec![], profile: None };
    let call = smsdesk::plugins::CallContext { tenant: "acme".into(), ..Default::default() };
    let calls = 500;
    let started = Instant::now();
    for _ in 0..calls {
        rt.block_on(faq.respond(&call, &msg, &ctx, &[])).unwrap();
    }
    let call_us = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
    println!(
        "cleaning a {}-character reply {clean_us:>6.2} µs | the responder call it follows {call_us:>7.1} µs ({:.1} % of it, cleaning included)",
        reply.len(),
        clean_us / call_us * 100.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!(
        "hardening, {} ({} cores)",
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // The worker first: whatever the in-process compile keeps cannot blur it.
    compile(&rt, true);
    compile(&rt, false);
    kv(&rt);
    cleaning(&rt);
}
