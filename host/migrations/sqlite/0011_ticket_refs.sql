-- Per-tenant ticket reference numbers from a counter row, not MAX(ref_no) + 1:
-- taking numbers locks the tenant's row, so concurrent writers (several hosts
-- on one PostgreSQL) never hand out the same reference.
-- Tickets a proactive message opened had no reference: give them the next
-- numbers of their tenant, in order.
UPDATE conversations SET ref_no = numbered.n FROM (
    SELECT c.id AS id, (SELECT COALESCE(MAX(m.ref_no), 0) FROM conversations m WHERE m.tenant_id = c.tenant_id)
           + ROW_NUMBER() OVER (PARTITION BY c.tenant_id ORDER BY c.id) AS n
    FROM conversations c WHERE c.ref_no IS NULL) AS numbered
WHERE conversations.id = numbered.id;
CREATE TABLE ticket_refs (
    tenant_id TEXT PRIMARY KEY,
    last_ref BIGINT NOT NULL
);
INSERT INTO ticket_refs (tenant_id, last_ref)
    SELECT tenant_id, MAX(ref_no) FROM conversations WHERE ref_no IS NOT NULL GROUP BY tenant_id;
