-- Publisher identity: a plugin is (publisher, name). A publisher is an
-- Ed25519 key registered under a name; a component carries its publisher's
-- signature (unsigned components have the publisher `unsigned`, the
-- first-party ones the built-in `smsdesk`). Each tenant trusts publishers;
-- the row `unsigned` lets it install unsigned components.
--
-- Bindings and secrets belong to (publisher, name): their `plugin` column
-- now holds `publisher/name`. Everything uploaded before signatures existed
-- was unsigned; secrets follow the tenant's binding of that name, and a
-- secret of a first-party plugin's name with no such binding belongs to the
-- first-party plugin.

CREATE TABLE publishers (
    name TEXT PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,   -- ed25519:<64 hex digits>
    added_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tenant_publishers (
    tenant_id TEXT NOT NULL,
    publisher TEXT NOT NULL,           -- a publisher's name, or `unsigned`
    added_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, publisher)
);

ALTER TABLE plugin_versions ADD COLUMN publisher TEXT NOT NULL DEFAULT 'unsigned';
ALTER TABLE plugin_versions ADD COLUMN publisher_key TEXT;
CREATE INDEX plugin_versions_by_publisher ON plugin_versions (publisher, name, id);

UPDATE plugin_secrets SET plugin = COALESCE(
    (SELECT 'unsigned/' || b.plugin FROM managed_bindings b WHERE b.tenant_id = plugin_secrets.tenant_id AND b.plugin = plugin_secrets.plugin LIMIT 1),
    CASE WHEN plugin IN ('keyword-intents', 'faq-responder', 'demo-crm') THEN 'smsdesk/' || plugin ELSE 'unsigned/' || plugin END);
UPDATE managed_bindings SET plugin = 'unsigned/' || plugin;
-- Tenants that had uploaded (unsigned) plugins bound keep being able to run them.
INSERT INTO tenant_publishers (tenant_id, publisher, added_by, created_at)
    SELECT DISTINCT tenant_id, 'unsigned', 'migration', 0 FROM managed_bindings;

-- Configured bindings were copied here at start-up (configuration included)
-- and never read: the configuration file is their only home.
DELETE FROM plugin_bindings;
