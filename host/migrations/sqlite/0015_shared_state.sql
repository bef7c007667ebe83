-- What replicas share, kept in the database instead of one process.
--
-- Uploaded components, by content hash: any replica loads a version another
-- one accepted (each compiles it into its own precompiled cache). Versions
-- uploaded before this migration keep reading the file at their `path`.
CREATE TABLE plugin_components (
    sha256 TEXT PRIMARY KEY,
    bytes BLOB NOT NULL
);

-- The plugin key-value store: one space per (tenant, plugin identity), a
-- shadow candidate's with its own suffix.
CREATE TABLE plugin_kv (
    tenant_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (tenant_id, plugin, key)
);

-- Bytes (keys + values) each space holds: the quota is checked and the
-- count moved in the transaction that writes the key, with this row
-- locked, so writers on two replicas cannot both pass the check.
CREATE TABLE plugin_kv_spaces (
    tenant_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);
