package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/testing/pgtest"
)

// BenchmarkViolationsNamespace lists one namespace's high-severity
// violations (none: the whole namespace is read to find out) on 10,000
// resources x 61 results made by the same SQL in each dialect, with a fifth of
// the rows rewritten three times (dead tuples on PostgreSQL).
//
//	go test -run '^$' -bench BenchmarkViolationsNamespace ./internal/store/
func BenchmarkViolationsNamespace(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchViolationsNamespace(b, open(b, filepath.Join(b.TempDir(), DefaultFile)).(*db))
	})
	b.Run("postgres", func(b *testing.B) {
		srv := pgtest.Start(b)
		benchViolationsNamespace(b, open(b, srv.Database(b)).(*db))
	})
}

func benchViolationsNamespace(b *testing.B, s *db) {
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE nums AS WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g+1 FROM s WHERE g < 9999) SELECT g FROM s`,
		`INSERT INTO clusters (id, name, first_seen, last_seen) VALUES (1, 'prod', 0, 0)`,
		`INSERT INTO namespaces (id, cluster_id, name) SELECT g+1, 1, 'team-' || g FROM (SELECT g AS g FROM nums WHERE g <= 49) g_`,
		`INSERT INTO policies (id, cluster_id, kind, name, first_seen, last_seen) SELECT g+1, 1, 'ClusterPolicy', 'policy-' || g, 0, 0 FROM (SELECT g AS g FROM nums WHERE g <= 6) g_`,
		`INSERT INTO rules (id, policy_id, name) SELECT p*10+k+1, p+1, 'rule-' || k FROM (SELECT g AS p FROM nums WHERE g <= 5) p_, (SELECT g AS k FROM nums WHERE g <= 9) k_`,
		`INSERT INTO rules (id, policy_id, name) VALUES (61, 7, 'signed-images')`,
		`INSERT INTO resources (id, cluster_id, namespace_id, uid, api_version, kind, name, first_seen, last_seen)
		  SELECT i+1, 1, i%50+1, 'uid-' || i, 'apps/v1', 'Deployment', 'app-' || i, 0, 0 FROM (SELECT g AS i FROM nums WHERE g <= 9999) i_`,
		// 5% failing; namespace team-7 has no high-severity result.
		`INSERT INTO results (resource_id, rule_id, image, ord, cluster_id, namespace_id, policy_id, status, failing, severity, severity_rank,
		  category, message, path, digest, enforce, since, written)
		  SELECT i+1, p*10+k+1, '', 0, 1, i%50+1, p+1, CASE WHEN (i+p*10+k)%20=0 THEN 'fail' ELSE 'pass' END, CASE WHEN (i+p*10+k)%20=0 THEN 1 ELSE 0 END,
		  CASE WHEN i%50=7 AND (p+k)%4=1 THEN 'medium' ELSE (CASE (p+k)%4 WHEN 0 THEN 'critical' WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END) END,
		  (p+k)%4, 'Pod Security', 'm', 'p', '', true, i, 0
		  FROM (SELECT g AS i FROM nums WHERE g <= 9999) i_, (SELECT g AS p FROM nums WHERE g <= 5) p_, (SELECT g AS k FROM nums WHERE g <= 9) k_`,
		`INSERT INTO results (resource_id, rule_id, image, ord, cluster_id, namespace_id, policy_id, status, failing, severity, severity_rank,
		  category, message, path, digest, enforce, since, written)
		  SELECT i+1, 61, 'img', 0, 1, i%50+1, 7, CASE WHEN i%9=0 THEN 'fail' ELSE 'pass' END, CASE WHEN i%9=0 THEN 1 ELSE 0 END, '', 5, '', 'm', 'p', '', true, i, 0
		  FROM (SELECT g AS i FROM nums WHERE g <= 9999) i_`,
		`UPDATE results SET since = since + 1 WHERE (resource_id + rule_id) % 5 = 0`,
		`UPDATE results SET since = since + 1 WHERE (resource_id + rule_id) % 5 = 0`,
		`UPDATE results SET since = since + 1 WHERE (resource_id + rule_id) % 5 = 0`,
		`ANALYZE`,
	} {
		if _, err := s.sql.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	vq := ViolationQuery{Filter: Filter{Namespaces: []string{"team-7"}, Severity: "high"}}
	if v, err := s.Violations(ctx, vq); err != nil || len(v) != 0 {
		b.Fatalf("want no violations, got %d, %v", len(v), err)
	}
	// The same query finds the namespace's medium ones (its page sorted).
	vq.Severity = "medium"
	if v, err := s.Violations(ctx, vq); err != nil || len(v) != DefaultLimit || v[0].Resource.Namespace != "team-7" {
		b.Fatalf("want a page of team-7's medium violations, got %d, %v", len(v), err)
	}
	vq.Severity = "high"
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Violations(ctx, vq); err != nil {
			b.Fatal(err)
		}
	}
}
