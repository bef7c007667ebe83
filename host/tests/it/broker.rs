//! The outbound HTTP broker against a real local server: grants, HTTPS
//! only, no loopback/private/link-local addresses (also after DNS and after
//! redirects) unless granted, injected secret headers, size limits and the
//! call's deadline.

use axum::http::HeaderMap;
use axum::routing::{get, post};
use smsdesk::broker::{BrokerError, Policy, Request, fetch};
use std::time::{Duration, Instant};

async fn server() -> u16 {
    let app = axum::Router::new()
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                let seen = |h: &str| headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                axum::Json(
                    serde_json::json!({ "x-api-key": seen("x-api-key"), "authorization": seen("authorization") }),
                )
            }),
        )
        .route("/post", post(|body: String| async move { format!("got {} bytes", body.len()) }))
        .route("/big", get(|| async { "x".repeat(2 * 1024 * 1024) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route("/redirect", crate::support::redirect_route());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn get_req(url: String) -> Request {
    Request { method: "GET".into(), url, headers: vec![], body: vec![] }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn policy(grants: &[&str]) -> Policy {
    Policy::from_grants(&grants.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

#[tokio::test]
async fn only_granted_hosts_over_https_and_only_public_addresses() {
    let port = server().await;
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");

    // Not granted at all.
    let none = policy(&[]);
    assert_eq!(
        fetch(&none, &get_req(url("127.0.0.1", "/echo")), soon()).await.unwrap_err(),
        BrokerError::NotGranted("127.0.0.1".into())
    );
    // Granted, but plain HTTP is not.
    let https_only = policy(&["outbound-http:127.0.0.1"]);
    assert!(matches!(
        fetch(&https_only, &get_req(url("127.0.0.1", "/echo")), soon()).await,
        Err(BrokerError::Insecure(_))
    ));
    // HTTP granted, but loopback is not public.
    let no_private = policy(&["outbound-http:127.0.0.1", "outbound-http-insecure:127.0.0.1"]);
    let err = fetch(&no_private, &get_req(url("127.0.0.1", "/echo")), soon()).await.unwrap_err();
    assert!(matches!(err, BrokerError::PrivateAddress(_, ip) if ip.is_loopback()), "{err}");
    // A name that resolves to loopback is refused after the lookup.
    let by_name = policy(&["outbound-http:localhost", "outbound-http-insecure:localhost"]);
    let err = fetch(&by_name, &get_req(url("localhost", "/echo")), soon()).await.unwrap_err();
    assert!(matches!(err, BrokerError::PrivateAddress(..)), "{err}");
    // Private ranges and the cloud metadata address, as literals.
    // IPv6 spellings that embed loopback or the metadata address count by
    // the IPv4 inside (IPv4-compatible, mapped, 6to4, NAT64, Teredo).
    for ip in [
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[::1]",
        "[fd00::1]",
        "[::127.0.0.1]",
        "[::ffff:127.0.0.1]",
        "[2002:7f00:1::]",
        "[2002:a9fe:a9fe::1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::7f00:1]",
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    ] {
        // Granted as the URL spells the host once parsed (`[::127.0.0.1]` is `[::7f00:1]`).
        let target = format!("http://{ip}:{port}/echo");
        let parsed = reqwest::Url::parse(&target).unwrap();
        let host = parsed.host_str().unwrap().trim_matches(|c| c == '[' || c == ']');
        let p = policy(&[&format!("outbound-http:{host}"), &format!("outbound-http-insecure:{host}")]);
        let err = fetch(&p, &get_req(target.clone()), soon()).await.unwrap_err();
        assert!(matches!(err, BrokerError::PrivateAddress(..)), "{ip}: {err}");
    }
    // Not HTTP at all, and credentials in URLs.
    let p = policy(&["outbound-http:127.0.0.1"]);
    assert!(matches!(
        fetch(&p, &get_req("file:///etc/passwd".into()), soon()).await,
        Err(BrokerError::BadRequest(_) | BrokerError::NotGranted(_))
    ));
    assert!(matches!(
        fetch(&p, &get_req(format!("https://user:pw@127.0.0.1:{port}/")), soon()).await,
        Err(BrokerError::BadRequest(_))
    ));
}

#[tokio::test]
async fn a_granted_local_server_gets_the_secret_header_and_limits_hold() {
    let port = server().await;
    let mut p =
        policy(&["outbound-http:127.0.0.1", "outbound-http-insecure:127.0.0.1", "outbound-http-private:127.0.0.1"]);
    p.secret_headers.push(("127.0.0.1".into(), "X-Api-Key".into(), "tenant-secret-123".into()));
    // The host injects the secret; the plugin cannot override it.
    let mut req = get_req(format!("http://127.0.0.1:{port}/echo"));
    req.headers.push(("x-api-key".into(), "plugin-chosen".into()));
    let res = fetch(&p, &req, soon()).await.unwrap();
    assert_eq!(res.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(body["x-api-key"], "tenant-secret-123");

    // A header HTTP does not allow is the plugin's mistake, said as such.
    for (name, value) in [("x-bad", "a\r\nInjected: yes"), ("bad name", "v")] {
        let mut req = get_req(format!("http://127.0.0.1:{port}/echo"));
        req.headers.push((name.into(), value.into()));
        let err = fetch(&p, &req, soon()).await.unwrap_err();
        assert!(matches!(err, BrokerError::BadRequest(_)), "{name:?}: {err}");
    }

    // Bodies: request and response limits.
    p.max_request_bytes = 1024;
    let post = Request {
        method: "POST".into(),
        url: format!("http://127.0.0.1:{port}/post"),
        headers: vec![],
        body: vec![b'a'; 2048],
    };
    assert_eq!(fetch(&p, &post, soon()).await.unwrap_err(), BrokerError::TooLarge("request", 1024));
    let small = Request { body: vec![b'a'; 100], ..post };
    assert_eq!(String::from_utf8(fetch(&p, &small, soon()).await.unwrap().body).unwrap(), "got 100 bytes");
    assert_eq!(
        fetch(&p, &get_req(format!("http://127.0.0.1:{port}/big")), soon()).await.unwrap_err(),
        BrokerError::TooLarge("response", 1024 * 1024)
    );

    // The deadline of the plugin call bounds the request.
    let started = Instant::now();
    let err =
        fetch(&p, &get_req(format!("http://127.0.0.1:{port}/slow")), Instant::now() + Duration::from_millis(300)).await;
    assert_eq!(err.unwrap_err(), BrokerError::Timeout);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn redirects_are_checked_hop_by_hop() {
    let port = server().await;
    let p = policy(&["outbound-http:127.0.0.1", "outbound-http-insecure:127.0.0.1", "outbound-http-private:127.0.0.1"]);
    let via = |to: &str| {
        get_req(format!(
            "http://127.0.0.1:{port}/redirect?to={}",
            form_urlencoded::byte_serialize(to.as_bytes()).collect::<String>()
        ))
    };
    // To a granted place: followed.
    let ok = fetch(&p, &via(&format!("http://127.0.0.1:{port}/echo")), soon()).await.unwrap();
    assert_eq!(ok.status, 200);
    // To the metadata service, to a name that is not granted, to loopback by another name: refused.
    for to in ["http://169.254.169.254/latest/meta-data/", &format!("http://localhost:{port}/echo"), "http://10.0.0.1/"]
    {
        let err = fetch(&p, &via(to), soon()).await.unwrap_err();
        assert!(matches!(err, BrokerError::NotGranted(_) | BrokerError::PrivateAddress(..)), "{to}: {err}");
    }
    // A secret for one granted host never follows a redirect to another
    // granted host: each hop gets only its own host's headers.
    let mut both = policy(&[
        "outbound-http:127.0.0.1",
        "outbound-http-insecure:127.0.0.1",
        "outbound-http-private:127.0.0.1",
        "outbound-http:localhost",
        "outbound-http-insecure:localhost",
        "outbound-http-private:localhost",
    ]);
    both.secret_headers.push(("127.0.0.1".into(), "X-Api-Key".into(), "for-127-only".into()));
    let direct = fetch(&both, &get_req(format!("http://127.0.0.1:{port}/echo")), soon()).await.unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&direct.body).unwrap()["x-api-key"], "for-127-only");
    // Nor does a credential the plugin set itself (as browsers and HTTP clients do).
    let mut req = via(&format!("http://localhost:{port}/echo"));
    req.headers.push(("Authorization".into(), "Bearer plugin-set".into()));
    let moved = fetch(&both, &req, soon()).await.unwrap();
    assert_eq!(moved.status, 200);
    let seen: serde_json::Value = serde_json::from_slice(&moved.body).unwrap();
    assert_eq!((seen["x-api-key"].as_str(), seen["authorization"].as_str()), (Some(""), Some("")), "{seen}");
    // Same host: the plugin's credential stays.
    let mut req = via(&format!("http://127.0.0.1:{port}/echo"));
    req.headers.push(("Authorization".into(), "Bearer plugin-set".into()));
    let stayed = fetch(&both, &req, soon()).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stayed.body).unwrap()["authorization"],
        "Bearer plugin-set"
    );
    // Around in circles: stopped.
    let self_loop = format!("http://127.0.0.1:{port}/redirect?to=/redirect%3Fto%3D/redirect");
    assert_eq!(fetch(&p, &get_req(self_loop), soon()).await.unwrap_err(), BrokerError::TooManyRedirects);
}
