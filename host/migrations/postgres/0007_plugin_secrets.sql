-- Per-tenant plugin secrets: written through the admin API, never read
-- back through it, kept apart from plain configuration, given only to the
-- tenant's bindings of the plugin (as configuration values).
CREATE TABLE plugin_secrets (
    tenant_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin, name)
);
