//! A change and its record are one transaction: when the ticket's timeline
//! or the admin audit log cannot be written, the change does not happen
//! either (and happens once, with its record, when it can). The test makes
//! the record's table refuse inserts with a trigger, on either engine.

use crate::admin::{OPS, allow_unsigned, config, upload};
use crate::host::{ANA, text};
use crate::tickets::{ANA_AGENT, call, ticket_when};
use reqwest::Method;
use serde_json::json;
use smsdesk::server;
use sqlx::Connection as _;

/// Make `table` refuse every insert until [`Refusal::lift`].
struct Refusal {
    conn: sqlx::AnyConnection,
    table: &'static str,
    postgres: bool,
}

impl Refusal {
    async fn on(dir: &std::path::Path, table: &'static str) -> Refusal {
        sqlx::any::install_default_drivers();
        let url = crate::support::database_url(dir)
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("smsdesk.db").display()));
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let postgres = url.starts_with("postgres");
        let statements = if postgres {
            vec![
                "CREATE OR REPLACE FUNCTION refused_by_the_test() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                    .to_string(),
                format!(
                    "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refused_by_the_test()"
                ),
            ]
        } else {
            vec![format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )]
        };
        for s in statements {
            sqlx::query(sqlx::AssertSqlSafe(s)).execute(&mut conn).await.unwrap();
        }
        Refusal { conn, table, postgres }
    }

    async fn lift(mut self) {
        let table = self.table;
        let drop = if self.postgres {
            format!("DROP TRIGGER refuse_{table} ON {table}")
        } else {
            format!("DROP TRIGGER refuse_{table}")
        };
        sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut self.conn).await.unwrap();
        self.conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_ticket_change_without_its_timeline_entry_does_not_happen() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    assert_eq!(text(&base, "SMatom1", ANA, "I want to talk to a human").await.status(), 200);
    let t = ticket_when(&base, ANA_AGENT, ANA, |t| t["owner"] == "human").await;
    let path = |what: &str| format!("/api/v1/tickets/{}/{what}", t["id"]);
    let before = t["timeline"].as_array().unwrap().len();

    let refusal = Refusal::on(dir.path(), "ticket_events").await;
    let (status, _) = call(&base, Method::POST, &path("status"), ANA_AGENT, Some(json!({"status": "pending"}))).await;
    assert_eq!(status, 500);
    let (status, _) =
        call(&base, Method::POST, &path("notes"), ANA_AGENT, Some(json!({"body": "checked Stripe"}))).await;
    assert_eq!(status, 500);
    let now = call(&base, Method::GET, &format!("/api/v1/tickets/{}", t["id"]), ANA_AGENT, None).await.1;
    assert_eq!(now["status"], t["status"], "the status changed without its timeline entry");
    assert_eq!(now["notes"], json!([]), "the note was kept without its timeline entry");
    refusal.lift().await;

    let (status, out) = call(&base, Method::POST, &path("status"), ANA_AGENT, Some(json!({"status": "pending"}))).await;
    assert_eq!(status, 200, "{out}");
    let now = call(&base, Method::GET, &format!("/api/v1/tickets/{}", t["id"]), ANA_AGENT, None).await.1;
    assert_eq!(now["status"], "pending");
    let timeline = now["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), before + 1, "{timeline:#?}");
    host.shutdown().await;
}

#[tokio::test]
async fn an_admin_change_without_its_audit_entry_does_not_happen() {
    let dir = tempfile::tempdir().unwrap();
    let host = server::start(config(dir.path())).await.unwrap();
    let base = format!("http://{}", host.addr);
    allow_unsigned(&base).await;
    let (_, up) = upload(&base, std::fs::read(smsdesk_artifacts::test_guests::GREETER_V1.path).unwrap()).await;
    let bind = || {
        let base = base.clone();
        let body = json!({"version_id": up["plugin"]["id"], "config": {"greeting": "hi"}});
        async move {
            call(&base, Method::PUT, "/admin/v1/tenants/acme/bindings/responder/unsigned/greeter", OPS, Some(body))
                .await
        }
    };
    let audited = || {
        let base = base.clone();
        async move {
            let audit = call(&base, Method::GET, "/admin/v1/audit", OPS, None).await.1;
            audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "binding.set").count()
        }
    };
    let bound = || {
        let base = base.clone();
        async move {
            let b = call(&base, Method::GET, "/admin/v1/tenants/acme/bindings", OPS, None).await.1;
            b.to_string().contains("greeter")
        }
    };

    let refusal = Refusal::on(dir.path(), "audit_log").await;
    assert_eq!(bind().await.0, 500);
    assert!(!bound().await, "bound without an audit entry");
    // Nor does it serve: the customer still gets the configured responder.
    assert_eq!(text(&base, "SMatom2", "+15550700001", "hello").await.status(), 200);
    let replies = crate::admin::bot_replies(&base, "+15550700001", 1).await;
    assert!(!replies[0].starts_with("greeter"), "{replies:?}");
    refusal.lift().await;

    assert_eq!(audited().await, 0);
    let (status, out) = bind().await;
    assert_eq!(status, 200, "{out}");
    assert!(bound().await);
    assert_eq!(audited().await, 1);
    host.shutdown().await;
}
