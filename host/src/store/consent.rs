//! The consent ledger (append-only) and what the outbound gate reads.

use super::{Sql, Store, StoreError, StoreResult, push_list};
use crate::consent::{ConsentEvent, EventKind, Source};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use std::collections::HashMap;

/// A ledger record to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConsentEvent {
    /// Tenant.
    pub tenant_id: String,
    /// The contact's number.
    pub phone: String,
    /// The tenant number or Messaging Service it concerns.
    pub program: String,
    /// `all`, `informational` or `promotional`.
    pub purpose: String,
    /// What happened.
    pub event: EventKind,
    /// Where the evidence comes from.
    pub source: Source,
    /// Keyword, detector rule or provider error code.
    pub matched: Option<String>,
    /// The inbound message that carried it.
    pub message_id: Option<i64>,
    /// The exact text.
    pub text: Option<String>,
    /// The disclosure version shown when consent was given.
    pub disclosure_version: Option<String>,
}

fn event_row(r: &AnyRow) -> StoreResult<ConsentEvent> {
    let kind: &str = r.get("event");
    let source: &str = r.get("source");
    Ok(ConsentEvent {
        id: r.get("id"),
        tenant_id: r.get("tenant_id"),
        phone: r.get("phone"),
        program: r.get("program"),
        purpose: r.get("purpose"),
        event: EventKind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("consent event `{kind}`")))?,
        source: match source {
            "customer" => Source::Customer,
            "agent" => Source::Agent,
            "api" => Source::Api,
            "import" => Source::Import,
            "provider" => Source::Provider,
            other => return Err(StoreError::Corrupt(format!("consent source `{other}`"))),
        },
        matched: r.get("matched"),
        message_id: r.get("message_id"),
        text: r.get("text"),
        disclosure_version: r.get("disclosure_version"),
        created_at: r.get("created_at"),
    })
}

const COLUMNS: &str =
    "id, tenant_id, phone, program, purpose, event, source, matched, message_id, text, disclosure_version, created_at";

impl Store {
    pub(super) async fn append_consent_in(
        tx: &mut Transaction<'_, Any>,
        events: &[&NewConsentEvent],
        now: i64,
    ) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        Self::consent_insert(events, now).build().execute(&mut **tx).await?;
        Ok(())
    }

    /// Append one event and read it back as stored.
    async fn append_consent_returning(
        tx: &mut Transaction<'_, Any>,
        event: &NewConsentEvent,
        now: i64,
    ) -> StoreResult<AnyRow> {
        let mut q = Self::consent_insert(&[event], now);
        q.push(" RETURNING ").push(COLUMNS);
        Ok(q.build().fetch_one(&mut **tx).await?)
    }

    fn consent_insert(events: &[&NewConsentEvent], now: i64) -> Sql {
        let mut q = Sql::new(
            "INSERT INTO consent_events (tenant_id, phone, program, purpose, event, source, matched, message_id,
                 text, disclosure_version, created_at) ",
        );
        q.push_values(events.iter().copied(), |mut row, e| {
            row.push_bind(&e.tenant_id)
                .push_bind(&e.phone)
                .push_bind(&e.program)
                .push_bind(&e.purpose)
                .push_bind(e.event.as_str())
                .push_bind(e.source.as_str())
                .push_bind(&e.matched)
                .push_bind(e.message_id)
                .push_bind(&e.text)
                .push_bind(&e.disclosure_version)
                .push_bind(now);
        });
        q
    }

    /// Append one record (API, import, agent).
    pub async fn append_consent(&self, event: &NewConsentEvent) -> StoreResult<ConsentEvent> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        let row = Self::append_consent_returning(&mut tx, event, now).await?;
        tx.commit().await?;
        event_row(&row)
    }

    /// The events of each (tenant, number), oldest first — one query for a batch.
    pub async fn consent_events_for(
        &self,
        contacts: &[(&str, &str)],
    ) -> StoreResult<HashMap<(String, String), Vec<ConsentEvent>>> {
        let mut out: HashMap<(String, String), Vec<ConsentEvent>> = HashMap::new();
        if contacts.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::new(format!("SELECT {COLUMNS} FROM consent_events WHERE phone IN "));
        push_list(&mut q, contacts.iter().map(|(_, phone)| *phone));
        q.push(" ORDER BY id");
        for r in q.build().fetch_all(&self.reader).await? {
            let e = event_row(&r)?;
            if contacts.iter().any(|(t, p)| *t == e.tenant_id && *p == e.phone) {
                out.entry((e.tenant_id.clone(), e.phone.clone())).or_default().push(e);
            }
        }
        Ok(out)
    }

    /// A tenant's ledger (or one contact's history), oldest first.
    pub async fn consent_ledger(&self, tenant_id: &str, phone: Option<&str>) -> StoreResult<Vec<ConsentEvent>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM consent_events WHERE tenant_id = $1 AND ($2 IS NULL OR phone = $2) ORDER BY id"
        )))
        .bind(tenant_id)
        .bind(phone)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_row).collect()
    }

    /// Known time zones of contacts (set when a customer or agent told us).
    pub async fn contact_time_zones(
        &self,
        contacts: &[(&str, &str)],
    ) -> StoreResult<HashMap<(String, String), String>> {
        if contacts.is_empty() {
            return Ok(HashMap::new());
        }
        let mut q =
            Sql::new("SELECT tenant_id, phone, time_zone FROM contacts WHERE time_zone IS NOT NULL AND phone IN ");
        push_list(&mut q, contacts.iter().map(|(_, phone)| *phone));
        Ok(q.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| ((r.get(0), r.get(1)), r.get(2)))
            .filter(|(k, _): &((String, String), String)| contacts.iter().any(|(t, p)| *t == k.0 && *p == k.1))
            .collect())
    }

    /// When proactive messages went to these numbers since `since` (ms):
    /// (tenant, number, subject) → send times.
    pub async fn proactive_sends_since(
        &self,
        contacts: &[(&str, &str)],
        since: i64,
    ) -> StoreResult<HashMap<(String, String, String), Vec<i64>>> {
        let mut out: HashMap<(String, String, String), Vec<i64>> = HashMap::new();
        if contacts.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::new(
            "SELECT o.tenant_id, m.to_number, COALESCE(o.subject, ''), o.sent_at FROM outbox o
             JOIN messages m ON m.id = o.message_id
             WHERE o.sent_at >= ",
        );
        q.push_bind(since).push(" AND o.category IN ('informational', 'promotional') AND m.to_number IN ");
        push_list(&mut q, contacts.iter().map(|(_, phone)| *phone));
        for r in q.build().fetch_all(&self.reader).await? {
            out.entry((r.get(0), r.get(1), r.get(2))).or_default().push(r.get(3));
        }
        Ok(out)
    }

    /// Record a contact's time zone (IANA name), creating the contact if needed.
    pub async fn set_contact_time_zone(&self, tenant_id: &str, phone: &str, zone: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO contacts (tenant_id, phone, created_at, time_zone) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, phone) DO UPDATE SET time_zone = excluded.time_zone",
        )
        .bind(tenant_id)
        .bind(phone)
        .bind(self.now())
        .bind(zone)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;

    #[tokio::test]
    async fn the_ledger_refuses_updates_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Durability::Normal).await.unwrap();
        sqlx::query("INSERT INTO tenants (id, name, time_zone, updated_at) VALUES ('t', 'T', 'UTC', 0)")
            .execute(&store.writer)
            .await
            .unwrap();
        let stored = store
            .append_consent(&NewConsentEvent {
                tenant_id: "t".into(),
                phone: "+15551234567".into(),
                program: "+15557650100".into(),
                purpose: "all".into(),
                event: EventKind::OptOut,
                source: Source::Customer,
                matched: Some("STOP".into()),
                message_id: Some(1),
                text: Some("STOP".into()),
                disclosure_version: None,
            })
            .await
            .unwrap();
        assert_eq!(stored.event, EventKind::OptOut);
        for sql in ["UPDATE consent_events SET event = 'opt-in'", "DELETE FROM consent_events"] {
            let err = sqlx::query(sql).execute(&store.writer).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(store.consent_ledger("t", None).await.unwrap(), vec![stored]);
    }
}
