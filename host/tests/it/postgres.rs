//! The suite on PostgreSQL. Every test that touches storage runs twice: on
//! SQLite (this run) and, from here, again on PostgreSQL — this test starts
//! the test binary itself with `SMSDESK_TEST_ENGINE=postgres`, where each
//! test's host gets a database of its own, and drops those databases after.
//!
//! PostgreSQL is found through `SMSDESK_TEST_POSTGRES_URL` (a server URL
//! without a database, e.g. `postgres://postgres@127.0.0.1:5432`); `cargo
//! xtask test` starts or installs PostgreSQL and sets it. Unset, this test
//! fails and says so — unless `SMSDESK_TEST_SKIP_POSTGRES=1` asks for SQLite
//! only, which it then says loudly.

use std::process::Command;

/// Modules not run again: their tests never open a store, or (`replicas::`)
/// always run on PostgreSQL.
const NO_STORAGE: &[&str] = &[
    "postgres::",
    "replicas::",
    "sandbox::",
    "loading::",
    "broker::",
    "consent_property::",
    "tidy::",
    "plugin_authoring::",
];

#[test]
fn every_storage_test_passes_on_postgresql() {
    let Some(server) = postgres_server("the storage tests did NOT run on PostgreSQL") else { return };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let prefix = format!("smsdesk_it_{}_{nanos}", std::process::id());
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    for module in NO_STORAGE {
        cmd.args(["--skip", module]);
    }
    let out = cmd
        .env("SMSDESK_TEST_ENGINE", "postgres")
        .env("SMSDESK_TEST_DB_PREFIX", &prefix)
        .env("SMSDESK_TEST_POSTGRES_URL", &server)
        .output()
        .expect("running the suite again on PostgreSQL");
    let dropped = drop_databases(&server, &prefix);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = stdout.lines().filter(|l| l.starts_with("test result:")).collect();
    println!("on PostgreSQL ({dropped} test databases, dropped): {}", summary.join(" "));
    if !out.status.success() {
        let failures: Vec<&str> = stdout.lines().filter(|l| l.ends_with("FAILED")).collect();
        panic!(
            "the suite failed on PostgreSQL: {failures:?}\n--- its output ---\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Something ran: not "ok. 0 passed;" (and "70 passed;" is not "0 passed;").
    let ran = |s: &&str| s.split_whitespace().nth(3).and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 0);
    assert!(!summary.is_empty() && summary.iter().all(ran), "{stdout}");
}

/// The PostgreSQL server to test against; `None` inside the PostgreSQL run
/// itself, or when `SMSDESK_TEST_SKIP_POSTGRES=1` asks for SQLite only (said
/// loudly, with what was `skipped`). Unset without that flag, the test fails.
pub fn postgres_server(skipped: &str) -> Option<String> {
    if crate::support::on_postgres() {
        return None; // the PostgreSQL run itself (skipped there anyway)
    }
    if let Ok(server) = std::env::var("SMSDESK_TEST_POSTGRES_URL") {
        return Some(server);
    }
    if std::env::var("SMSDESK_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("\n*** SMSDESK_TEST_SKIP_POSTGRES=1: {skipped} ***\n");
        return None;
    }
    panic!(
        "SMSDESK_TEST_POSTGRES_URL is not set, so the PostgreSQL half of the suite cannot run. \
         `cargo xtask test` starts or installs PostgreSQL and sets it; or point it at a server \
         (SMSDESK_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432), or set \
         SMSDESK_TEST_SKIP_POSTGRES=1 to test SQLite only"
    );
}

/// Drop the databases whose names start with `prefix`; how many there were.
fn drop_databases(server: &str, prefix: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&format!("{}/postgres", server.trim_end_matches('/')))
            .await
            .expect("connecting to PostgreSQL to drop the test databases");
        let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for name in &names {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        names.len()
    })
}

/// The migrations of both engines, applied to empty databases, define the
/// same tables with the same columns, each of the same kind (integer, text,
/// bytes, real) and nullability — so a table or column added to one engine's
/// migrations and forgotten in the other's fails here, not in production.
#[test]
fn both_engines_migrations_define_the_same_tables_and_columns() {
    let Some(server) = postgres_server("the migrations were NOT compared with PostgreSQL's") else { return };
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let versions = |engine: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(migrations.join(engine))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(versions("sqlite"), versions("postgres"), "both engines have the same migrations, by number and name");

    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let prefix = format!("smsdesk_it_schema_{}_{nanos}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (sqlite, postgres) = rt.block_on(async {
        use sqlx::Connection as _;
        use sqlx::Row as _;
        let mut lite = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::migrate::Migrator::new(migrations.join("sqlite")).await.unwrap().run(&mut lite).await.unwrap();
        let rows = sqlx::query(
            "SELECT m.name, p.name, p.type, p.\"notnull\" OR p.pk FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut lite)
        .await
        .unwrap();
        let sqlite: Schema = rows
            .iter()
            .map(|r| column(r.get(0), r.get(1), &r.get::<String, _>(2), r.get::<bool, _>(3)))
            .collect();

        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", server.trim_end_matches('/'))).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{prefix}\""))).execute(&mut admin).await.unwrap();
        let mut pg = sqlx::PgConnection::connect(&format!("{}/{prefix}", server.trim_end_matches('/'))).await.unwrap();
        sqlx::migrate::Migrator::new(migrations.join("postgres")).await.unwrap().run(&mut pg).await.unwrap();
        let rows = sqlx::query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO' FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut pg)
        .await
        .unwrap();
        let postgres: Schema = rows
            .iter()
            .map(|r| column(r.get(0), r.get(1), &r.get::<String, _>(2), r.get::<bool, _>(3)))
            .collect();
        pg.close().await.unwrap();
        admin.close().await.unwrap();
        (sqlite, postgres)
    });
    drop_databases(&server, &prefix);
    assert!(sqlite.len() > 30, "the SQLite migrations define the schema: {sqlite:?}");
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the engines' schemas differ:\n  only in SQLite's migrations: {only_sqlite:?}\n  only in PostgreSQL's: {only_postgres:?}"
    );
}

/// (table, column, kind, not null)
type Schema = std::collections::BTreeSet<(String, String, &'static str, bool)>;

/// A column, its declared type reduced to the kind both engines share.
fn column(table: String, name: String, declared: &str, not_null: bool) -> (String, String, &'static str, bool) {
    let t = declared.to_ascii_lowercase();
    let kind = if t.contains("int") || t == "boolean" {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("blob") || t == "bytea" {
        "bytes"
    } else if t.contains("real") || t.contains("double") || t.contains("float") || t.contains("numeric") {
        "real"
    } else {
        "other"
    };
    (table, name, kind, not_null)
}
