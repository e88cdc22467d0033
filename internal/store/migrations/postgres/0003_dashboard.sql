-- Schema version 3: what the dashboard shows and reads fast.
-- The control and remediation of results and transitions (engine.Result).
ALTER TABLE results ADD COLUMN control TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN remediation TEXT NOT NULL DEFAULT '';
ALTER TABLE transitions ADD COLUMN control TEXT NOT NULL DEFAULT '';
ALTER TABLE transitions ADD COLUMN remediation TEXT NOT NULL DEFAULT '';
-- failing leads the violations index (1: fail or warn, 2: error, 0: pass or
-- skip), so a page of violations is read in index order instead of sorting
-- every failing row: status IN ('fail', 'warn') defeated the index order.
ALTER TABLE results ADD COLUMN failing INTEGER NOT NULL DEFAULT 0;
UPDATE results SET failing = CASE status WHEN 'fail' THEN 1 WHEN 'warn' THEN 1 WHEN 'error' THEN 2 ELSE 0 END;
DROP INDEX results_violations;
-- (status, severity) served the violations before failing; it misleads the planner now.
DROP INDEX results_status;
CREATE INDEX results_violations ON results (failing, severity_rank, since, resource_id, rule_id, image, ord);
CREATE INDEX results_namespace_violations ON results (namespace_id, failing, severity_rank, since);
-- Violations opened and resolved per namespace and day, kept by the writer:
-- trends read these instead of grouping every transition.
CREATE TABLE daily_transitions (
  cluster_id   BIGINT  NOT NULL,
  namespace_id BIGINT  NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
  day          INTEGER NOT NULL,
  opened       BIGINT  NOT NULL,
  resolved     BIGINT  NOT NULL,
  PRIMARY KEY (day, cluster_id, namespace_id)
);
INSERT INTO daily_transitions (cluster_id, namespace_id, day, opened, resolved)
  SELECT cluster_id, namespace_id, day, SUM(CASE WHEN type = 'violation' THEN 1 ELSE 0 END),
    SUM(CASE WHEN type = 'violation' THEN 0 ELSE 1 END) FROM transitions GROUP BY cluster_id, namespace_id, day;
