-- Shadow runs: a candidate plugin version runs beside the active one on a
-- tenant's live traffic; its decisions are recorded and compared, never
-- acted on.

CREATE TABLE shadow_runs (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    role TEXT NOT NULL,
    candidate_version_id INTEGER NOT NULL REFERENCES plugin_versions (id),
    config_json TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,            -- running | promoted | discarded
    started_by TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE UNIQUE INDEX shadow_runs_one_per_role ON shadow_runs (tenant_id, role) WHERE status = 'running';

CREATE TABLE shadow_results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES shadow_runs (id),
    message_id INTEGER NOT NULL,
    active_kind TEXT NOT NULL,
    active_text TEXT,
    candidate_kind TEXT,
    candidate_text TEXT,
    candidate_error TEXT,            -- the failure kind
    agrees INTEGER NOT NULL,
    active_us INTEGER NOT NULL,
    candidate_us INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX shadow_results_by_run ON shadow_results (run_id, id);
