-- The consent ledger: append-only evidence of opt-ins, opt-outs, HELP and
-- detected revocations per (tenant, number, program, purpose). The current
-- state of a number is derived from its events; nothing updates or deletes
-- them (the triggers refuse it), so a business can prove what happened.
CREATE TABLE consent_events (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    phone TEXT NOT NULL,
    program TEXT NOT NULL,           -- the tenant number or Messaging Service
    purpose TEXT NOT NULL,           -- all | informational | promotional
    event TEXT NOT NULL,             -- opt-in | opt-out | help | revocation-detected | provider-opt-out
    source TEXT NOT NULL,            -- customer | agent | api | import | provider
    matched TEXT,                    -- keyword, detector rule or provider error code
    message_id INTEGER,              -- the inbound message that carried it
    text TEXT,                       -- its exact (redacted) text
    disclosure_version TEXT,         -- the disclosure shown when consent was given
    created_at INTEGER NOT NULL
);
CREATE INDEX consent_events_by_contact ON consent_events (tenant_id, phone, id);
CREATE TRIGGER consent_events_are_never_updated BEFORE UPDATE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consent_events_are_never_deleted BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;

-- What the outbound gate needs to know about a send.
ALTER TABLE outbox ADD COLUMN subject TEXT;               -- frequency caps count per subject
ALTER TABLE outbox ADD COLUMN answers_message_id INTEGER; -- the opt-out a confirmation answers
ALTER TABLE outbox ADD COLUMN expires_at INTEGER;         -- not sent after this
ALTER TABLE outbox ADD COLUMN sent_at INTEGER;
CREATE INDEX outbox_sent ON outbox (sent_at);

ALTER TABLE contacts ADD COLUMN time_zone TEXT;           -- when the customer told us

-- Every send the gate blocked or deferred, with the reason.
CREATE TABLE send_decisions (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    tenant_id TEXT NOT NULL,
    decision TEXT NOT NULL,          -- blocked | deferred
    reason TEXT NOT NULL,
    until_at INTEGER,                -- for deferrals: the next allowed time
    created_at INTEGER NOT NULL
);
CREATE INDEX send_decisions_by_outbox ON send_decisions (outbox_id, id);
