-- An outbound message carries the idempotency key of its outbox entry, so a
-- batch of replies is queued with one INSERT … ON CONFLICT DO NOTHING and each
-- new row is matched to its reply by key.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_idempotency_key ON messages (idempotency_key) WHERE idempotency_key IS NOT NULL;
UPDATE messages SET idempotency_key = (SELECT o.idempotency_key FROM outbox o WHERE o.message_id = messages.id)
WHERE direction = 'outbound';
