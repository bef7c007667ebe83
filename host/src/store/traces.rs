//! Plugin call traces: which plugin ran for which message, how long, how it ended.

use super::{Sql, Store, StoreResult};
use serde::Serialize;
use sqlx::Row;
use sqlx::{Any, Transaction};

/// A plugin call to record.
#[derive(Debug, Clone)]
pub struct NewTrace {
    /// Tenant.
    pub tenant_id: String,
    /// Inbound message.
    pub message_id: i64,
    /// Conversation.
    pub conversation_id: Option<i64>,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// Role called.
    pub role: &'static str,
    /// Duration in microseconds.
    pub duration_us: i64,
    /// The error kind, if it failed.
    pub error_kind: Option<&'static str>,
    /// Details (error text or a short result summary).
    pub detail: Option<String>,
}

/// A recorded plugin call.
#[derive(Debug, Clone, Serialize)]
pub struct TraceRow {
    /// Inbound message.
    pub message_id: i64,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// Role.
    pub role: String,
    /// Microseconds.
    pub duration_us: i64,
    /// ok | error.
    pub outcome: String,
    /// Failure kind.
    pub error_kind: Option<String>,
    /// Details.
    pub detail: Option<String>,
    /// When (ms).
    pub created_at: i64,
}

impl Store {
    pub(super) async fn insert_traces_in(
        tx: &mut Transaction<'_, Any>,
        traces: &[&NewTrace],
        now: i64,
    ) -> StoreResult<()> {
        if traces.is_empty() {
            return Ok(());
        }
        // One multi-row INSERT for all of a batch's plugin calls.
        let mut insert = Sql::new(
            "INSERT INTO plugin_traces (tenant_id, message_id, conversation_id, plugin, version, role,
                 duration_us, outcome, error_kind, detail, created_at) ",
        );
        insert.push_values(traces.iter().copied(), |mut row, t| {
            row.push_bind(&t.tenant_id)
                .push_bind(t.message_id)
                .push_bind(t.conversation_id)
                .push_bind(&t.plugin)
                .push_bind(&t.version)
                .push_bind(t.role)
                .push_bind(t.duration_us)
                .push_bind(if t.error_kind.is_some() { "error" } else { "ok" })
                .push_bind(t.error_kind)
                .push_bind(&t.detail)
                .push_bind(now);
        });
        insert.build().execute(&mut **tx).await?;
        Ok(())
    }

    pub(super) async fn traces(
        tx: &mut Transaction<'_, Any>,
        tenant_id: &str,
        conversation_id: i64,
    ) -> StoreResult<Vec<TraceRow>> {
        let rows = sqlx::query(
            "SELECT message_id, plugin, version, role, duration_us, outcome, error_kind, detail, created_at
             FROM plugin_traces WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id",
        )
        .bind(tenant_id)
        .bind(conversation_id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .iter()
            .map(|r| TraceRow {
                message_id: r.get(0),
                plugin: r.get(1),
                version: r.get(2),
                role: r.get(3),
                duration_us: r.get(4),
                outcome: r.get(5),
                error_kind: r.get(6),
                detail: r.get(7),
                created_at: r.get(8),
            })
            .collect())
    }
}
