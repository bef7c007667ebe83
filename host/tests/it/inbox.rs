//! The web inbox in a real browser: headless Chromium driven over the W3C
//! WebDriver protocol (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs). An agent signs in, opens a handed-off conversation,
//! sees its context, replies, and sees the reply in the thread and at the
//! provider; a new customer message appears without a reload.

use crate::host::{ANA, FakeTwilio, text, twilio};
use crate::tickets::{ANA_AGENT, helpdesk_tenant, start_with, ticket_when};
use serde_json::{Value, json};
use smsdesk::clock::Clock;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates.iter().find(|p| std::path::Path::new(p).exists()).map(|p| p.to_string())
}

impl Browser {
    async fn start() -> Browser {
        let driver = find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
            .expect("chromedriver is missing: install Debian's `chromium` and `chromium-driver` (.ci/run does this)");
        let chromium = find_program(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
            .expect("chromium is missing: install Debian's `chromium` (.ci/run does this)");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,900", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut browser = Browser { driver: child, base, session: String::new(), http };
        let created = browser.cmd(reqwest::Method::POST, "/session", caps).await;
        browser.session = created["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}/session", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut req = self.http.request(method.clone(), &url);
        if method != reqwest::Method::GET {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url})).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self.cmd(reqwest::Method::POST, "/element", json!({"using": "css selector", "value": css})).await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), json!({})).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), json!({"text": text})).await;
    }

    async fn js(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", json!({"script": script, "args": []})).await
    }

    /// Wait until `script` (an expression) is truthy; panic with `what` and the page's state if not.
    async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.js(&format!("return ({script});")).await;
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.js("return document.body.innerText;").await;
                panic!("timed out waiting for {what}; the page shows:\n{}", page.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn quit(&self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

#[tokio::test]
async fn an_agent_signs_in_answers_a_handed_off_conversation_and_sees_it_live() {
    let fake = FakeTwilio::default();
    let twilio_base = fake.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = helpdesk_tenant();
    t.provider = twilio(twilio_base);
    let host = start_with(dir.path(), vec![t], Clock::system()).await;
    let base = format!("http://{}", host.addr);

    assert_eq!(text(&base, "SMb1", ANA, "my payment failed, please help").await.status(), 200);
    ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/inbox")).await;
    // A wrong token is refused with a message.
    browser.type_into("#token", "not-a-real-token").await;
    browser.click("#signin").await;
    browser.until("the sign-in error", "document.getElementById('signin-error').textContent").await;
    browser.js("document.getElementById('token').value = ''; return 1;").await;
    browser.type_into("#token", ANA_AGENT).await;
    browser.click("#signin").await;
    browser.until("the queue", "document.querySelector('#queue li[data-reference=\"ACME-1\"]')").await;
    assert_eq!(browser.js("return document.getElementById('whoami').textContent").await, "ROSA (agent)");

    // Open the conversation: thread, handoff reason, profile, intents, trace.
    browser.click("#queue li[data-reference=\"ACME-1\"]").await;
    browser.until("the thread", "document.getElementById('thread').innerText.includes('my payment failed')").await;
    let shown = |id: &str| format!("document.getElementById('{id}').innerText");
    assert!(browser.js(&format!("return {}", shown("t-reason"))).await.as_str().unwrap().contains("Billing question"));
    browser.until("the CRM profile", &format!("{}.includes('Ana')", shown("profile"))).await;
    browser.until("the intents", &format!("{}.includes('billing')", shown("intents"))).await;
    browser.until("the plugin trace", &format!("{}.includes('faq-responder')", shown("trace"))).await;

    // The composer counts segments live, then the reply goes out.
    let reply = "Hi Ana, I can see the failed payment. I've asked the bank to retry it now.";
    browser.type_into("#composer", reply).await;
    browser.until("the segment counter", "document.getElementById('counter').dataset.segments === '1'").await;
    assert_eq!(browser.js("return document.getElementById('counter').dataset.encoding").await, "GSM-7");
    browser.click("#send").await;
    browser
        .until(
            "the reply in the thread",
            &format!(
                "[...document.querySelectorAll('#thread li.agent')].some(li => li.innerText.includes({}))",
                json!(reply)
            ),
        )
        .await;
    // … and at the provider.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = fake.received.lock().unwrap().iter().any(|form| form.iter().any(|(k, v)| k == "Body" && v == reply));
        if sent {
            break;
        }
        assert!(Instant::now() < deadline, "the provider never received the reply");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A new customer message appears without a reload (server-sent events).
    browser.js("window.__marker = 'same page'; return 1;").await;
    assert_eq!(text(&base, "SMb2", ANA, "thank you!! it worked").await.status(), 200);
    browser.until("the live message", "document.getElementById('thread').innerText.includes('it worked')").await;
    assert_eq!(browser.js("return window.__marker").await, "same page", "the page was not reloaded");

    // Customer text is shown as text, never run as markup.
    assert_eq!(text(&base, "SMb3", ANA, "<img src=x onerror=\"window.__pwned=1\">").await.status(), 200);
    browser.until("the markup as text", "document.getElementById('thread').innerText.includes('<img src=x')").await;
    assert!(browser.js("return window.__pwned === undefined").await.as_bool().unwrap());

    // A note, a tag and resolving, from the page.
    browser.type_into("#note", "Bank retried the charge").await;
    browser.click("#add-note").await;
    browser.until("the note", &format!("{}.includes('Bank retried')", shown("notes"))).await;
    browser.type_into("#tag", "bank-retry").await;
    browser.click("#add-tag").await;
    browser.until("the tag", "document.getElementById('t-badges').innerText.includes('#bank-retry')").await;
    browser.click("#resolve").await;
    browser.until("resolved", "document.getElementById('t-badges').dataset.status === 'resolved'").await;

    browser.quit().await;
    host.shutdown().await;
}
