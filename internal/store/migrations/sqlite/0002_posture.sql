-- Schema version 2: per-namespace posture counts (what the posture queries
-- read instead of every current result), and a digest of each resource's
-- current results so an unchanged evaluation writes nothing.
ALTER TABLE resources ADD COLUMN results_hash TEXT NOT NULL DEFAULT '';
CREATE TABLE posture (
  cluster_id   BIGINT NOT NULL,
  namespace_id BIGINT NOT NULL REFERENCES namespaces(id) ON DELETE CASCADE,
  policy_id    BIGINT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  rule_id      BIGINT NOT NULL REFERENCES rules(id) ON DELETE CASCADE,
  severity     TEXT   NOT NULL,
  category     TEXT   NOT NULL,
  status       TEXT   NOT NULL,
  n            BIGINT NOT NULL
);
CREATE INDEX posture_namespace ON posture (cluster_id, namespace_id);
INSERT INTO posture (cluster_id, namespace_id, policy_id, rule_id, severity, category, status, n)
  SELECT cluster_id, namespace_id, policy_id, rule_id, severity, category, status, COUNT(*) FROM results
  GROUP BY cluster_id, namespace_id, policy_id, rule_id, severity, category, status;
-- Violations are listed most severe first: a rank to sort on with an index.
ALTER TABLE results ADD COLUMN severity_rank INTEGER NOT NULL DEFAULT 5;
UPDATE results SET severity_rank = CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 WHEN 'info' THEN 4 ELSE 5 END;
CREATE INDEX results_violations ON results (status, severity_rank, since);
-- Trends and retention find a namespace's daily counts by series.
CREATE INDEX daily_series ON daily (cluster_id, namespace_id, day);
