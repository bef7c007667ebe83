//! The webhook edges a stranger or another tenant can reach: a number and a
//! Messaging Service of two tenants, status callbacks for another tenant's
//! messages, what an unsigned request learns, and the content type.

use crate::host::{
    ANA, API_TOKEN, FakeTwilio, NUMBER, TOKEN, inbound_params, outbound, post_signed, start, status_params, tenant,
    twilio, wait_for,
};
use smsdesk::config::ProviderConfig;

const BRAVO_NUMBER: &str = "+15557650200";
const BRAVO_POOL_NUMBER: &str = "+15557650299";
const BRAVO_TOKEN: &str = "bravo-auth-token";
const BRAVO_API_TOKEN: &str = "bravo-api-token";

/// Acme (its number, Messaging Service MGacme) and Bravo (its number,
/// Messaging Service MGbravo), each with its own webhook token.
fn two_tenants(acme_provider: ProviderConfig) -> Vec<smsdesk::config::TenantConfig> {
    let mut acme = tenant(acme_provider, Vec::new());
    acme.messaging_service_sid = Some("MGacme".into());
    let mut bravo = tenant(ProviderConfig::Log { auth_token: BRAVO_TOKEN.into() }, Vec::new());
    bravo.id = "bravo".into();
    bravo.name = "Bravo".into();
    bravo.numbers = vec![BRAVO_NUMBER.into()];
    bravo.messaging_service_sid = Some("MGbravo".into());
    bravo.api_token = Some(BRAVO_API_TOKEN.into());
    vec![acme, bravo]
}

fn with(mut params: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    params.push((name.to_string(), value.to_string()));
    params
}

async fn conversations(base: &str, token: &str) -> Vec<serde_json::Value> {
    let r = reqwest::Client::new().get(format!("{base}/api/v1/conversations")).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let v: serde_json::Value = r.json().await.unwrap();
    v["conversations"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_tenant_cannot_take_in_or_answer_on_another_tenants_number() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), two_tenants(ProviderConfig::Log { auth_token: TOKEN.into() })).await;
    let base = format!("http://{}", host.addr);
    let path = "/webhooks/twilio/sms";

    // Bravo signs with its own token and names its own service, but `To` is Acme's number.
    let forged = with(inbound_params("SMx1", ANA, "where is my order"), "MessagingServiceSid", "MGbravo");
    let r = post_signed(&base, path, &forged, BRAVO_TOKEN).await;
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("different tenants"), "{body}");
    // The other direction: Acme's token and service, Bravo's number.
    let forged = with(
        with(inbound_params("SMx2", ANA, "where is my order"), "MessagingServiceSid", "MGacme"),
        "To",
        BRAVO_NUMBER,
    );
    assert_eq!(post_signed(&base, path, &forged, TOKEN).await.status(), 403);
    // Nothing was stored for either tenant, and nothing is waiting to run.
    assert!(conversations(&base, API_TOKEN).await.is_empty());
    assert!(conversations(&base, BRAVO_API_TOKEN).await.is_empty());
    assert_eq!(host.store.pending_jobs().await.unwrap(), 0);

    // What is allowed still works: Bravo's service with a pool number it does
    // not list, and each tenant on its own number.
    let pool =
        with(with(inbound_params("SMok1", ANA, "hi"), "MessagingServiceSid", "MGbravo"), "To", BRAVO_POOL_NUMBER);
    assert_eq!(post_signed(&base, path, &pool, BRAVO_TOKEN).await.status(), 200);
    let own = with(inbound_params("SMok2", ANA, "hi"), "To", BRAVO_NUMBER);
    assert_eq!(post_signed(&base, path, &own, BRAVO_TOKEN).await.status(), 200);
    assert_eq!(post_signed(&base, path, &inbound_params("SMok3", ANA, "hi"), TOKEN).await.status(), 200);
    // (Conversations are made by the pipeline after the acknowledgement: wait for it.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while conversations(&base, BRAVO_API_TOKEN).await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(conversations(&base, BRAVO_API_TOKEN).await.len(), 1);
    // Acme holds only the one message sent to its own number.
    let acme = wait_for(&base, ANA, |_| true).await;
    let inbound: Vec<&serde_json::Value> =
        acme["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "inbound").collect();
    assert_eq!(inbound.len(), 1, "{acme}");
    host.shutdown().await;
}

#[tokio::test]
async fn a_status_callback_changes_only_its_own_tenants_messages() {
    let fake = FakeTwilio::default();
    let twilio_url = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut tenants = two_tenants(twilio(twilio_url));
    tenants[0].plugins = crate::host::first_party_plugins();
    let host = start(dir.path(), tenants).await;
    let base = format!("http://{}", host.addr);
    assert_eq!(
        post_signed(&base, "/webhooks/twilio/sms", &inbound_params("SMs1", ANA, "hi"), TOKEN).await.status(),
        200
    );
    let conv = wait_for(&base, ANA, |c| outbound(c).iter().any(|m| m["provider_sid"].is_string())).await;
    let sid = outbound(&conv)[0]["provider_sid"].as_str().unwrap().to_string();
    let before = outbound(&conv)[0]["status"].clone();

    // Bravo, correctly signed from its own number, reports Acme's message
    // undeliverable with the carrier opt-out code: nothing of Acme's changes.
    let mut forged = status_params(&sid, "undelivered", Some("21610"));
    forged = with(forged, "From", BRAVO_NUMBER);
    let r = post_signed(&base, "/webhooks/twilio/status", &forged, BRAVO_TOKEN).await;
    assert!(r.status().is_success(), "{}", r.status());
    let conv = wait_for(&base, ANA, |_| true).await;
    assert_eq!(outbound(&conv)[0]["status"], before, "{conv}");
    assert!(outbound(&conv)[0]["error_code"].is_null(), "{conv}");
    let consent = reqwest::Client::new()
        .get(format!("{base}/api/v1/consent?contact={}", ANA.replace('+', "%2B")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let consent: serde_json::Value = consent.json().await.unwrap();
    let events = consent["events"].as_array().cloned().unwrap_or_default();
    assert!(!events.iter().any(|e| e["event"] == "provider-opt-out"), "{consent}");
    // Acme's own callback does apply.
    let r = post_signed(&base, "/webhooks/twilio/status", &status_params(&sid, "delivered", None), TOKEN).await;
    assert!(r.status().is_success());
    wait_for(&base, ANA, |c| outbound(c)[0]["status"] == "delivered").await;
    host.shutdown().await;
}

#[tokio::test]
async fn an_unsigned_request_learns_nothing_about_configured_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), two_tenants(ProviderConfig::Log { auth_token: TOKEN.into() })).await;
    let base = format!("http://{}", host.addr);
    let url = format!("{base}/webhooks/twilio/sms");
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for to in [NUMBER, "+15550009999"] {
        for signature in [None, Some("bm90IGEgc2lnbmF0dXJl")] {
            let params = with(inbound_params("SMu1", ANA, "hi"), "To", to);
            let mut req = client.post(&url).form(&params);
            if let Some(s) = signature {
                req = req.header("X-Twilio-Signature", s);
            }
            let r = req.send().await.unwrap();
            answers.push((r.status().as_u16(), r.text().await.unwrap()));
        }
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "configured and unknown numbers answer alike: {answers:?}");
    assert_eq!(answers[0].0, 403);
    // A correctly signed request for a number no tenant owns answers the same.
    let unknown = with(inbound_params("SMu2", ANA, "hi"), "To", "+15550009999");
    let r = post_signed(&base, "/webhooks/twilio/sms", &unknown, TOKEN).await;
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), answers[0]);
    host.shutdown().await;
}

#[tokio::test]
async fn the_webhook_takes_exactly_the_form_media_type() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), two_tenants(ProviderConfig::Log { auth_token: TOKEN.into() })).await;
    let base = format!("http://{}", host.addr);
    let url = format!("{base}/webhooks/twilio/sms");
    let params = inbound_params("SMc1", ANA, "hi");
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
    let signature = smsdesk::messaging::signature::sign(TOKEN, &url, &params);
    for (content_type, expected) in [
        ("application/x-www-form-urlencodedX", 415),
        ("application/x-www-form-urlencoded-evil", 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded; charset=utf-8", 200),
        ("Application/X-WWW-Form-Urlencoded", 200),
    ] {
        let r = reqwest::Client::new()
            .post(&url)
            .header("content-type", content_type)
            .header("X-Twilio-Signature", &signature)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected, "{content_type}");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn mms_media_urls_are_shown_on_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), two_tenants(ProviderConfig::Log { auth_token: TOKEN.into() })).await;
    let base = format!("http://{}", host.addr);
    let mut params = with(inbound_params("SMm1", ANA, "the box arrived like this"), "NumMedia", "2");
    params
        .push(("MediaUrl0".into(), "https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages/MM1/Media/ME1".into()));
    params.push(("MediaContentType0".into(), "image/jpeg".into()));
    params
        .push(("MediaUrl1".into(), "https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages/MM1/Media/ME2".into()));
    params.push(("MediaContentType1".into(), "image/png".into()));
    assert_eq!(post_signed(&base, "/webhooks/twilio/sms", &params, TOKEN).await.status(), 200);
    let conv = wait_for(&base, ANA, |c| c["messages"].as_array().is_some_and(|m| !m.is_empty())).await;
    let inbound = conv["messages"].as_array().unwrap().iter().find(|m| m["direction"] == "inbound").unwrap().clone();
    assert_eq!(
        inbound["media_urls"],
        serde_json::json!([
            "https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages/MM1/Media/ME1",
            "https://api.twilio.com/2010-04-01/Accounts/ACtest/Messages/MM1/Media/ME2"
        ]),
        "{inbound}"
    );
    host.shutdown().await;
}

/// axum's own answers — a path that does not parse, a wrong method, an
/// unknown route, a body over the limit — come in the one JSON error shape.
#[tokio::test]
async fn every_error_is_the_json_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), two_tenants(ProviderConfig::Log { auth_token: TOKEN.into() })).await;
    let base = format!("http://{}", host.addr);
    let client = reqwest::Client::new();
    let cases = [
        (reqwest::Method::DELETE, "/admin/v1/plugins/not-a-number", 400),
        (reqwest::Method::GET, "/api/v1/tickets/1/reply", 405),
        (reqwest::Method::GET, "/api/v1/no-such-thing", 404),
        (reqwest::Method::POST, "/api/v1/segments", 413),
    ];
    for (method, path, expected) in cases {
        let mut req = client.request(method.clone(), format!("{base}{path}")).bearer_auth(API_TOKEN);
        if expected == 413 {
            req = req.header("content-type", "application/json").body(vec![b' '; 200 * 1024]);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), expected, "{method} {path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("application/json"), "{method} {path}: {content_type}");
        if expected == 405 {
            assert!(r.headers().contains_key("allow"), "{method} {path} keeps Allow");
        }
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{method} {path}: {body}");
    }
    host.shutdown().await;
}

#[tokio::test]
async fn the_inbox_pages_run_only_their_own_script_and_cannot_be_framed() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), vec![tenant(crate::host::log_provider(), crate::host::first_party_plugins())]).await;
    let base = format!("http://{}", host.addr);
    for path in ["/inbox", "/inbox/app.js", "/inbox/app.css"] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let csp = header("content-security-policy");
        let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
        for wanted in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
            assert!(directives.contains(&wanted), "{path}: `{wanted}` missing from `{csp}`");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    host.shutdown().await;
}
