-- When the current provider call for an outbox entry began. Written (and
-- committed) before the call, cleared when its result is recorded: an entry
-- that still has one after a crash is in doubt — the provider may have taken
-- it — and is settled by asking the provider, never sent again blindly.
ALTER TABLE outbox ADD COLUMN attempt_at INTEGER;
