-- The two work queues (pipeline jobs, outbox sends) are claimed and counted
-- by their pending rows only: partial indexes hold just those, so a claim
-- or a backlog count does not walk the history of done jobs and sent
-- messages. (PostgreSQL's migration also tunes page room and autovacuum.)
DROP INDEX jobs_due;
CREATE INDEX jobs_pending ON jobs (id) WHERE status = 'pending';
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (next_attempt_at, id) WHERE status = 'pending';
