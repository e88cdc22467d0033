package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/events"
	"github.com/portcullis/portcullis/internal/testing/pgtest"
)

// Fleet shape of the benchmark (docs/benchmarks.md).
const (
	benchResources  = 10000
	benchNamespaces = 50
	benchPolicies   = 6
	benchRules      = 10 // per policy: 60 rules
	benchImages     = 500
	benchHistory    = 1000000
)

var severities = []string{"critical", "high", "medium", "low"}

// benchObservation is resource i's evaluation: 60 results, about 5%
// failing (which rules fail shifts with round), and one image check.
func benchObservation(i, round int, at time.Time) (string, map[string]any, []engine.Result) {
	ns := fmt.Sprintf("team-%02d", i%benchNamespaces)
	r := engine.Resource{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("app-%05d", i)}
	img := fmt.Sprintf("registry.example.com/team/app-%03d:1.%d", i%benchImages, i%7)
	obj := map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind, "metadata": map[string]any{"name": r.Name, "namespace": ns},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "app", "image": img}}}}}}
	results := make([]engine.Result, 0, benchPolicies*benchRules+1)
	for p := range benchPolicies {
		for k := range benchRules {
			res := engine.Result{Policy: fmt.Sprintf("policy-%d", p), PolicyKind: engine.KindClusterPolicy, Rule: fmt.Sprintf("rule-%d", k),
				Resource: r, Status: engine.StatusPass, Severity: severities[(p+k)%len(severities)], Category: "Pod Security"}
			if (i+p*benchRules+k+round)%20 == 0 {
				res.Status = engine.StatusFail
				res.Message = "validation error: rule " + res.Rule + " failed at path /spec/template/spec/containers/0/securityContext/"
				res.Path = "/spec/template/spec/containers/0/securityContext/"
			}
			results = append(results, res)
		}
	}
	verdict := engine.StatusPass
	if i%9 == 0 {
		verdict = engine.StatusFail
	}
	results = append(results, engine.Result{Policy: "signed-images", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed-images",
		Resource: r, Status: verdict, Image: img, Digest: "sha256:" + strconv.Itoa(i%benchImages)})
	return "uid-" + strconv.Itoa(i), obj, results
}

// TestStoreBenchmark measures ingest and dashboard query latency
// (PORTCULLIS_STORE_BENCH=1; docs/benchmarks.md).
func TestStoreBenchmark(t *testing.T) {
	if os.Getenv("PORTCULLIS_STORE_BENCH") == "" {
		t.Skip("set PORTCULLIS_STORE_BENCH=1 to run the findings-store benchmark (minutes)")
	}
	t.Run("sqlite", func(t *testing.T) {
		// PORTCULLIS_STORE_BENCH_FILE keeps the database: a later run
		// with the same file (migrated to this binary's schema) only
		// measures the queries.
		file := os.Getenv("PORTCULLIS_STORE_BENCH_FILE")
		if file == "" {
			file = filepath.Join(t.TempDir(), DefaultFile)
		}
		benchStore(t, file, func(s Store) string {
			if _, err := s.(*db).sql.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, f := range []string{file, file + "-wal"} {
				if fi, err := os.Stat(f); err == nil {
					total += fi.Size()
				}
			}
			return fmt.Sprintf("%.1f MB file", float64(total)/1e6)
		})
	})
	if os.Getenv("PORTCULLIS_STORE_BENCH_PG") == "0" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		benchStore(t, srv.Database(t), func(s Store) string {
			var size int64
			if err := s.(*db).sql.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("%.1f MB database", float64(size)/1e6)
		})
	})
}

func benchStore(t *testing.T, url string, size func(Store) string) {
	ctx := context.Background()
	start := time.Now()
	s := open(t, url)
	t.Logf("open (and migrate): %v", time.Since(start).Round(time.Millisecond))
	day0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	if c, err := s.Clusters(ctx); err == nil && len(c) > 0 {
		t.Logf("the store holds data already: measuring the queries only")
		benchQueries(t, s, day0)
		return
	}
	w := newWriter(t, s, WriterOptions{QueueSize: 10 * benchResources})
	rec := NewRecorder("prod", w)

	// Ingest: the first evaluation of every resource, as the controller
	// makes it at start.
	start = time.Now()
	for i := range benchResources {
		uid, obj, results := benchObservation(i, 0, day0)
		rec.Changed(uid, obj, results, day0)
	}
	queued := time.Since(start)
	flush(t, w)
	took := time.Since(start)
	rows := benchResources * (benchPolicies*benchRules + 1)
	t.Logf("ingest: %d resources x %d results = %d result rows (+ transitions) in %v (%.0f rows/s; Record %v for all), %s",
		benchResources, benchPolicies*benchRules+1, rows, took.Round(time.Millisecond), float64(rows)/took.Seconds(),
		queued.Round(time.Millisecond), size(s))

	// Re-evaluation of everything with nothing changed (a resync).
	start = time.Now()
	for i := range benchResources {
		uid, obj, results := benchObservation(i, 0, day0.Add(time.Hour))
		rec.Changed(uid, obj, results, day0.Add(time.Hour))
	}
	flush(t, w)
	t.Logf("resync (same results): %v", time.Since(start).Round(time.Millisecond))

	// History: transitions over 90 days until there are benchHistory,
	// written directly in batches of 20,000.
	start = time.Now()
	var n int
	var b Batch
	for n < benchHistory {
		i := n % benchResources
		at := day0.Add(time.Duration(n) * (90 * 24 * time.Hour / benchHistory))
		_, _, results := benchObservation(i, 0, at)
		r := results[(n/benchResources)%(benchPolicies*benchRules)]
		typ := events.TypeViolation
		if (n/benchResources)%2 == 1 {
			typ = events.TypeResolution
		}
		r.Status, r.Message = engine.StatusFail, "validation error"
		b.Ops = append(b.Ops, Op{Transition: &Transition{Cluster: "prod", Transition: events.Transition{Type: typ, Result: r,
			UID: "uid-" + strconv.Itoa(i), Time: at}}})
		n++
		if len(b.Ops) == 20000 {
			if err := s.Write(ctx, &b); err != nil {
				t.Fatal(err)
			}
			b.Ops = b.Ops[:0]
		}
	}
	// Daily counts of each of the 90 days.
	for d := range 90 {
		at := day0.Add(time.Duration(d) * 24 * time.Hour)
		for i := range benchResources / 100 { // 1% of the fleet changes every day
			uid, obj, results := benchObservation(i*100+d%100, d, at)
			rec.Changed(uid, obj, results, at)
		}
		flush(t, w)
	}
	t.Logf("history: %d transitions and 90 days of changes written in %v, %s", n, time.Since(start).Round(time.Millisecond), size(s))
	benchQueries(t, s, day0)
}

// cpuTime is the process's user and system CPU time: on a loaded machine
// the CPU a query costs is steadier than its wall time.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchQueries measures every dashboard query 50 times.
func benchQueries(t *testing.T, s Store, day0 time.Time) {
	ctx := context.Background()

	end := day0.Add(89 * 24 * time.Hour)
	one := []string{"team-07"}
	queries := []struct {
		name string
		fn   func() (int, error)
	}{
		{"posture by cluster", func() (int, error) { r, err := s.Posture(ctx, PostureQuery{By: ByCluster}); return len(r), err }},
		{"posture by namespace", func() (int, error) { r, err := s.Posture(ctx, PostureQuery{By: ByNamespace}); return len(r), err }},
		{"posture by policy", func() (int, error) { r, err := s.Posture(ctx, PostureQuery{By: ByPolicy}); return len(r), err }},
		{"posture by control", func() (int, error) { r, err := s.Posture(ctx, PostureQuery{By: ByControl}); return len(r), err }},
		{"posture by severity", func() (int, error) { r, err := s.Posture(ctx, PostureQuery{By: BySeverity}); return len(r), err }},
		{"posture by control, one namespace", func() (int, error) {
			r, err := s.Posture(ctx, PostureQuery{By: ByControl, Filter: Filter{Namespaces: one}})
			return len(r), err
		}},
		{"violations, first page", func() (int, error) { r, err := s.Violations(ctx, ViolationQuery{}); return len(r), err }},
		{"violations, page 50", func() (int, error) { r, err := s.Violations(ctx, ViolationQuery{Offset: 5000}); return len(r), err }},
		{"violations, one namespace, high", func() (int, error) {
			r, err := s.Violations(ctx, ViolationQuery{Filter: Filter{Namespaces: one, Severity: "high"}})
			return len(r), err
		}},
		{"resource history", func() (int, error) {
			h, err := s.History(ctx, HistoryQuery{Cluster: "prod", UID: "uid-4242"})
			if h == nil {
				return 0, err
			}
			return len(h.Transitions), err
		}},
		{"trends, 90 days", func() (int, error) {
			r, err := s.Trends(ctx, TrendQuery{From: day0, To: end})
			return len(r), err
		}},
		{"trends, 90 days, one namespace", func() (int, error) {
			r, err := s.Trends(ctx, TrendQuery{From: day0, To: end, Filter: Filter{Namespaces: one}})
			return len(r), err
		}},
		{"images", func() (int, error) { r, err := s.Images(ctx, ImageQuery{}); return len(r), err }},
		{"images, failed", func() (int, error) { r, err := s.Images(ctx, ImageQuery{Status: ImageFailed}); return len(r), err }},
	}
	const runs = 50
	for _, q := range queries {
		var lat []time.Duration
		var rowsOut int
		cpu0 := cpuTime(t)
		for range runs {
			start := time.Now()
			n, err := q.fn()
			if err != nil {
				t.Fatalf("%s: %v", q.name, err)
			}
			lat = append(lat, time.Since(start))
			rowsOut = n
		}
		cpu := (cpuTime(t) - cpu0) / runs
		slices.Sort(lat)
		p50, p99 := lat[runs/2], lat[runs*99/100]
		mark := ""
		if p99 > 100*time.Millisecond {
			mark = "  (over 100 ms)"
		}
		t.Logf("query %-36s rows %6d  p50 %8v  p99 %8v  CPU %8v/query%s", q.name, rowsOut, p50.Round(10*time.Microsecond),
			p99.Round(10*time.Microsecond), cpu.Round(10*time.Microsecond), mark)
	}
}
