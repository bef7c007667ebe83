-- Who holds each lease: the process (`REPLICA#PID.START`) that claimed a
-- job or a send. It renews its own leases while it runs; when it stops they
-- run out and another process takes the work. A result is recorded only by
-- the lease's holder, and a send is made only while its lease is held.
-- Start-up releases only the leases of the same replica's earlier runs.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
