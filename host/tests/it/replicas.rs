//! Several `smsdesk serve` processes on one PostgreSQL database, as an
//! agency runs them behind a load balancer: killing one mid-load loses and
//! repeats nothing; an admin change on one reaches the others within a
//! second; an agent on one sees live what arrived at another; housekeeping
//! runs on one at a time and moves when it dies; SIGTERM hands work back.
//!
//! These always run on PostgreSQL (the SQLite half of the suite runs them;
//! the PostgreSQL half skips them), each test in a database of its own.

use crate::host::{API_TOKEN, FakeTwilio, NUMBER, TOKEN, inbound_params, post_signed};
use crate::restart::free_port;
use crate::tickets::{ANA_AGENT, call};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const OPS: &str = crate::admin::OPS;

/// A database of its own on the test server, dropped when the test ends
/// (passed or not).
struct TestDb {
    server: String,
    name: String,
}

impl TestDb {
    /// `None` only when the run asked for SQLite only (said loudly).
    fn new(tag: &str) -> Option<TestDb> {
        let server = if crate::support::on_postgres() {
            std::env::var("SMSDESK_TEST_POSTGRES_URL").ok()?
        } else {
            crate::postgres::postgres_server("the replica tests did NOT run")?
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("smsdesk_it_replicas_{tag}_{}_{nanos}", std::process::id());
        Some(TestDb { server: server.trim_end_matches('/').to_string(), name })
    }

    fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// A query's first column, as text (the tests read counts and owners).
    async fn scalar(&self, sql: &str) -> String {
        use sqlx::Connection as _;
        let mut c = sqlx::PgConnection::connect(&self.url()).await.unwrap();
        let v: Option<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT ({sql})::text"))).fetch_one(&mut c).await.unwrap();
        v.unwrap_or_default()
    }

    async fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).await.parse().unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", self.server);
        let name = self.name.clone();
        // Its own thread and runtime: a test's runtime may be gone (or panicking).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut c).await;
                }
            })
        })
        .join();
    }
}

/// One `smsdesk serve` process.
struct Replica {
    name: &'static str,
    base: String,
    config: std::path::PathBuf,
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Replica {
    /// A replica named `name` of tenant acme (first-party plugins, the
    /// Twilio API at `api_base`, agent Rosa, host admin Ops) on `db`.
    fn configure(dir: &std::path::Path, name: &'static str, db: &TestDb, api_base: &str) -> Replica {
        Self::configure_with(dir, name, db, api_base, "")
    }

    /// [`Replica::configure`] with `extra` top-level settings.
    fn configure_with(dir: &std::path::Path, name: &'static str, db: &TestDb, api_base: &str, extra: &str) -> Replica {
        let port = free_port();
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        let config = data.join("smsdesk.toml");
        std::fs::write(
            &config,
            format!(
                r#"database_url = "{url}"
data_dir = "{data}"
bind = "127.0.0.1:{port}"
replica_id = "{name}"
plugin_cache_dir = "{cache}"
{extra}
[[admins]]
id = "ops"
name = "Ops"
role = "admin"
token = "{OPS}"

[[tenants]]
id = "acme"
name = "Acme"
numbers = ["{NUMBER}"]
api_token = "{API_TOKEN}"
provider = {{ kind = "twilio", account_sid = "ACtest", auth_token = "{TOKEN}", base_url = "{api_base}" }}

[[tenants.users]]
id = "rosa"
name = "Rosa"
role = "agent"
teams = ["support"]
token = "{ANA_AGENT}"

[[tenants.plugins]]
role = "classifier"
plugin = "builtin:keyword-intents"

[[tenants.plugins]]
role = "responder"
plugin = "builtin:faq-responder"
"#,
                url = db.url(),
                data = data.display(),
                cache = crate::support::shared_cache_dir().display(),
            ),
        )
        .unwrap();
        Replica { name, base: format!("http://127.0.0.1:{port}"), config, child: None, log: data.join("log.txt") }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        self.child = Some(
            Command::new(env!("CARGO_BIN_EXE_smsdesk"))
                .args(["serve", "--config"])
                .arg(&self.config)
                .env("SMSDESK_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("starting smsdesk serve"),
        );
    }

    /// Start it and wait until `/readyz` says it should get traffic.
    async fn start(&mut self) {
        self.spawn();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await
                && r.status() == 200
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("replica {} exited ({status}) at start:\n{}", self.name, self.log_text());
            }
            assert!(Instant::now() < deadline, "replica {} never became ready:\n{}", self.name, self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, and how it ended.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "replica {} ignored SIGTERM:\n{}", self.name, self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn readyz(&self) -> Value {
        reqwest::get(format!("{}/readyz", self.base)).await.unwrap().json().await.unwrap()
    }

    /// The active responder's `publisher/name version`, as its admin API says.
    async fn responder(&self) -> String {
        let b = call(&self.base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
        let r = b["active"].as_array().unwrap().iter().find(|a| a["role"] == "responder").cloned().unwrap_or_default();
        format!("{} {}", r["identity"].as_str().unwrap_or("?"), r["version"].as_str().unwrap_or("?"))
    }

    /// Housekeeping sweeps this process ran (its `/metrics`).
    async fn housekeeping_runs(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base)).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("smsdesk_housekeeping_runs_total "))
            .map_or(0, |n| n.trim().parse::<f64>().unwrap() as u64)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Replicas `a` and `b` on `db`, sending through `fake`, both ready; the
/// directory holding their files lives as long as the first value.
async fn two_replicas(db: &TestDb, fake: &FakeTwilio) -> (tempfile::TempDir, Replica, Replica) {
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = Replica::configure(dir.path(), "a", db, &api_base);
    let mut b = Replica::configure(dir.path(), "b", db, &api_base);
    a.start().await;
    b.start().await;
    (dir, a, b)
}

/// The bot's replies to `contact`, read through `base`'s API.
async fn replies(base: &str, contact: &str) -> Vec<String> {
    let list = crate::host::api(base, "/api/v1/conversations?limit=500").await;
    let Some(id) =
        list["conversations"].as_array().unwrap().iter().find(|c| c["contact"] == contact).map(|c| c["id"].clone())
    else {
        return Vec::new();
    };
    let detail = crate::host::api(base, &format!("/api/v1/conversations/{id}")).await;
    crate::host::outbound(&detail).iter().map(|m| m["body"].as_str().unwrap_or_default().to_string()).collect()
}

/// Wait for `contact`'s first reply, through `base`.
async fn first_reply(base: &str, contact: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = replies(base, contact).await.into_iter().next() {
            return r;
        }
        assert!(Instant::now() < deadline, "{contact} got no reply through {base}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Print past the test harness's capture, so the counts are in the test
/// command's output whether or not the test fails.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_replica_mid_load_loses_nothing_and_sends_nothing_twice() {
    let Some(db) = TestDb::new("kill") else { return };
    // Twilio answers slowly, so sends are in flight when a replica dies.
    let fake = FakeTwilio::default();
    fake.answer_delay_ms.store(150, Ordering::SeqCst);
    let (_dir, mut a, mut b) = two_replicas(&db, &fake).await;

    // Signed webhooks spread across both replicas, then only B once A is
    // killed (a load balancer stops sending to a dead replica); every one
    // is acknowledged.
    let mut customers: Vec<String> = Vec::new();
    let mut held_at_kill = 0i64;
    let text = async |base: &str, sid: String, from: &str| {
        let r =
            post_signed(base, "/webhooks/twilio/sms", &inbound_params(&sid, from, "What are your hours?"), TOKEN).await;
        assert_eq!(r.status(), 200, "{sid}");
    };
    for i in 0..40 {
        let from = format!("+1555300{i:04}");
        text(if i % 2 == 0 { &a.base } else { &b.base }, format!("SMrep{i}"), &from).await;
        customers.push(from);
    }
    // Kill A while it holds work (jobs or sends leased to it): if it has
    // drained what it was given, give it one more message and look again.
    for extra in 0.. {
        let deadline = Instant::now() + Duration::from_millis(400);
        while held_at_kill == 0 && Instant::now() < deadline {
            held_at_kill = db
                .count(
                    "SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'pending' AND lease_owner LIKE 'a#%')
                          + (SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND lease_owner LIKE 'a#%')",
                )
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if held_at_kill > 0 {
            break;
        }
        assert!(extra < 50, "replica a never held work to be killed with");
        let from = format!("+1555301{extra:04}");
        text(&a.base, format!("SMrepx{extra}"), &from).await;
        customers.push(from);
    }
    a.kill();
    for i in 40..80 {
        let from = format!("+1555300{i:04}");
        text(&b.base, format!("SMrep{i}"), &from).await;
        customers.push(from);
    }
    let acknowledged = customers.len();
    // A comes back (with the same name: it releases what its dead run held).
    a.start().await;

    // Every acknowledged message is answered, read back through A's API.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = db.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'").await;
        let settled =
            db.count("SELECT COUNT(*) FROM messages WHERE direction = 'outbound' AND provider_sid IS NOT NULL").await;
        if done as usize == acknowledged && settled as usize >= acknowledged {
            break;
        }
        assert!(Instant::now() < deadline, "not everything was answered: {done} processed, {settled} sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Anything repeated would show itself now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let processed = db.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'").await;
    let inbound = db.count("SELECT COUNT(*) FROM messages WHERE direction = 'inbound'").await;
    let replies_queued = db.count("SELECT COUNT(*) FROM messages WHERE direction = 'outbound'").await;
    let provider_calls = fake.keys.lock().unwrap().len();
    report(&format!(
        "replicas kill -9 test: acknowledged {acknowledged}, processed {processed}, replies queued {replies_queued}, \
         provider calls {provider_calls} (replica a held {held_at_kill} leased jobs/sends when killed)"
    ));
    let n = acknowledged as i64;
    assert_eq!((inbound, processed, replies_queued), (n, n, n));
    assert_eq!(provider_calls, acknowledged, "one provider call per reply");
    for customer in &customers {
        let copies = fake.messages.lock().unwrap().iter().filter(|m| &m.to == customer).count();
        assert_eq!(copies, 1, "{customer} got {copies} replies");
        assert_eq!(replies(&a.base, customer).await.len(), 1, "{customer}'s conversation through a");
    }
    assert!(fake.calls_per_key().values().all(|n| *n == 1), "provider calls per key: {:?}", fake.calls_per_key());

    // SIGTERM: each finishes what it holds and exits cleanly, holding nothing.
    for r in [&mut a, &mut b] {
        let status = r.terminate();
        assert!(status.success(), "replica {} after SIGTERM: {status}\n{}", r.name, r.log_text());
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM outbox WHERE lease_owner IS NOT NULL AND status = 'pending'").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_installed_on_one_replica_serves_on_the_other_within_a_second() {
    let Some(db) = TestDb::new("plugins") else { return };
    let fake = FakeTwilio::default();
    let (_dir, a, b) = two_replicas(&db, &fake).await;
    assert!(b.responder().await.starts_with("smsdesk/faq-responder "), "{}", b.responder().await);

    // Upload and bind through A; B swaps its set within a second.
    let (status, out) = call(&a.base, Method::PUT, "/admin/v1/tenants/acme/publishers/unsigned", OPS, None).await;
    assert_eq!(status, 204, "{out}");
    let (v1, v2) = (
        std::fs::read(smsdesk_artifacts::test_guests::GREETER_V1.path).unwrap(),
        std::fs::read(smsdesk_artifacts::test_guests::GREETER_V2.path).unwrap(),
    );
    let (status, up) = crate::admin::upload(&a.base, v1).await;
    assert_eq!(status, 201, "{up}");
    let bind = |base: &str, body: Value| {
        let base = base.to_string();
        async move {
            call(&base, Method::PUT, "/admin/v1/tenants/acme/bindings/responder/unsigned/greeter", OPS, Some(body))
                .await
        }
    };
    let (status, out) = bind(&a.base, json!({"version": "1.0.0", "config": {"greeting": "hi"}})).await;
    assert_eq!(status, 200, "{out}");
    let bound = Instant::now();
    while b.responder().await != "unsigned/greeter 1.0.0" {
        assert!(bound.elapsed() < Duration::from_secs(1), "replica b still runs {}", b.responder().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let swapped = bound.elapsed();
    // A message arriving at B is answered by the plugin bound through A.
    let r =
        post_signed(&b.base, "/webhooks/twilio/sms", &inbound_params("SMpl1", "+15553100001", "hello"), TOKEN).await;
    assert_eq!(r.status(), 200);
    assert_eq!(first_reply(&b.base, "+15553100001").await, "greeter 1.0.0: hi (hello)");

    // Upgrade through B, roll back through B: A follows each within a second.
    let (status, up2) = crate::admin::upload(&b.base, v2).await;
    assert_eq!(status, 201, "{up2}");
    let (status, out) = bind(
        &b.base,
        json!({"version": "2.0.0", "config": {"greeting": "hey"}, "grants": ["outbound-http:crm.example.com"]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let changed = Instant::now();
    while a.responder().await != "unsigned/greeter 2.0.0" {
        assert!(changed.elapsed() < Duration::from_secs(1), "replica a still runs {}", a.responder().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, out) =
        call(&b.base, Method::POST, "/admin/v1/tenants/acme/bindings/responder/unsigned/greeter/rollback", OPS, None)
            .await;
    assert_eq!(status, 200, "{out}");
    let rolled = Instant::now();
    while a.responder().await != "unsigned/greeter 1.0.0" {
        assert!(rolled.elapsed() < Duration::from_secs(1), "replica a still runs {}", a.responder().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r =
        post_signed(&a.base, "/webhooks/twilio/sms", &inbound_params("SMpl2", "+15553100002", "hello"), TOKEN).await;
    assert_eq!(r.status(), 200);
    assert_eq!(first_reply(&a.base, "+15553100002").await, "greeter 1.0.0: hey (hello)");

    // The plugin key-value store is one store: a counter bound through A
    // counts the calls made on both replicas.
    let (_, kv) =
        crate::admin::upload(&a.base, std::fs::read(smsdesk_artifacts::test_guests::KV_COUNTER.path).unwrap()).await;
    let (status, out) = call(
        &a.base,
        Method::PUT,
        "/admin/v1/tenants/acme/bindings/classifier/unsigned/kv-counter",
        OPS,
        Some(json!({"version_id": kv["plugin"]["id"], "grants": ["key-value"]})),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let kv_bound = Instant::now();
    loop {
        let active = call(&b.base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
        if active["active"].as_array().unwrap().iter().any(|x| x["plugin"] == "kv-counter") {
            break;
        }
        assert!(kv_bound.elapsed() < Duration::from_secs(1), "kv-counter not active on b");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, base) in [&a.base, &b.base, &a.base].into_iter().enumerate() {
        let from = format!("+155531010{i:02}");
        let r = post_signed(base, "/webhooks/twilio/sms", &inbound_params(&format!("SMkv{i}"), &from, "hello"), TOKEN)
            .await;
        assert_eq!(r.status(), 200);
        first_reply(base, &from).await;
    }
    let counted = db.scalar("SELECT encode(value, 'hex') FROM plugin_kv WHERE plugin = 'unsigned/kv-counter'").await;
    assert_eq!(counted, "03000000", "three calls on two replicas, one count");
    report(&format!("replicas plugin test: a bind on a was live on b after {} ms", swapped.as_millis()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_one_replica_sees_live_what_arrived_at_another() {
    let Some(db) = TestDb::new("events") else { return };
    let fake = FakeTwilio::default();
    let (_dir, a, b) = two_replicas(&db, &fake).await;
    let mut stream =
        reqwest::Client::new().get(format!("{}/api/v1/events", b.base)).bearer_auth(ANA_AGENT).send().await.unwrap();
    let hello = String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()).to_string();
    assert!(hello.contains("event: hello"), "{hello}");
    let r = post_signed(
        &a.base,
        "/webhooks/twilio/sms",
        &inbound_params("SMev1", "+15553200001", "talk to a person"),
        TOKEN,
    )
    .await;
    assert_eq!(r.status(), 200);
    let id = loop {
        let list = crate::host::api(&a.base, "/api/v1/conversations").await;
        if let Some(id) = list["conversations"].as_array().unwrap().first().and_then(|c| c["id"].as_i64()) {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while !seen.contains(&format!("\"ticket\":{id}")) {
            seen.push_str(&String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()));
        }
        seen
    })
    .await;
    assert!(heard.is_ok(), "the agent on b never heard of ticket {id}, which arrived at a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_runs_on_one_replica_at_a_time_and_moves_when_it_dies() {
    let Some(db) = TestDb::new("housekeeping") else { return };
    let fake = FakeTwilio::default();
    let (_dir, mut a, mut b) = two_replicas(&db, &fake).await;
    let leader = async |a: &Replica, b: &Replica| -> Vec<&'static str> {
        let mut leaders = Vec::new();
        for r in [a, b] {
            if r.readyz().await["housekeeping"] == "leader" {
                leaders.push(r.name);
            }
        }
        leaders
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let l = leader(&a, &b).await;
        if l.len() == 1 {
            break l[0];
        }
        assert!(l.len() < 2, "two leaders at once");
        assert!(Instant::now() < deadline, "no replica took housekeeping");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Over ten seconds (five periods) the two together ran it about five
    // times, not ten: one replica at a time.
    let before = a.housekeeping_runs().await + b.housekeeping_runs().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let runs = a.housekeeping_runs().await + b.housekeeping_runs().await - before;
    assert!(
        (2..=7).contains(&runs),
        "housekeeping ran {runs} times in 5 periods across 2 replicas (two leaders would be about 10)"
    );
    let standby_runs = if first == "a" { b.housekeeping_runs().await } else { a.housekeeping_runs().await };
    assert_eq!(standby_runs, 0, "the replica that does not lead ran housekeeping");

    // A ticket snoozed for a few seconds, then the leader dies: the survivor
    // takes over and wakes it.
    let r = post_signed(
        &a.base,
        "/webhooks/twilio/sms",
        &inbound_params("SMhk1", "+15553300001", "talk to a person"),
        TOKEN,
    )
    .await;
    assert_eq!(r.status(), 200);
    let ticket = loop {
        let (_, list) = call(&a.base, Method::GET, "/api/v1/tickets?owner=human", ANA_AGENT, None).await;
        if let Some(id) = list["tickets"].as_array().and_then(|t| t.first()).and_then(|t| t["id"].as_i64()) {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let (status, out) = call(
        &a.base,
        Method::POST,
        &format!("/api/v1/tickets/{ticket}/status"),
        ANA_AGENT,
        Some(json!({"status": "snoozed", "snooze_until": until.to_string()})),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let (dead, survivor) = if first == "a" { (&mut a, &mut b) } else { (&mut b, &mut a) };
    dead.kill();
    let killed = Instant::now();
    loop {
        if survivor.readyz().await["housekeeping"] == "leader" {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(8), "housekeeping did not move to the survivor");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let moved = killed.elapsed();
    loop {
        let (_, t) = call(&survivor.base, Method::GET, &format!("/api/v1/tickets/{ticket}"), ANA_AGENT, None).await;
        if t["status"] == "open" {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "the snoozed ticket never woke: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report(&format!(
        "replicas housekeeping test: {runs} runs in 5 periods; moved {} ms after the kill",
        moved.as_millis()
    ));
}

/// `smsdesk demo` twice on one database and two ports is a two-replica demo:
/// the same bot answers through either, and a conversation started on one is
/// read back through the other's API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_processes_on_one_database_are_one_demo() {
    use smsdesk::demo::{DEMO_API_TOKEN, DEMO_CUSTOMER};
    let Some(db) = TestDb::new("demo") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut demos = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_smsdesk"))
            .args(["demo", "--database-url", &db.url(), "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.path().join(name))
            .env("SMSDESK_LOG", "info")
            .env("SMSDESK_CACHE_DIR", crate::support::shared_cache_dir())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting smsdesk demo");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reqwest::get(format!("{base}/readyz")).await.is_ok_and(|r| r.status() == 200) {
            let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
            assert!(Instant::now() < deadline, "demo {name} never became ready:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        demos.push((child, base));
    }
    // `smsdesk chat` through each, as the README says.
    let chat = |server: String, line: &'static str| {
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_smsdesk"))
                .args(["chat", "--server", &server])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(line.as_bytes()).unwrap();
            String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
        })
    };
    let through_a = chat(demos[0].1.clone(), "What are your hours?\n").await.unwrap();
    assert!(through_a.contains("bot> We're open"), "{through_a}");
    let through_b = chat(demos[1].1.clone(), "Where is my order?\n").await.unwrap();
    assert!(through_b.contains("bot> Hi Ana! Your order #1042"), "{through_b}");
    // One conversation, the same through either replica's API.
    let read = |base: String| async move {
        let list: Value = reqwest::Client::new()
            .get(format!("{base}/api/v1/conversations"))
            .bearer_auth(DEMO_API_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let conversations = list["conversations"].as_array().unwrap().clone();
        assert_eq!(conversations.len(), 1, "{list}");
        assert_eq!(conversations[0]["contact"], DEMO_CUSTOMER);
        let id = conversations[0]["id"].clone();
        let detail: Value = reqwest::Client::new()
            .get(format!("{base}/api/v1/conversations/{id}"))
            .bearer_auth(DEMO_API_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bodies: Vec<String> = detail["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| format!("{}: {}", m["author"].as_str().unwrap(), m["body"].as_str().unwrap()))
            .collect();
        (id, bodies)
    };
    let (on_a, on_b) = (read(demos[0].1.clone()).await, read(demos[1].1.clone()).await);
    assert_eq!(on_a, on_b, "both replicas read the same conversation");
    let (_, bodies) = on_a;
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    assert!(bodies[0] == "customer: What are your hours?" && bodies[2] == "customer: Where is my order?", "{bodies:?}");
    for (mut child, _) in demos {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        assert!(child.wait().unwrap().success());
    }
}

/// `database_max_connections` bounds what a replica opens on PostgreSQL,
/// however many requests arrive at once: the pool, plus one connection
/// listening to the other replicas and one holding the housekeeping lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_opens_no_more_database_connections_than_configured() {
    let Some(db) = TestDb::new("pool") else { return };
    let fake = FakeTwilio::default();
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut a = Replica::configure_with(dir.path(), "a", &db, &api_base, "database_max_connections = 3\n");
    a.start().await;
    let mut load = tokio::task::JoinSet::new();
    for i in 0..20 {
        let base = a.base.clone();
        load.spawn(async move {
            let from = format!("+155534000{i:02}");
            let r = post_signed(
                &base,
                "/webhooks/twilio/sms",
                &inbound_params(&format!("SMpool{i}"), &from, "hello"),
                TOKEN,
            )
            .await;
            assert_eq!(r.status(), 200);
        });
    }
    for _ in 0..40 {
        let base = a.base.clone();
        load.spawn(async move {
            for _ in 0..5 {
                crate::host::api(&base, "/api/v1/conversations?limit=50").await;
            }
        });
    }
    let mut most = 0;
    while !load.is_empty() {
        let open = db
            .count(&format!(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                db.name
            ))
            .await;
        most = most.max(open);
        while let Some(done) = load.try_join_next() {
            done.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(most <= 3 + 2, "replica a had {most} connections open with database_max_connections = 3");
    assert!(most >= 3, "the load used the pool ({most} connections seen)");
    for i in 0..20 {
        first_reply(&a.base, &format!("+155534000{i:02}")).await;
    }
}
