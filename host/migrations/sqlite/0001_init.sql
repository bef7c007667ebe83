-- smsdesk schema, version 1. Migrations are append-only: never edit an applied one.
-- Times are Unix milliseconds (INTEGER), so the same queries work on PostgreSQL (BIGINT).

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    help_text TEXT,
    messaging_service_sid TEXT UNIQUE,
    updated_at INTEGER NOT NULL
);

CREATE TABLE tenant_numbers (
    number TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id)
);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    phone TEXT NOT NULL,
    profile_json TEXT,
    profile_fetched_at INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, phone)
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    tenant_number TEXT NOT NULL,
    status TEXT NOT NULL,            -- open | resolved
    owner TEXT NOT NULL,             -- bot | human
    handoff_reason TEXT,
    handoff_priority TEXT,
    handoff_team TEXT,
    tags TEXT NOT NULL DEFAULT '[]', -- JSON array
    intents TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL
);
CREATE INDEX conversations_by_contact ON conversations (tenant_id, contact_id, status);
CREATE INDEX conversations_by_tenant ON conversations (tenant_id, last_message_at);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    conversation_id INTEGER REFERENCES conversations (id),
    direction TEXT NOT NULL,         -- inbound | outbound
    author TEXT NOT NULL,            -- customer | bot | agent | system
    from_number TEXT NOT NULL,
    to_number TEXT NOT NULL,
    body TEXT NOT NULL,
    media_urls TEXT NOT NULL DEFAULT '[]',
    encoding TEXT NOT NULL,          -- GSM-7 | UCS-2
    segments INTEGER NOT NULL,
    provider_sid TEXT,
    status TEXT NOT NULL,
    status_rank INTEGER NOT NULL,
    error_code TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_provider_sid ON messages (tenant_id, direction, provider_sid);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_by_sid ON messages (provider_sid);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    status TEXT NOT NULL,            -- pending | done
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, locked_until, id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    message_id INTEGER NOT NULL UNIQUE REFERENCES messages (id),
    idempotency_key TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,          -- conversational | informational | promotional
    status TEXT NOT NULL,            -- pending | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, id);

CREATE TABLE plugin_bindings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    role TEXT NOT NULL,
    position INTEGER NOT NULL,
    plugin TEXT NOT NULL,
    config_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role, position)
);

CREATE TABLE plugin_traces (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    conversation_id INTEGER,
    plugin TEXT NOT NULL,
    version TEXT NOT NULL,
    role TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    outcome TEXT NOT NULL,           -- ok | error
    error_kind TEXT,
    detail TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX plugin_traces_by_conversation ON plugin_traces (conversation_id, id);
