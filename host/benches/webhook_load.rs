//! Load on the whole host over real HTTP on 127.0.0.1: SQLite on disk and,
//! with `--database-url postgres://…`, PostgreSQL too, side by side.
//!
//! For each engine (SQLite at both durability settings): (1) throughput — N signed inbound webhooks
//! posted by C concurrent clients; the figure is messages per second until
//! every message is fully processed (its reply queued in the outbox); (2)
//! latency — webhooks posted open-loop at a fixed rate, p50/p99 of the
//! webhook's response time. In the same run, a bare axum handler that parses
//! the same form and answers the same TwiML is measured the same way: the
//! ceiling of this machine and client.
//!
//! Run: `cargo bench -p smsdesk --bench webhook_load` (options after `--`:
//! `--messages N --concurrency C --rate R --seconds S --database-url URL
//! --pg-workers W --postgres-only --statements`; the last prints each
//! statement's count and the time waited for it). A PostgreSQL run uses a fresh database named after URL's
//! (`…_bench_<pid>`), dropped afterwards.
//!
//! With `--replicas 1,2` (and `--database-url`) it measures `smsdesk serve`
//! processes instead, all on one fresh PostgreSQL database, the webhooks
//! spread across them round robin (signed for one public URL, as behind a
//! load balancer): throughput, p99, each replica's CPU time per message
//! and its resident memory at rest and at its peak under load.
//!
//! After the timed parts, each engine processes 1,000 more messages while
//! the bench counts the SQL statements sqlx executes (its `sqlx::query`
//! events; the bench's own polling subtracted) and, on PostgreSQL, the
//! transactions committed (`pg_stat_database.xact_commit`): statements and
//! commits per message, the round trips each engine pays.

use smsdesk::config::{Config, Durability, PluginBindingConfig, ProviderConfig, TenantConfig};
use smsdesk::domain::Role;
use smsdesk::messaging::signature;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts sqlx's statement events while `COUNTING` is set; asks for
/// nothing otherwise (so the timed parts pay only a flag check).
struct StatementCounter;
static COUNTING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: tracing_subscriber::layer::Context<'_, S>) -> bool {
        COUNTING.load(Ordering::Relaxed) && meta.target() == "sqlx::query"
    }
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
            if BY_TEXT.load(Ordering::Relaxed) {
                let mut visit = StatementText::default();
                event.record(&mut visit);
                let text = if visit.statement.trim().is_empty() { visit.summary } else { visit.statement };
                let key: String = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(90).collect();
                let mut by = STATEMENT_TEXTS.lock().unwrap();
                let entry = by.entry(key).or_insert((0, 0.0));
                entry.0 += 1;
                entry.1 += visit.elapsed;
            }
        }
    }
}

/// With `--statements`: each statement's text (its first 90 characters),
/// how often it ran and the time sqlx waited for it, while counting.
static BY_TEXT: AtomicBool = AtomicBool::new(false);
static STATEMENT_TEXTS: std::sync::Mutex<std::collections::BTreeMap<String, (u64, f64)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

#[derive(Default)]
struct StatementText {
    summary: String,
    statement: String,
    elapsed: f64,
}

impl tracing::field::Visit for StatementText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.statement = value.to_string(),
            _ => {}
        }
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed = value;
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "summary" => self.summary = format!("{value:?}"),
            "db.statement" => self.statement = format!("{value:?}"),
            _ => {}
        }
    }
}

const NUMBER: &str = "+15557650100";
const TOKEN: &str = "bench-token";
const TEXTS: [&str; 4] =
    ["Where is my order? Tracking hasn't moved", "What are your hours?", "I want a refund", "hello there"];

struct Options {
    messages: usize,
    concurrency: usize,
    rate: u64,
    seconds: u64,
    database_url: Option<String>,
    pg_workers: Vec<usize>,
    /// Skip the SQLite runs (`--postgres-only`), e.g. while profiling.
    postgres_only: bool,
    /// `--replicas 1,2`: instead of the in-process runs, `smsdesk serve`
    /// processes on one PostgreSQL database (needs `--database-url`).
    replicas: Vec<usize>,
    /// `--replica-workers W`: each replica's `pipeline_workers` (default:
    /// the host's default, as a user runs it).
    replica_workers: Option<usize>,
    /// `--memory`: a replica's memory by tenants bound and calls served.
    memory: bool,
    /// `--rounds R` (with `--memory`): rounds of 10 messages per tenant.
    rounds: usize,
    /// `--tenants-only F,J` (with `--memory`): only F first-party and J
    /// JavaScript tenants.
    tenants_only: Option<(usize, usize)>,
}

fn options() -> Options {
    let mut o = Options {
        messages: 5000,
        concurrency: 32,
        rate: 500,
        seconds: 10,
        database_url: None,
        pg_workers: vec![1, 4],
        postgres_only: false,
        replicas: Vec::new(),
        replica_workers: None,
        memory: false,
        rounds: 5,
        tenants_only: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match args[i].as_str() {
            "--messages" => o.messages = value().expect("--messages N") as usize,
            "--concurrency" => o.concurrency = value().expect("--concurrency C") as usize,
            "--rate" => o.rate = value().expect("--rate R"),
            "--seconds" => o.seconds = value().expect("--seconds S"),
            "--database-url" => o.database_url = Some(args.get(i + 1).expect("--database-url URL").clone()),
            "--statements" => {
                BY_TEXT.store(true, Ordering::Relaxed);
                i += 1;
                continue;
            }
            "--postgres-only" => {
                o.postgres_only = true;
                i += 1;
                continue;
            }
            "--memory" => {
                o.memory = true;
                i += 1;
                continue;
            }
            "--tenants-only" => {
                let v: Vec<usize> = args
                    .get(i + 1)
                    .expect("--tenants-only F,J")
                    .split(',')
                    .map(|n| n.parse().expect("--tenants-only F,J"))
                    .collect();
                o.tenants_only = Some((v[0], v.get(1).copied().unwrap_or(0)));
            }
            "--rounds" => o.rounds = value().expect("--rounds R") as usize,
            "--replica-workers" => o.replica_workers = Some(value().expect("--replica-workers W") as usize),
            "--replicas" => {
                o.replicas = args
                    .get(i + 1)
                    .expect("--replicas 1,2")
                    .split(',')
                    .map(|w| w.parse().expect("--replicas 1,2"))
                    .collect()
            }
            "--pg-workers" => {
                o.pg_workers = args
                    .get(i + 1)
                    .expect("--pg-workers 1,4")
                    .split(',')
                    .map(|w| w.parse().expect("--pg-workers 1,4"))
                    .collect()
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// CPU time so far, in seconds: this process (host and client), the
/// PostgreSQL server's processes, and the machine's steal and idle time
/// (from `/proc`; zeros elsewhere). Wall-clock figures on a shared VM swing
/// with the hypervisor's steal; CPU seconds per message do not.
#[derive(Clone, Copy, Default)]
struct Cpu {
    own: f64,
    postgres: f64,
    steal: f64,
    idle: f64,
    total: f64,
}

fn cpu_now() -> Cpu {
    let ticks = 100.0; // USER_HZ on Linux
    let stat_times = |path: std::path::PathBuf| -> Option<(String, f64)> {
        let text = std::fs::read_to_string(path).ok()?;
        let (head, rest) = text.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_string();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((comm, (utime + stime) / ticks))
    };
    let mut cpu = Cpu { own: stat_times("/proc/self/stat".into()).map_or(0.0, |(_, t)| t), ..Cpu::default() };
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit())
                && let Some((comm, t)) = stat_times(entry.path().join("stat"))
                && (comm == "postgres" || comm == "postmaster")
            {
                cpu.postgres += t;
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/stat")
        && let Some(line) = text.lines().next()
    {
        let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        if v.len() >= 8 {
            cpu.idle = (v[3] + v[4]) / ticks;
            cpu.steal = v[7] / ticks;
            cpu.total = v[..8].iter().sum::<f64>() / ticks;
        }
    }
    cpu
}

/// "host 0.61 + PostgreSQL 0.40 ms CPU per message; machine: 12 % steal, 20 % idle".
fn cpu_report(before: Cpu, after: Cpu, messages: usize) -> String {
    let per = |a: f64, b: f64| (a - b) * 1000.0 / messages as f64;
    let total = (after.total - before.total).max(1e-9);
    let postgres = if after.postgres > 0.0 {
        format!(" + PostgreSQL {:.2}", per(after.postgres, before.postgres))
    } else {
        String::new()
    };
    format!(
        "host and client {:.2}{postgres} ms CPU per message; machine: {:.0} % steal, {:.0} % idle",
        per(after.own, before.own),
        (after.steal - before.steal) * 100.0 / total,
        (after.idle - before.idle) * 100.0 / total
    )
}

/// A pre-signed webhook request (signing is not part of what is measured).
#[derive(Clone)]
struct Request {
    body: String,
    signature: String,
}

fn requests(url: &str, prefix: &str, n: usize) -> Vec<Request> {
    (0..n)
        .map(|i| {
            let sid = format!("SM{prefix}{i:010}");
            let from = format!("+1555{:07}", i % 1000);
            let params: Vec<(String, String)> = [
                ("MessageSid", sid.as_str()),
                ("AccountSid", "ACbench"),
                ("From", from.as_str()),
                ("To", NUMBER),
                ("Body", TEXTS[i % TEXTS.len()]),
                ("NumMedia", "0"),
                ("SmsStatus", "received"),
                ("ApiVersion", "2010-04-01"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let signature = signature::sign(TOKEN, url, &params);
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
            Request { body, signature }
        })
        .collect()
}

async fn post(client: &reqwest::Client, url: &str, r: &Request) -> Duration {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", &r.signature)
        .body(r.body.clone())
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    let _ = response.bytes().await;
    started.elapsed()
}

/// Post all requests with `concurrency` clients; returns when all were acknowledged.
async fn burst(url: &str, reqs: Vec<Request>, concurrency: usize) {
    let client = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(reqs));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, queue, url) = (client.clone(), queue.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(r) = next else { break };
                post(&client, &url, &r).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Post at a fixed rate (open loop) and return sorted latencies.
async fn fixed_rate(url: &str, reqs: Vec<Request>, rate: u64) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(reqs.len());
    for (i, r) in reqs.into_iter().enumerate() {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move { post(&client, &url, &r).await }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    latencies
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn tenant() -> TenantConfig {
    TenantConfig {
        id: "bench".into(),
        name: "Bench".into(),
        numbers: vec![NUMBER.into()],
        messaging_service_sid: None,
        time_zone: "America/New_York".into(),
        help_text: None,
        api_token: None,
        provider: ProviderConfig::Log { auth_token: TOKEN.into() },
        plugins: vec![
            PluginBindingConfig::new(Role::Crm, "builtin:demo-crm"),
            PluginBindingConfig::new(Role::Classifier, "builtin:keyword-intents"),
            PluginBindingConfig::new(Role::Responder, "builtin:faq-responder"),
        ],
        consent: Default::default(),
        templates: Default::default(),
        users: Vec::new(),
        tickets: smsdesk::tickets::TicketsConfig { business_hours: vec!["24/7".into()], ..Default::default() },
    }
}

async fn smsdesk_run(o: &Options, durability: Durability, database_url: Option<String>, workers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = match &database_url {
        Some(_) => format!("PostgreSQL, {workers} pipeline worker{}", if workers == 1 { "" } else { "s" }),
        None => format!("SQLite {durability:?}"),
    };
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        database_url: database_url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        durability,
        pipeline_workers: workers,
        tenants: vec![tenant()],
        ..Config::default()
    };
    let server = smsdesk::server::start(config).await.unwrap();
    let url = format!("http://{}/webhooks/twilio/sms", server.addr);

    // Warm up (plugin cache, connections, SQLite pages).
    burst(&url, requests(&url, "warm", 200), o.concurrency).await;
    wait_processed(&server).await;

    let reqs = requests(&url, "load", o.messages);
    let cpu_before = cpu_now();
    let started = Instant::now();
    burst(&url, reqs, o.concurrency).await;
    let acked = started.elapsed();
    wait_processed(&server).await;
    let processed = started.elapsed();
    let cpu = cpu_report(cpu_before, cpu_now(), o.messages);
    let per_sec = o.messages as f64 / processed.as_secs_f64();
    println!(
        "smsdesk ({engine}): {} messages, {} clients: acknowledged in {:.2} s, all replies queued after {:.2} s = {:.0} messages/s fully processed; {cpu}",
        o.messages,
        o.concurrency,
        acked.as_secs_f64(),
        processed.as_secs_f64(),
        per_sec
    );

    let n = (o.rate * o.seconds) as usize;
    let lat = fixed_rate(&url, requests(&url, "rate", n), o.rate).await;
    println!(
        "smsdesk ({engine}): {} webhooks at {}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        n,
        o.rate,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    wait_processed(&server).await;

    // Statements (and PostgreSQL commits) per message, counted.
    let commits = |url: Option<String>| async move {
        let url = url?;
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        Some(n)
    };
    const COUNTED: usize = 1000;
    let commits_before = commits(database_url.clone()).await;
    STATEMENTS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    burst(&url, requests(&url, "count", COUNTED), o.concurrency).await;
    let polls = wait_settled(&server).await;
    COUNTING.store(false, Ordering::Relaxed);
    // pg_stat_database is updated when a backend reports; give it a moment.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let commits_after = commits(database_url.clone()).await;
    let statements = STATEMENTS.load(Ordering::Relaxed).saturating_sub(polls);
    let commits = match (commits_before, commits_after) {
        (Some(b), Some(a)) => {
            format!(", {:.2} commits per message", (a - b - polls as i64 - 1) as f64 / COUNTED as f64)
        }
        _ => String::new(),
    };
    println!(
        "smsdesk ({engine}): {COUNTED} messages counted: {:.2} SQL statements per message{commits}",
        statements as f64 / COUNTED as f64
    );
    let mut texts = std::mem::take(&mut *STATEMENT_TEXTS.lock().unwrap()).into_iter().collect::<Vec<_>>();
    texts.sort_by_key(|t| std::cmp::Reverse(t.1.0));
    for (text, (n, waited)) in texts {
        println!("  {:>7.3} per message, {:>8.1} ms waited: {text}", n as f64 / COUNTED as f64, waited * 1000.0);
    }

    server.shutdown().await;
    if let Some(url) = database_url {
        drop_database(&url).await;
    }
}

/// Drop the bench's PostgreSQL database.
async fn drop_database(url: &str) {
    use sqlx::Connection as _;
    let (server, name) = url.rsplit_once('/').unwrap();
    let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Wait until every stored message has been processed: all jobs done (each
/// reply, if the responder chose one, is then in the outbox).
/// How many times it asked (each one statement of the bench's own).
async fn wait_processed(server: &smsdesk::server::Server) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut polls = 1;
    while server.store.pending_jobs().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "processing did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
        polls += 1;
    }
    polls
}

/// Wait until every message is processed and every reply sent; how many
/// statements the bench itself ran to find out.
async fn wait_settled(server: &smsdesk::server::Server) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut statements = 0;
    loop {
        statements += 2;
        if server.store.pending_jobs().await.unwrap() == 0 && server.store.outbox_counts().await.unwrap().0 == 0 {
            return statements;
        }
        assert!(Instant::now() < deadline, "processing did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn bare_axum_run(o: &Options) {
    use axum::routing::post as route_post;
    async fn handler(body: axum::body::Bytes) -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        assert!(form.iter().any(|(k, _)| k == "MessageSid"));
        (
            [(axum::http::header::CONTENT_TYPE, "text/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>",
        )
    }
    let app = axum::Router::new().route("/webhooks/twilio/sms", route_post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/webhooks/twilio/sms");
    burst(&url, requests(&url, "warm", 200), o.concurrency).await;
    let cpu_before = cpu_now();
    let started = Instant::now();
    burst(&url, requests(&url, "load", o.messages), o.concurrency).await;
    let took = started.elapsed();
    let cpu = cpu_report(cpu_before, cpu_now(), o.messages);
    println!(
        "bare axum: {} messages, {} clients: {:.2} s = {:.0} requests/s; {cpu}",
        o.messages,
        o.concurrency,
        took.as_secs_f64(),
        o.messages as f64 / took.as_secs_f64()
    );
    let n = (o.rate * o.seconds) as usize;
    let lat = fixed_rate(&url, requests(&url, "rate", n), o.rate).await;
    println!(
        "bare axum: {} requests at {}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        n,
        o.rate,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
}

/// The public URL every replica is reached at (behind the load balancer):
/// what Twilio signs.
const PUBLIC: &str = "http://bench.example";

/// A process's CPU seconds and resident memory (MiB), from `/proc`.
fn process_cpu_rss(pid: u32) -> (f64, f64) {
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            let rest = t.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0);
    (cpu, rss)
}

/// Start `smsdesk serve --config CONFIG` listening on `port`; returns once
/// its `/readyz` says ready (or panics after five minutes).
async fn serve(config: &std::path::Path, port: u16) -> (std::process::Child, String) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_smsdesk"))
        .args(["serve", "--config"])
        .arg(config)
        .env("SMSDESK_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting smsdesk serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "{} did not become ready", config.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

/// `n` `smsdesk serve` processes on one fresh PostgreSQL database, webhooks
/// spread across them: throughput, p99 at the fixed rate, each replica's
/// CPU time per message and memory.
async fn replicas_run(o: &Options, server_url: &str, n: usize) {
    use sqlx::Connection as _;
    let db = format!("{}_replicas_{}_{n}", server_url.trim_end_matches('/'), std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let workers_line = o.replica_workers.map(|w| format!("pipeline_workers = {w}\n")).unwrap_or_default();
    let workers = o.replica_workers.map_or("the default number of".to_string(), |w| w.to_string());
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for r in 0..n {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data = dir.path().join(format!("r{r}"));
        std::fs::create_dir_all(&data).unwrap();
        let config = data.join("smsdesk.toml");
        std::fs::write(
            &config,
            format!(
                r#"database_url = "{db}"
data_dir = "{data}"
bind = "127.0.0.1:{port}"
replica_id = "r{r}"
public_base_url = "{PUBLIC}"
{workers_line}
[[tenants]]
id = "bench"
name = "Bench"
numbers = ["{NUMBER}"]
provider = {{ kind = "log", auth_token = "{TOKEN}" }}
tickets = {{ business_hours = ["24/7"] }}

[[tenants.plugins]]
role = "crm"
plugin = "builtin:demo-crm"

[[tenants.plugins]]
role = "classifier"
plugin = "builtin:keyword-intents"

[[tenants.plugins]]
role = "responder"
plugin = "builtin:faq-responder"
"#,
                data = data.display(),
            ),
        )
        .unwrap();
        // One after the other: the first creates and migrates the database.
        let (child, base) = serve(&config, port).await;
        children.push(child);
        bases.push(base);
    }
    let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
    let pending = async |conn: &mut sqlx::PgConnection| -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'pending'").fetch_one(conn).await.unwrap()
    };
    let signed_for = format!("{PUBLIC}/webhooks/twilio/sms");
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}/webhooks/twilio/sms")).collect();
    // Every replica's share of a batch of requests, round robin.
    let spread = |reqs: Vec<Request>| -> Vec<Vec<Request>> {
        let mut shares = vec![Vec::new(); n];
        for (i, r) in reqs.into_iter().enumerate() {
            shares[i % n].push(r);
        }
        shares
    };
    let burst_all = async |reqs: Vec<Request>| {
        let per = o.concurrency.div_ceil(n);
        let mut tasks = Vec::new();
        for (share, url) in spread(reqs).into_iter().zip(&urls) {
            let url = url.clone();
            tasks.push(tokio::spawn(async move { burst(&url, share, per).await }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    };
    let wait = async |conn: &mut sqlx::PgConnection| {
        while pending(conn).await > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    burst_all(requests(&signed_for, "warm", 200)).await;
    wait(&mut conn).await;
    let pids: Vec<u32> = children.iter().map(|c| c.id()).collect();
    let at_rest: Vec<(f64, f64)> = pids.iter().map(|p| process_cpu_rss(*p)).collect();
    let pg_before = cpu_now();

    // Sample memory while the burst runs.
    let peak = Arc::new(std::sync::Mutex::new(vec![0.0f64; n]));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pids) = (peak.clone(), sampling.clone(), pids.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                for (i, p) in pids.iter().enumerate() {
                    let rss = process_cpu_rss(*p).1;
                    let mut peak = peak.lock().unwrap();
                    peak[i] = peak[i].max(rss);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    burst_all(requests(&signed_for, "load", o.messages)).await;
    let acked = started.elapsed();
    wait(&mut conn).await;
    let processed = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    let after: Vec<(f64, f64)> = pids.iter().map(|p| process_cpu_rss(*p)).collect();
    let pg_after = cpu_now();
    let cpu: Vec<String> = at_rest
        .iter()
        .zip(&after)
        .enumerate()
        .map(|(i, (b, a))| format!("r{i} {:.2}", (a.0 - b.0) * 1000.0 / o.messages as f64))
        .collect();
    let memory: Vec<String> = at_rest
        .iter()
        .zip(peak.lock().unwrap().iter())
        .enumerate()
        .map(|(i, (rest, peak))| format!("r{i} {:.0} → {:.0}", rest.1, peak))
        .collect();
    println!(
        "smsdesk (PostgreSQL, {n} replica process{}, {workers} pipeline workers each): {} messages, {} clients: \
         acknowledged in {:.2} s, all replies queued after {:.2} s = {:.0} messages/s fully processed; \
         ms CPU per message: {}, PostgreSQL {:.2}; RSS MiB at rest → peak under load: {}",
        if n == 1 { "" } else { "es" },
        o.messages,
        o.concurrency,
        acked.as_secs_f64(),
        processed.as_secs_f64(),
        o.messages as f64 / processed.as_secs_f64(),
        cpu.join(", "),
        (pg_after.postgres - pg_before.postgres) * 1000.0 / o.messages as f64,
        memory.join(", "),
    );

    // Latency at the fixed rate, spread across the replicas.
    let total = (o.rate * o.seconds) as usize;
    let per_rate = (o.rate / n as u64).max(1);
    let mut tasks = Vec::new();
    for (share, url) in spread(requests(&signed_for, "rate", total)).into_iter().zip(&urls) {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { fixed_rate(&url, share, per_rate).await }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat.sort();
    println!(
        "smsdesk (PostgreSQL, {n} replica process{}): {} webhooks at {}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        if n == 1 { "" } else { "es" },
        lat.len(),
        per_rate * n as u64,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    wait(&mut conn).await;
    drop(conn);
    for mut c in children {
        let _ = std::process::Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let _ = c.wait();
    }
    drop_database(&db).await;
}

/// One `smsdesk serve` (SQLite) with `first_party` tenants on the
/// first-party plugins and `js` tenants on the JavaScript example responder:
/// resident memory at rest, then after each of `--rounds` (default 5)
/// rounds of 10 messages to every tenant — memory should follow bindings,
/// not calls served. `--tenants-only 100,20` measures one configuration.
async fn memory_run(o: &Options) {
    let js_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/example-plugins/order-desk.wasm");
    let js_path = std::env::var("SMSDESK_BENCH_JS").map(std::path::PathBuf::from).unwrap_or(js_path);
    assert!(
        js_path.exists(),
        "{} is missing: build the examples first (examples/plugins/build.sh target/tmp/example-plugins)",
        js_path.display()
    );
    let configurations = match o.tenants_only {
        Some(one) => vec![one],
        None => vec![(1usize, 0usize), (100, 0), (100, 20), (101, 20)],
    };
    for (first_party, js) in configurations {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut toml = format!(
            "data_dir = \"{}\"\nbind = \"127.0.0.1:{port}\"\npublic_base_url = \"{PUBLIC}\"\n",
            dir.path().display()
        );
        let number = |i: usize| format!("+1555770{i:04}");
        for i in 0..first_party + js {
            toml.push_str(&format!(
                "\n[[tenants]]\nid = \"t{i}\"\nname = \"Tenant {i}\"\nnumbers = [\"{}\"]\n\
                 provider = {{ kind = \"log\", auth_token = \"{TOKEN}\" }}\n\
                 tickets = {{ business_hours = [\"24/7\"] }}\n",
                number(i)
            ));
            let plugins: Vec<(&str, String)> = if i < first_party {
                vec![
                    ("crm", "builtin:demo-crm".into()),
                    ("classifier", "builtin:keyword-intents".into()),
                    ("responder", "builtin:faq-responder".into()),
                ]
            } else {
                vec![("classifier", "builtin:keyword-intents".into()), ("responder", js_path.display().to_string())]
            };
            for (role, plugin) in plugins {
                toml.push_str(&format!("\n[[tenants.plugins]]\nrole = \"{role}\"\nplugin = \"{plugin}\"\n"));
            }
        }
        let config = dir.path().join("smsdesk.toml");
        std::fs::write(&config, toml).unwrap();
        let (mut child, base) = serve(&config, port).await;
        let pid = child.id();
        let at_rest = process_cpu_rss(pid).1;
        let pending = async || -> i64 {
            let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("smsdesk_pipeline_jobs_pending "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(-1)
        };
        let signed_for = format!("{PUBLIC}/webhooks/twilio/sms");
        let url = format!("{base}/webhooks/twilio/sms");
        let mut peak = at_rest;
        let mut after = Vec::new();
        for round in 0..o.rounds {
            let mut reqs = Vec::new();
            for t in 0..first_party + js {
                for k in 0..10 {
                    let sid = format!("SMmem{round}x{t}x{k}");
                    let from = format!("+1555{:07}", t * 10 + k);
                    let params: Vec<(String, String)> = [
                        ("MessageSid", sid.as_str()),
                        ("From", from.as_str()),
                        ("To", number(t).as_str()),
                        ("Body", TEXTS[k % TEXTS.len()]),
                    ]
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                    let signature = signature::sign(TOKEN, &signed_for, &params);
                    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
                    reqs.push(Request { body, signature });
                }
            }
            burst(&url, reqs, 16).await;
            while pending().await != 0 {
                peak = peak.max(process_cpu_rss(pid).1);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let rss = process_cpu_rss(pid).1;
            peak = peak.max(rss);
            after.push(rss);
        }
        let rounds: Vec<String> = after.iter().map(|r| format!("{r:.1}")).collect();
        println!(
            "memory: {first_party} tenants on the first-party plugins + {js} on the JavaScript responder: \
             RSS {at_rest:.1} MiB at rest; after each round of 10 messages per tenant: {} MiB; peak {peak:.1} MiB",
            rounds.join(", ")
        );
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = child.wait();
    }
}

fn main() {
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(StatementCounter)).unwrap();
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        if o.memory {
            memory_run(&o).await;
            return;
        }
        if !o.replicas.is_empty() {
            let url = o.database_url.clone().expect("--replicas needs --database-url postgres://…");
            bare_axum_run(&o).await;
            for &n in &o.replicas {
                replicas_run(&o, &url, n).await;
            }
            return;
        }
        bare_axum_run(&o).await;
        if !o.postgres_only {
            smsdesk_run(&o, Durability::Normal, None, 1).await;
            smsdesk_run(&o, Durability::Full, None, 1).await;
        }
        if let Some(url) = &o.database_url {
            for &workers in &o.pg_workers {
                let fresh = format!("{}_bench_{}_{workers}", url.trim_end_matches('/'), std::process::id());
                smsdesk_run(&o, Durability::Normal, Some(fresh), workers).await;
            }
        }
    });
}
