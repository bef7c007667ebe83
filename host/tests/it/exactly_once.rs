//! Exactly once at the provider. A send whose outcome is unknown — the
//! provider's answer was lost, or the host died mid-call — is settled by
//! asking the provider (Twilio's message list, on the local fake) and sent
//! again only if the provider does not have it.

use crate::host::{
    ANA, FakeTwilio, NUMBER, TOKEN, first_party_plugins, inbound_params, outbound, start, tenant, text, twilio,
    wait_for,
};
use crate::restart::{free_port, host_config, spawn, wait_healthy};
use crate::tickets::{ANA_AGENT, helpdesk_tenant, post, ticket_when};
use serde_json::json;
use smsdesk::messaging::signature;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn sent_to(fake: &FakeTwilio, to: &str) -> Vec<String> {
    fake.messages.lock().unwrap().iter().filter(|m| m.to == to).map(|m| m.sid.clone()).collect()
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_is_found_at_the_provider_and_not_sent_again() {
    let fake = FakeTwilio::default();
    // Twilio takes the reply, but the answer that says so never arrives.
    fake.lost_answers.store(1, Ordering::SeqCst);
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(twilio(api_base), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);

    assert_eq!(text(&base, "SMlost1", ANA, "what are your hours").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["provider_sid"].is_string())).await;
    let reply = &outbound(&conv)[0];
    assert_eq!(reply["provider_sid"], "SMfake0001", "the provider's own message is recorded");
    crate::host::settled(&host.store).await;
    assert_eq!(fake.received.lock().unwrap().len(), 1, "not sent a second time");
    assert!(fake.lookups.load(Ordering::SeqCst) >= 1, "the provider was asked");
    assert_eq!(outbound(&api_conv(&base, &conv).await).len(), 1);
    assert_eq!(host.store.outbox_counts().await.unwrap(), (0, 1, 0));
    host.shutdown().await;
}

#[tokio::test]
async fn a_send_the_provider_never_took_is_sent_once_it_is_known_to_be_missing() {
    let fake = FakeTwilio::default();
    // A gateway error: the outcome is unknown, and in fact Twilio has nothing.
    fake.script.lock().unwrap().push((504, json!({"message": "Gateway Time-out"})));
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(twilio(api_base), first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);

    assert_eq!(text(&base, "SMgw1", ANA, "what are your hours").await.status(), 200);
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["provider_sid"].is_string())).await;
    assert_eq!(outbound(&conv)[0]["provider_sid"], "SMfake0002");
    assert!(fake.lookups.load(Ordering::SeqCst) >= 1, "asked before sending again");
    assert_eq!(fake.received.lock().unwrap().len(), 2);
    assert_eq!(sent_to(&fake, ANA).len(), 1, "the customer gets it once");
    assert_eq!(host.store.outbox_counts().await.unwrap(), (0, 1, 0));
    host.shutdown().await;
}

#[tokio::test]
async fn two_identical_texts_in_doubt_are_matched_to_two_provider_messages() {
    let fake = FakeTwilio::default();
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = helpdesk_tenant();
    t.provider = twilio(api_base);
    let host = start(dir.path(), vec![t]).await;
    let base = format!("http://{}", host.addr);

    assert_eq!(text(&base, "SMsame1", ANA, "I want to talk to a human").await.status(), 200);
    let ticket = ticket_when(&base, ANA_AGENT, ANA, |t| t["status"].is_string()).await;
    crate::host::settled(&host.store).await;
    let before = fake.received.lock().unwrap().len();
    // The agent says the same thing twice; both answers are lost.
    fake.lost_answers.store(2, Ordering::SeqCst);
    for _ in 0..2 {
        post(&base, &format!("/api/v1/tickets/{}/reply", ticket["id"]), ANA_AGENT, json!({"body": "On it."})).await;
    }
    let done = ticket_when(&base, ANA_AGENT, ANA, |t| {
        t["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["body"] == "On it." && m["provider_sid"].is_string())
            .count()
            == 2
    })
    .await;
    let sids: Vec<&str> = done["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["body"] == "On it.")
        .map(|m| m["provider_sid"].as_str().unwrap())
        .collect();
    assert_ne!(sids[0], sids[1], "each message got its own provider message: {sids:?}");
    assert_eq!(fake.received.lock().unwrap().len(), before + 2, "neither was sent again");
    host.shutdown().await;
}

async fn api_conv(base: &str, conv: &serde_json::Value) -> serde_json::Value {
    crate::host::api(base, &format!("/api/v1/conversations/{}", conv["id"])).await
}

/// Post one signed webhook; `true` if it was acknowledged.
async fn deliver(client: &reqwest::Client, base: &str, sid: &str, from: &str) -> bool {
    let url = format!("{base}/webhooks/twilio/sms");
    let params = inbound_params(sid, from, "What are your hours?");
    let sig = signature::sign(TOKEN, &url, &params);
    match client.post(&url).header("X-Twilio-Signature", sig).form(&params).send().await {
        Ok(r) => r.status() == 200,
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_send_again_and_again_each_reply_reaches_the_provider_once() {
    const KILLS: usize = 10;
    const BURST: usize = 24;
    let fake = FakeTwilio::default();
    // Twilio takes each message at once and answers a little later: a kill
    // lands between the two.
    fake.answer_delay_ms.store(40, Ordering::SeqCst);
    let api_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = host_config(dir.path(), port, &api_base);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut offered = 0;
    for round in 0..KILLS {
        let mut child = spawn(&config);
        wait_healthy(&base).await;
        let seen = fake.received.lock().unwrap().len();
        // Kill after a varying number of this round's sends reached the provider.
        let kill_after = 1 + (round * 7) % (BURST / 2);
        let mut posts = tokio::task::JoinSet::new();
        for i in 0..BURST {
            let (client, base) = (client.clone(), base.clone());
            let from = format!("+1555300{round:02}{i:02}");
            offered += 1;
            posts.spawn(async move {
                tokio::time::sleep(Duration::from_millis(4 * i as u64)).await;
                let ok = deliver(&client, &base, &format!("SMk{round:02}{i:02}"), &from).await;
                (from, ok)
            });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while fake.received.lock().unwrap().len() < seen + kill_after && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        while let Some(done) = posts.join_next().await {
            let (from, ok) = done.unwrap();
            if ok {
                acknowledged.push(from);
            }
        }
    }

    // A last start settles every send in doubt and sends what is left.
    let mut child = spawn(&config);
    wait_healthy(&base).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let replies: BTreeMap<String, Vec<String>> = loop {
        let list = crate::host::api(&base, "/api/v1/conversations?limit=500").await;
        let mut replies = BTreeMap::new();
        let mut unsettled = 0;
        for c in list["conversations"].as_array().unwrap() {
            let detail = crate::host::api(&base, &format!("/api/v1/conversations/{}", c["id"])).await;
            let out = outbound(&detail);
            unsettled += out.iter().filter(|m| !m["provider_sid"].is_string()).count();
            let sids = out.iter().filter_map(|m| m["provider_sid"].as_str().map(str::to_string)).collect();
            replies.insert(c["contact"].as_str().unwrap().to_string(), sids);
        }
        let answered = acknowledged.iter().all(|a| replies.get(a).is_some_and(|s: &Vec<String>| !s.is_empty()));
        if answered && unsettled == 0 {
            break replies;
        }
        assert!(Instant::now() < deadline, "not settled: {unsettled} sends without a provider id");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Nothing is pending: anything sent twice has already reached the fake.
    crate::restart::child_settled(dir.path()).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let calls = fake.calls_per_key();
    let repeated: Vec<(&String, &usize)> = calls.iter().filter(|(_, n)| **n != 1).collect();
    let total_calls: usize = calls.values().sum();
    let lookups = fake.lookups.load(Ordering::SeqCst);
    println!(
        "kills {KILLS}; webhooks offered {offered}, acknowledged {}; replies recorded {}; provider calls {total_calls} \
         over {} idempotency keys (max {} per key); message-list lookups {lookups}",
        acknowledged.len(),
        replies.values().map(Vec::len).sum::<usize>(),
        calls.len(),
        calls.values().max().copied().unwrap_or(0),
    );
    assert!(!calls.contains_key(""), "every send carries its idempotency key");
    assert!(repeated.is_empty(), "keys called more than once: {repeated:?}");
    for contact in &acknowledged {
        let at_provider = sent_to(&fake, contact);
        assert_eq!(at_provider.len(), 1, "{contact} received {at_provider:?}");
        assert_eq!(replies[contact], at_provider, "{contact}: the recorded reply is the provider's message");
    }
    for (contact, sids) in &replies {
        assert_eq!(sids.len(), 1, "{contact}: one reply each, got {sids:?}");
    }
    assert!(acknowledged.len() >= KILLS, "the bursts were mostly acknowledged: {}", acknowledged.len());
    assert!(lookups > 0, "some kills left sends in doubt, and they were settled by asking the provider");
}

#[tokio::test]
async fn finding_a_send_reads_the_message_list_across_pages_by_sender_or_service() {
    use crate::host::FakeMessage;
    use smsdesk::messaging::provider::{OutboundSms, Provider};
    let fake = FakeTwilio::default();
    let api_base = fake.start().await;
    let now = jiff::Timestamp::now();
    let at = |secs: i64| now.checked_sub(jiff::SignedDuration::from_secs(secs)).unwrap();
    let service = "MG00000000000000000000000000000001";
    let message = |sid: &str, from: &str, via: Option<&str>, body: &str, created| FakeMessage {
        sid: sid.into(),
        to: ANA.into(),
        from: from.into(),
        messaging_service_sid: via.map(str::to_string),
        body: body.into(),
        created,
    };
    {
        let mut messages = fake.messages.lock().unwrap();
        messages.push(message("SMold", NUMBER, None, "Your code is 4411", at(3600)));
        messages.push(message("SMservice", "+15557650199", Some(service), "Your code is 4411", at(10)));
        messages.push(message("SMnumber", NUMBER, None, "Your code is 4411", at(5)));
        // Newer traffic pushes both onto the list's second page.
        for i in 0..55 {
            messages.push(message(&format!("SMother{i}"), NUMBER, None, &format!("other {i}"), now));
        }
    }
    let provider = Provider::from_config(&twilio(api_base));
    let since = at(30).as_millisecond();
    let sms =
        |from| OutboundSms { from, to: ANA, body: "Your code is 4411", idempotency_key: "k", status_callback: None };
    let by_number = provider.find(&sms(NUMBER), since).await.unwrap();
    assert_eq!(by_number.iter().map(|a| a.sid.as_str()).collect::<Vec<_>>(), ["SMnumber"], "not the hour-old one");
    let by_service = provider.find(&sms(service), since).await.unwrap();
    assert_eq!(by_service.iter().map(|a| a.sid.as_str()).collect::<Vec<_>>(), ["SMservice"]);
    let elsewhere = OutboundSms { to: "+15550001111", ..sms(NUMBER) };
    assert!(provider.find(&elsewhere, since).await.unwrap().is_empty());
    assert!(fake.lookups.load(Ordering::SeqCst) >= 4, "the second pages were read");
    // A provider that cannot be asked leaves the send in doubt.
    let wrong = Provider::from_config(&smsdesk::config::ProviderConfig::Twilio {
        account_sid: "ACother".into(),
        auth_token: TOKEN.into(),
        base_url: fake.start().await,
    });
    let e = wrong.find(&sms(NUMBER), since).await.unwrap_err();
    assert!(e.in_doubt && e.message.contains("HTTP 401"), "{e:?}");
}
