-- Plugins installed through the admin API: every uploaded version (the
-- component itself is a file in <data_dir>/plugins/<sha256>.wasm), the
-- bindings admins manage per tenant (beside the configured ones), and the
-- audit log of every admin action.

CREATE TABLE plugin_versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    roles TEXT NOT NULL,             -- JSON array
    wit_version TEXT NOT NULL,
    capabilities TEXT NOT NULL,      -- JSON array
    path TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    removed_at INTEGER
);
CREATE INDEX plugin_versions_by_name ON plugin_versions (name, id);

CREATE TABLE managed_bindings (
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL,
    plugin TEXT NOT NULL,            -- the plugin's name
    version_id INTEGER NOT NULL REFERENCES plugin_versions (id),
    config_json TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    history TEXT NOT NULL DEFAULT '[]', -- earlier version ids, newest last (rollback pops)
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, role, plugin)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant_id TEXT,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}',  -- JSON; never a secret
    created_at INTEGER NOT NULL
);
