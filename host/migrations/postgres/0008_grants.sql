-- Capabilities an admin granted per managed binding (and per shadow run).
-- Existing bindings keep what their versions asked for.
ALTER TABLE managed_bindings ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
UPDATE managed_bindings SET grants = (SELECT capabilities FROM plugin_versions WHERE id = version_id);
ALTER TABLE shadow_runs ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
UPDATE shadow_runs SET grants = (SELECT capabilities FROM plugin_versions WHERE id = candidate_version_id);
