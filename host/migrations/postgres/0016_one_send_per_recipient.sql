-- One send in flight per recipient, across workers and processes: each
-- outbox entry names its recipient, and a send is claimed only while no
-- other pending send to the same number of the same tenant is leased (the
-- claim's condition; claims are serialised on PostgreSQL by a transaction
-- advisory lock, on SQLite by the one writer). What one send teaches — a
-- 21610 opt-out, a frequency cap reached — is therefore known before the
-- next send to that number is gated. Rows already done keep NULL.
ALTER TABLE outbox ADD COLUMN recipient TEXT;
UPDATE outbox SET recipient = (SELECT to_number FROM messages WHERE messages.id = outbox.message_id)
    WHERE status = 'pending';
CREATE INDEX outbox_pending_recipient ON outbox (tenant_id, recipient) WHERE status = 'pending';
