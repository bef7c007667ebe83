-- The two work queues (pipeline jobs, outbox sends) are claimed and counted
-- by their pending rows only. Each row is updated several times in its short
-- life (claimed, leased again, done), so an index over every row and every
-- status fills with entries of dead versions that each claim walks again
-- until autovacuum runs. Partial indexes hold only pending rows; a job's
-- claim (lease, attempts) touches no indexed column, so with room left on
-- each page it is a HOT update (no index entries at all). Autovacuum visits
-- these tables after a fixed number of changes instead of a fifth of the
-- table, so a busy queue stays small whatever the history's size.
DROP INDEX jobs_due;
CREATE INDEX jobs_pending ON jobs (id) WHERE status = 'pending';
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (next_attempt_at, id) WHERE status = 'pending';
ALTER TABLE jobs SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
ALTER TABLE outbox SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000);
