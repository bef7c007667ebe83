-- Tickets: every conversation is a ticket with a per-tenant reference,
-- status (open | pending | snoozed | resolved | closed), priority,
-- assignee and team, SLA due times, CSAT; its timeline and internal notes.

ALTER TABLE conversations ADD COLUMN ref_no INTEGER;
ALTER TABLE conversations ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE conversations ADD COLUMN assignee TEXT;
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
ALTER TABLE conversations ADD COLUMN handed_off_at INTEGER;
ALTER TABLE conversations ADD COLUMN human_involved INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN first_human_response_at INTEGER;
ALTER TABLE conversations ADD COLUMN first_response_due INTEGER;
ALTER TABLE conversations ADD COLUMN resolution_due INTEGER;
ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolved_by TEXT;
ALTER TABLE conversations ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN csat_sent_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat_rating INTEGER;
ALTER TABLE conversations ADD COLUMN csat_at INTEGER;

ALTER TABLE tenants ADD COLUMN ticket_prefix TEXT NOT NULL DEFAULT '';

UPDATE conversations SET ref_no = id WHERE ref_no IS NULL;
UPDATE conversations SET resolved_at = updated_at WHERE status = 'resolved';
UPDATE conversations SET human_involved = 1, handed_off_at = updated_at WHERE owner = 'human';
CREATE UNIQUE INDEX conversations_ref ON conversations (tenant_id, ref_no);
CREATE INDEX conversations_queue ON conversations (tenant_id, status, owner, last_message_at);
CREATE INDEX conversations_newest ON conversations (contact_id, id);

-- Who did what, when: one row per change.
CREATE TABLE ticket_events (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    actor TEXT NOT NULL,             -- customer | bot | system | user id
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}', -- JSON
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_events_by_conversation ON ticket_events (conversation_id, id);

-- Internal notes: never sent to the customer.
CREATE TABLE ticket_notes (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_notes_by_conversation ON ticket_notes (conversation_id, id);

-- Round-robin assignment: the last user given a ticket, per team.
CREATE TABLE team_cursors (
    tenant_id TEXT NOT NULL,
    team TEXT NOT NULL,
    last_user TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team)
);
