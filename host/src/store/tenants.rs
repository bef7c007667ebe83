//! Tenants and their numbers (plugin bindings live in the configuration file).

use super::{Store, StoreResult};
use crate::config::TenantConfig;

impl Store {
    /// Make the stored tenants and numbers match the configuration.
    pub async fn sync_tenants(&self, tenants: &[TenantConfig]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let now = self.now();
        for t in tenants {
            sqlx::query(
                "INSERT INTO tenants (id, name, time_zone, help_text, messaging_service_sid, updated_at, ticket_prefix)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET name = $2, time_zone = $3, help_text = $4,
                     messaging_service_sid = $5, updated_at = $6, ticket_prefix = $7",
            )
            .bind(&t.id)
            .bind(&t.name)
            .bind(&t.time_zone)
            .bind(&t.help_text)
            .bind(&t.messaging_service_sid)
            .bind(now)
            .bind(t.ticket_prefix())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM tenant_numbers WHERE tenant_id = $1").bind(&t.id).execute(&mut *tx).await?;
            for n in &t.numbers {
                sqlx::query(
                    "INSERT INTO tenant_numbers (number, tenant_id) VALUES ($1, $2)
                     ON CONFLICT (number) DO UPDATE SET tenant_id = $2",
                )
                .bind(n)
                .bind(&t.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
