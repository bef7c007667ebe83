//! Leases across processes: work a stopped process had claimed is taken up
//! when its lease runs out, by a host that never restarted; a worker whose
//! lease ran out and was taken over can neither send nor record.

use crate::host::{ANA, FakeTwilio, NUMBER, first_party_plugins, outbound, tenant, text, twilio, wait_for};
use crate::tickets::start_with;
use smsdesk::clock::Clock;
use smsdesk::config::{Config, Durability};
use smsdesk::store::{LEASE_MS, NewInbound, NewOutbound, SendResult, Store};

const BOB: &str = "+15557654321";

/// A second process on the test's database ("replica-b"), on `clock`.
async fn other_process(dir: &std::path::Path, clock: &Clock, replica: &str) -> Store {
    let url =
        Config { data_dir: dir.to_path_buf(), database_url: crate::support::database_url(dir), ..Config::default() }
            .database_url();
    Store::open(&url, Durability::Normal)
        .await
        .expect("second store opens")
        .with_clock(clock.clone())
        .with_replica(replica)
}

fn inbound(sid: &str, from: &str, body: &str) -> NewInbound {
    NewInbound {
        tenant_id: "acme".into(),
        provider_sid: sid.into(),
        from: from.into(),
        to: NUMBER.into(),
        body: body.into(),
        media_urls: Vec::new(),
        encoding: "GSM-7",
        segments: 1,
    }
}

fn sent_to(fake: &FakeTwilio, to: &str) -> usize {
    fake.messages.lock().unwrap().iter().filter(|m| m.to == to).count()
}

#[tokio::test]
async fn a_job_a_stopped_process_held_is_taken_up_when_its_lease_runs_out_without_a_restart() {
    let fake = FakeTwilio::default();
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let t0 = jiff::Timestamp::now().as_millisecond();
    let clock = Clock::manual(t0);
    let host = start_with(dir.path(), vec![tenant(twilio(api_base), first_party_plugins())], clock.clone()).await;
    let base = format!("http://{}", host.addr);

    // Another process stores a message and claims its job, then stops
    // without finishing it. (The host's own workers may claim a message
    // first; then it is processed normally and the next one is tried.)
    let b = other_process(dir.path(), &clock, "replica-b").await;
    let mut held = None;
    for n in 0..20 {
        b.insert_inbound_batch(&[inbound(&format!("SMheld{n}"), ANA, "what are your hours")]).await.unwrap();
        let claimed = b.claim_jobs(LEASE_MS, 10).await.unwrap();
        if let Some(job) = claimed.first() {
            held = Some(job.id);
            break;
        }
        wait_for(&base, ANA, |c| outbound(c).iter().filter(|m| m["provider_sid"].is_string()).count() > n).await;
    }
    let held = held.expect("the second process claimed a job in 20 tries");
    let replies_before = sent_to(&fake, ANA);
    drop(b);

    // While the lease runs, the host's workers skip it: a later message is
    // processed and answered, the held one is not.
    assert_eq!(text(&base, "SMbob1", BOB, "what are your hours").await.status(), 200);
    wait_for(&base, BOB, |c| outbound(c).iter().any(|m| m["provider_sid"].is_string())).await;
    assert_eq!(host.store.pending_jobs().await.unwrap(), 1, "job {held} waits for its lease");
    assert_eq!(sent_to(&fake, ANA), replies_before, "nothing answered the held message yet");

    // The stopped process never renews; once the lease has run out the
    // running host takes the job: processed once, answered once.
    clock.set_ms(t0 + LEASE_MS + 1);
    wait_for(&base, ANA, |c| outbound(c).iter().filter(|m| m["provider_sid"].is_string()).count() > replies_before)
        .await;
    assert_eq!(host.store.pending_jobs().await.unwrap(), 0);
    assert_eq!(sent_to(&fake, ANA), replies_before + 1, "one reply for the held message");
    assert_eq!(sent_to(&fake, BOB), 1);
    host.shutdown().await;
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_can_neither_send_nor_record() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = jiff::Timestamp::now().as_millisecond();
    let clock = Clock::manual(t0);
    let a = other_process(dir.path(), &clock, "replica-a").await;
    let b = other_process(dir.path(), &clock, "replica-b").await;
    a.sync_tenants(&[tenant(crate::host::log_provider(), Vec::new())]).await.unwrap();
    a.enqueue_to_contact(NewOutbound {
        tenant_id: "acme".into(),
        conversation_id: None,
        idempotency_key: "lease-test:1".into(),
        author: "agent",
        category: "conversational",
        from: NUMBER.into(),
        to: ANA.into(),
        body: "Your order shipped".into(),
        encoding: "GSM-7",
        segments: 1,
        subject: None,
        answers_message_id: None,
        expires_at: None,
    })
    .await
    .unwrap()
    .expect("queued");

    let mine = a.claim_sends(LEASE_MS, 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert!(b.claim_sends(LEASE_MS, 10).await.unwrap().is_empty(), "a held lease is skipped");

    // A stalls past its lease (no renewal); B takes the send over.
    clock.set_ms(t0 + LEASE_MS + 1);
    let theirs = b.claim_sends(LEASE_MS, 10).await.unwrap();
    assert_eq!(theirs.len(), 1, "a lease that ran out is taken");
    assert_eq!(a.renew_leases(LEASE_MS).await.unwrap(), (0, 0), "A cannot renew what B holds");
    assert!(a.begin_attempts(&[mine[0].id], 10_000).await.unwrap().is_empty(), "A may not call the provider");
    assert_eq!(b.begin_attempts(&[theirs[0].id], 10_000).await.unwrap().len(), 1, "B still holds it");
    assert_eq!(b.renew_leases(LEASE_MS).await.unwrap(), (0, 1));
    // A's late results do not touch B's lease.
    a.record_sends(&[(mine[0].clone(), SendResult::Released)]).await.unwrap();
    a.record_sends(&[(mine[0].clone(), SendResult::Retry { delay_ms: 0, error: "late".into() })]).await.unwrap();

    // Past B's settle delay, within its lease: a third process finds nothing.
    let c = other_process(dir.path(), &clock, "replica-c").await;
    clock.set_ms(t0 + LEASE_MS + 20_000);
    assert!(c.claim_sends(LEASE_MS, 10).await.unwrap().is_empty(), "A's late results did not release B's lease");
    b.record_sends(&[(theirs[0].clone(), SendResult::Sent { sid: "SMb1".into(), status: "queued".into() })])
        .await
        .unwrap();
    assert_eq!(a.outbox_counts().await.unwrap(), (0, 1, 0));
}

/// Sends to one number go one at a time, whichever worker (or process: the
/// rule is the claim's, in the database) holds them: with four outbox
/// workers and a provider that takes 250 ms to answer, seven messages to
/// one customer reach the provider each after the one before was answered,
/// so what one send teaches (a 21610, a cap) is known before the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_one_number_go_one_at_a_time_whatever_worker_holds_them() {
    use crate::tickets::{ANA_AGENT, helpdesk_tenant, post, ticket_when};
    let fake = FakeTwilio::default();
    fake.answer_delay_ms.store(250, std::sync::atomic::Ordering::SeqCst);
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut acme = helpdesk_tenant();
    acme.provider = twilio(api_base);
    let host = smsdesk::server::start(Config {
        data_dir: dir.path().to_path_buf(),
        database_url: crate::support::database_url(dir.path()),
        bind: "127.0.0.1:0".parse().unwrap(),
        tenants: vec![acme],
        outbox_workers: 4,
        ..Config::default()
    })
    .await
    .unwrap();
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMone1", ANA, "talk to a person").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let id = t["id"].as_i64().unwrap();
    // Six agent replies at once, and one to another customer beside them.
    for i in 0..6 {
        post(
            &base,
            &format!("/api/v1/tickets/{id}/reply"),
            ANA_AGENT,
            serde_json::json!({"body": format!("reply {i}")}),
        )
        .await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let times = loop {
        let times: Vec<jiff::Timestamp> =
            fake.messages.lock().unwrap().iter().filter(|m| m.to == ANA).map(|m| m.created).collect();
        if times.len() >= 7 {
            break times;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 7 messages reached the provider", times.len());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(times.len(), 7, "one handoff notice and six replies, each once");
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(
            gap >= jiff::SignedDuration::from_millis(240),
            "two sends to one number were in flight at once ({gap:?} apart): {times:?}"
        );
    }
    host.shutdown().await;
}
