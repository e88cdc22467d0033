package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/events"
	"github.com/portcullis/portcullis/internal/testing/pgtest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// backend opens fresh stores of one implementation; reopen opens the same
// database again (a restart).
type backend struct {
	name string
	// fresh returns the URL of a new empty database.
	fresh func(t *testing.T) string
}

// forEachBackend runs fn against SQLite and against a real PostgreSQL
// server (one server for all the subtests).
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, backend{name: "sqlite", fresh: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "data", DefaultFile)
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		fn(t, backend{name: "postgres", fresh: func(t *testing.T) string { return srv.Database(t) }})
	})
}

func open(t testing.TB, url string) Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func resource(ns, kind, name string) engine.Resource {
	return engine.Resource{APIVersion: "v1", Kind: kind, Namespace: ns, Name: name}
}

func result(r engine.Resource, policy, rule string, st engine.Status, severity string) engine.Result {
	msg := ""
	path := ""
	if st == engine.StatusFail {
		msg, path = "validation error: "+rule, "/spec/containers/0/"+rule+"/"
	}
	return engine.Result{Policy: policy, PolicyKind: engine.KindClusterPolicy, Rule: rule, Resource: r, Status: st,
		Severity: severity, Category: "Pod Security", Message: msg, Path: path}
}

func podObject(r engine.Resource, uid string, images ...string) map[string]any {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": fmt.Sprintf("c%d", i), "image": img})
	}
	return map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind,
		"metadata": map[string]any{"name": r.Name, "namespace": r.Namespace, "uid": uid},
		"spec":     map[string]any{"containers": cs}}
}

func newWriter(t *testing.T, s Store, o WriterOptions) *Writer {
	t.Helper()
	w, err := NewWriter(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func flush(t *testing.T, w *Writer) {
	t.Helper()
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		t.Run("migrations", func(t *testing.T) { testMigrations(t, b) })
		t.Run("upgrade", func(t *testing.T) { testUpgrade(t, b) })
		t.Run("queries", func(t *testing.T) { testQueries(t, b) })
		t.Run("batching", func(t *testing.T) { testBatching(t, b) })
		t.Run("retention", func(t *testing.T) { testRetention(t, b) })
		t.Run("resume", func(t *testing.T) { testResume(t, b) })
		t.Run("injection", func(t *testing.T) { testInjection(t, b) })
		t.Run("concurrent", func(t *testing.T) { testConcurrent(t, b) })
		t.Run("scan", func(t *testing.T) { testScan(t, b) })
		t.Run("dashboard fields", func(t *testing.T) { testDashboardFields(t, b) })
		t.Run("image usage", func(t *testing.T) { testImageUsage(t, b) })
	})
}

func testMigrations(t *testing.T, b backend) {
	ctx := context.Background()
	url := b.fresh(t)
	for range 3 { // applied once, then nothing to do
		s := open(t, url)
		v, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != LatestSchema() || v < 1 {
			t.Fatalf("schema version %d, want %d", v, LatestSchema())
		}
		var n int
		if err := s.(*db).sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != LatestSchema() {
			t.Fatalf("%d rows in schema_migrations, want one per version (%d)", n, LatestSchema())
		}
		s.Close()
	}
	// A database migrated by a newer binary is refused.
	s := open(t, url)
	if _, err := s.(*db).sql.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`,
		LatestSchema()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, Config{URL: url})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("opening a newer schema: %v, want ErrSchemaTooNew", err)
	}
	t.Log(err)
}

// fleet writes two clusters' results through a Recorder and returns the
// store.
func fleet(t *testing.T, b backend) Store {
	s := open(t, b.fresh(t))
	w := newWriter(t, s, WriterOptions{})
	prod := NewRecorder("prod", w)
	dev := NewRecorder("dev", w)

	web := resource("web", "Pod", "frontend")
	db := resource("data", "Pod", "postgres")
	job := resource("web", "Job", "migrate")
	prod.Changed("uid-frontend", podObject(web, "uid-frontend", "ghcr.io/org/web:1.0", "gcr.io/proxy@sha256:aaaa"), []engine.Result{
		result(web, "pss-baseline", "host-namespaces", engine.StatusPass, "high"),
		result(web, "pss-restricted", "run-as-non-root", engine.StatusFail, "medium"),
		result(web, "pss-restricted", "drop-all", engine.StatusFail, "medium"),
		{Policy: "signed", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed", Resource: web, Status: engine.StatusPass,
			Image: "ghcr.io/org/web:1.0", Digest: "sha256:bbbb", Severity: "critical"},
	}, t0)
	prod.Changed("uid-postgres", podObject(db, "uid-postgres", "docker.io/postgres:15"), []engine.Result{
		result(db, "pss-baseline", "host-namespaces", engine.StatusFail, "high"),
		result(db, "pss-restricted", "run-as-non-root", engine.StatusPass, "medium"),
		{Policy: "signed", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed", Resource: db, Status: engine.StatusFail,
			Image: "docker.io/postgres:15", Message: "no signature", Severity: "critical"},
	}, t0.Add(time.Minute))
	prod.Changed("uid-migrate", podObject(job, "uid-migrate"), []engine.Result{
		result(job, "pss-baseline", "host-namespaces", engine.StatusPass, "high"),
	}, t0.Add(2*time.Minute))
	dev.Changed("uid-dev", podObject(web, "uid-dev", "ghcr.io/org/web:1.0"), []engine.Result{
		result(web, "pss-baseline", "host-namespaces", engine.StatusFail, "high"),
	}, t0)
	flush(t, w)
	// A day later the frontend is fixed.
	prod.Changed("uid-frontend", podObject(web, "uid-frontend", "ghcr.io/org/web:1.0", "gcr.io/proxy@sha256:aaaa"), []engine.Result{
		result(web, "pss-baseline", "host-namespaces", engine.StatusPass, "high"),
		result(web, "pss-restricted", "run-as-non-root", engine.StatusPass, "medium"),
		result(web, "pss-restricted", "drop-all", engine.StatusFail, "medium"),
		{Policy: "signed", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed", Resource: web, Status: engine.StatusPass,
			Image: "ghcr.io/org/web:1.0", Digest: "sha256:bbbb", Severity: "critical"},
	}, t0.Add(24*time.Hour))
	flush(t, w) // daily counts are those at the end of a batch, on the day of its last change
	// Two days later the job is deleted.
	prod.Deleted("uid-migrate", job, t0.Add(48*time.Hour))
	flush(t, w)
	return s
}

func testQueries(t *testing.T, b backend) {
	ctx := context.Background()
	s := fleet(t, b)

	cl, err := s.Clusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != 2 || cl[0].Name != "dev" || cl[1].Name != "prod" {
		t.Fatalf("clusters %+v", cl)
	}

	posture := func(q PostureQuery) map[string]Counts {
		t.Helper()
		rows, err := s.Posture(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Counts{}
		for _, r := range rows {
			k := r.Key
			if r.Cluster != "" {
				k = r.Cluster + "/" + k
			}
			out[k] = r.Counts
			if r.Score != r.Counts.Score() {
				t.Errorf("%s: score %v, want %v", k, r.Score, r.Counts.Score())
			}
		}
		return out
	}
	check := func(what string, got, want map[string]Counts) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", what, got, want)
		}
	}
	check("by cluster", posture(PostureQuery{By: ByCluster}), map[string]Counts{
		"prod": {Pass: 4, Fail: 3}, "dev": {Fail: 1}})
	check("by namespace", posture(PostureQuery{By: ByNamespace}), map[string]Counts{
		"prod/web": {Pass: 3, Fail: 1}, "prod/data": {Pass: 1, Fail: 2}, "dev/web": {Fail: 1}})
	check("by policy in prod", posture(PostureQuery{By: ByPolicy, Filter: Filter{Clusters: []string{"prod"}}}), map[string]Counts{
		"pss-baseline": {Pass: 1, Fail: 1}, "pss-restricted": {Pass: 2, Fail: 1}, "signed": {Pass: 1, Fail: 1}})
	check("by control", posture(PostureQuery{By: ByControl}), map[string]Counts{
		"pss-baseline/host-namespaces": {Pass: 1, Fail: 2}, "pss-restricted/run-as-non-root": {Pass: 2},
		"pss-restricted/drop-all": {Fail: 1}, "signed/signed": {Pass: 1, Fail: 1}})
	check("by severity", posture(PostureQuery{By: BySeverity}), map[string]Counts{
		"high": {Pass: 1, Fail: 2}, "medium": {Pass: 2, Fail: 1}, "critical": {Pass: 1, Fail: 1}})
	check("by category", posture(PostureQuery{By: ByCategory}), map[string]Counts{
		"Pod Security": {Pass: 3, Fail: 3}, "": {Pass: 1, Fail: 1}})
	check("namespace web only", posture(PostureQuery{By: ByCluster, Filter: Filter{Namespaces: []string{"web"}}}), map[string]Counts{
		"prod": {Pass: 3, Fail: 1}, "dev": {Fail: 1}})
	check("no namespace allowed", posture(PostureQuery{By: ByCluster, Filter: Filter{Namespaces: []string{}}}), map[string]Counts{})
	if _, err := s.Posture(ctx, PostureQuery{By: "namespace; DROP TABLE results"}); err == nil {
		t.Error("an unknown dimension was accepted")
	}

	vs, err := s.Violations(ctx, ViolationQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, v.Resource.Cluster+"/"+v.Resource.Namespace+"/"+v.Resource.Name+" "+v.Policy+"/"+v.Rule+" "+v.Severity)
	}
	want := []string{ // severity first, then the oldest
		"prod/data/postgres signed/signed critical",
		"dev/web/frontend pss-baseline/host-namespaces high",
		"prod/data/postgres pss-baseline/host-namespaces high",
		"prod/web/frontend pss-restricted/drop-all medium",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
	v := vs[3]
	if v.Message != "validation error: drop-all" || v.Path != "/spec/containers/0/drop-all/" || !v.Since.Equal(t0) || v.Resource.UID != "uid-frontend" {
		t.Errorf("violation %+v: want its message, path, and since = first failure %v", v, t0)
	}
	page, err := s.Violations(ctx, ViolationQuery{Limit: 2, Offset: 1, Filter: Filter{Severity: "high"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Resource.Name != "postgres" {
		t.Errorf("second high violation: %+v", page)
	}
	if vs, _ := s.Violations(ctx, ViolationQuery{Filter: Filter{Namespaces: []string{"data"}, Policy: "signed"}}); len(vs) != 1 || vs[0].Image != "docker.io/postgres:15" {
		t.Errorf("violations of signed in data: %+v", vs)
	}

	h, err := s.History(ctx, HistoryQuery{Cluster: "prod", UID: "uid-frontend"})
	if err != nil || h == nil {
		t.Fatalf("history: %v %v", h, err)
	}
	var tr []string
	for _, x := range h.Transitions {
		tr = append(tr, x.Type+" "+x.Rule+" "+x.At.Format(time.RFC3339))
	}
	wantTr := []string{
		"resolution run-as-non-root " + t0.Add(24*time.Hour).Format(time.RFC3339),
		"violation drop-all " + t0.Format(time.RFC3339),
		"violation run-as-non-root " + t0.Format(time.RFC3339),
	}
	if !slices.Equal(tr, wantTr) {
		t.Errorf("transitions:\n got %q\nwant %q", tr, wantTr)
	}
	if len(h.Current) != 4 || len(h.Images) != 2 || h.Images[1] != (events.Image{Ref: "gcr.io/proxy@sha256:aaaa", Digest: "sha256:aaaa"}) {
		t.Errorf("history: current %d results, images %+v", len(h.Current), h.Images)
	}
	if h2, _ := s.History(ctx, HistoryQuery{Cluster: "prod", Namespace: "web", Kind: "Pod", Name: "frontend"}); h2 == nil || h2.Resource.UID != "uid-frontend" {
		t.Errorf("history by name: %+v", h2)
	}
	if h3, _ := s.History(ctx, HistoryQuery{Cluster: "prod", UID: "uid-frontend", Namespaces: []string{"data"}}); h3 != nil {
		t.Errorf("history of a namespace the caller may not see: %+v", h3)
	}
	hj, err := s.History(ctx, HistoryQuery{Cluster: "prod", UID: "uid-migrate"})
	if err != nil || hj == nil || hj.Deleted == nil || !hj.Deleted.Equal(t0.Add(48*time.Hour)) || len(hj.Current) != 0 {
		t.Errorf("deleted job history: %+v %v", hj, err)
	}

	days, err := s.Trends(ctx, TrendQuery{From: t0.Add(-24 * time.Hour), To: t0.Add(72 * time.Hour), Filter: Filter{Clusters: []string{"prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	var gotDays []string
	for _, d := range days {
		gotDays = append(gotDays, fmt.Sprintf("%s p%d f%d +%d -%d", d.Day.Format("01-02"), d.Pass, d.Fail, d.Opened, d.Resolved))
	}
	wantDays := []string{
		"11-19 p0 f0 +0 -0",
		"11-20 p4 f4 +4 -0", // frontend 2 fails, postgres 2 fails, job 1 pass
		"11-21 p5 f3 +0 -1", // run-as-non-root fixed
		"11-22 p4 f3 +0 -0", // job deleted
		"11-23 p4 f3 +0 -0", // carried forward
	}
	if !slices.Equal(gotDays, wantDays) {
		t.Errorf("trends:\n got %q\nwant %q", gotDays, wantDays)
	}

	imgs, err := s.Images(ctx, ImageQuery{Filter: Filter{Clusters: []string{"prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	var gotImgs []string
	for _, i := range imgs {
		gotImgs = append(gotImgs, fmt.Sprintf("%s %s %d %s", i.Ref, i.Digest, i.Resources, i.Status))
	}
	wantImgs := []string{
		"docker.io/postgres:15  1 failed",
		"ghcr.io/org/web:1.0 sha256:bbbb 1 verified",
		"gcr.io/proxy@sha256:aaaa sha256:aaaa 1 unverified",
	}
	if !slices.Equal(gotImgs, wantImgs) {
		t.Errorf("images:\n got %q\nwant %q", gotImgs, wantImgs)
	}
	if imgs, _ := s.Images(ctx, ImageQuery{Status: ImageFailed}); len(imgs) != 1 {
		t.Errorf("failed images: %+v", imgs)
	}
}

func testBatching(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	reg := prometheus.NewRegistry()
	w := newWriter(t, s, WriterOptions{QueueSize: 10, BatchSize: 4, Registry: reg})
	rec := NewRecorder("c", w)
	// 8 resources, two ops each with one failure (observation + violation):
	// the queue keeps the last 5 records, the oldest 3 are dropped.
	for i := range 8 {
		r := resource("ns", "Pod", fmt.Sprintf("p%d", i))
		done := make(chan struct{})
		go func() { // Record never blocks, even with nothing flushing
			defer close(done)
			rec.Changed(fmt.Sprintf("u%d", i), podObject(r, ""), []engine.Result{result(r, "p", "r", engine.StatusFail, "low")}, t0)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Record blocked")
		}
	}
	if got := testutil.ToFloat64(w.metrics.dropped); got != 6 {
		t.Fatalf("dropped %v ops, want 6 (3 records of 2)", got)
	}
	if w.Queued() != 10 {
		t.Fatalf("queued %d, want 10", w.Queued())
	}
	flush(t, w)
	if got := testutil.ToFloat64(w.metrics.batches.WithLabelValues("written")); got != 3 {
		t.Errorf("%v batches, want 3 (10 ops, whole records of 2, at most 4 per batch)", got)
	}
	live, err := s.Live(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range live {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"p3", "p4", "p5", "p6", "p7"}) {
		t.Errorf("stored %v, want the 5 newest", names)
	}

	// The flusher writes without being asked, and writes what is left when
	// it stops.
	w2 := newWriter(t, s, WriterOptions{FlushInterval: 20 * time.Millisecond})
	rec2 := NewRecorder("c2", w2)
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan error)
	go func() { stopped <- w2.Start(runCtx) }()
	r := resource("ns", "Pod", "a")
	rec2.Changed("ua", podObject(r, "ua"), []engine.Result{result(r, "p", "r", engine.StatusPass, "")}, t0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, err := s.Live(ctx, "c2")
		if err != nil {
			t.Fatal(err)
		}
		if len(live) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flusher did not write within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r2 := resource("ns", "Pod", "b")
	rec2.Changed("ub", podObject(r2, "ub"), []engine.Result{result(r2, "p", "r", engine.StatusPass, "")}, t0)
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if live, _ := s.Live(ctx, "c2"); len(live) != 2 {
		t.Errorf("after stop: %d resources, want 2 (the final flush)", len(live))
	}

	// A failed write keeps the batch for the next attempt.
	s.Close()
	rec.Changed("u9", podObject(resource("ns", "Pod", "p9"), "u9"), nil, t0)
	if err := w.Flush(ctx); err == nil {
		t.Fatal("flush to a closed store succeeded")
	}
	if w.Queued() != 1 {
		t.Errorf("after a failed flush %d ops queued, want 1 (kept)", w.Queued())
	}
}

func testRetention(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	now := t0.Add(200 * 24 * time.Hour)
	w := newWriter(t, s, WriterOptions{Retention: 90 * 24 * time.Hour})
	rec := NewRecorder("c", w)
	old := resource("ns", "Pod", "old")
	kept := resource("ns", "Pod", "kept")
	// old: failed 200 days ago, deleted 150 days ago.
	rec.Changed("u-old", podObject(old, "u-old"), []engine.Result{result(old, "p", "r", engine.StatusFail, "low")}, t0)
	rec.Deleted("u-old", old, t0.Add(50*24*time.Hour))
	// kept: failed 200 days ago, fixed 10 days ago.
	rec.Changed("u-kept", podObject(kept, "u-kept"), []engine.Result{result(kept, "p", "r", engine.StatusFail, "low")}, t0)
	rec.Changed("u-kept", podObject(kept, "u-kept"), []engine.Result{result(kept, "p", "r", engine.StatusPass, "low")}, now.Add(-10*24*time.Hour))
	flush(t, w)
	// A scan 100 days ago and one today.
	for _, at := range []time.Time{now.Add(-100 * 24 * time.Hour), now} {
		sc := &ScanRecord{Cluster: "ci", Source: "manifests/", Started: at}
		sc.Add(podObject(kept, ""), []engine.Result{result(kept, "p", "r", engine.StatusPass, "low")})
		if err := sc.Write(ctx, s, at); err != nil {
			t.Fatal(err)
		}
	}

	st, err := w.Prune(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// Transitions: old violation + its resolution, kept's violation = 3.
	if st.Transitions != 3 || st.Resources != 1 || st.Scans != 1 {
		t.Errorf("pruned %+v, want 3 transitions, 1 resource, 1 scan", st)
	}
	if h, _ := s.History(ctx, HistoryQuery{Cluster: "c", UID: "u-old"}); h != nil {
		t.Errorf("the resource deleted before the retention is still there: %+v", h)
	}
	h, err := s.History(ctx, HistoryQuery{Cluster: "c", UID: "u-kept"})
	if err != nil || h == nil {
		t.Fatalf("kept: %v %v", h, err)
	}
	if len(h.Transitions) != 1 || h.Transitions[0].Type != TypeResolution {
		t.Errorf("kept transitions %+v, want only the recent resolution", h.Transitions)
	}
	if scans, _ := s.Scans(ctx, ScanQuery{}); len(scans) != 1 || !scans[0].Finished.Equal(now) {
		t.Errorf("scans after prune: %+v", scans)
	}
	// The namespace's last daily counts stay so trends carry them.
	days, err := s.Trends(ctx, TrendQuery{From: now.Add(-24 * time.Hour), To: now, Filter: Filter{Clusters: []string{"c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if days[0].Pass != 1 || days[1].Pass != 1 {
		t.Errorf("trends after prune %+v, want the last counts carried", days)
	}
	again, err := w.Prune(ctx, now)
	if err != nil || again != (PruneStats{}) {
		t.Errorf("second prune %+v %v, want nothing", again, err)
	}
}

func testResume(t *testing.T, b backend) {
	ctx := context.Background()
	url := b.fresh(t)
	r := resource("ns", "Deployment", "api")
	failing := []engine.Result{result(r, "p", "a", engine.StatusFail, "high"), result(r, "p", "b", engine.StatusPass, "high")}
	{
		s := open(t, url)
		w := newWriter(t, s, WriterOptions{})
		rec := NewRecorder("c", w)
		if n, err := rec.Resume(ctx, s); err != nil || n != 0 {
			t.Fatalf("resume from empty: %d %v", n, err)
		}
		rec.Changed("u1", podObject(r, "u1"), failing, t0)
		flush(t, w)
		s.Close()
	}
	s := open(t, url)
	w := newWriter(t, s, WriterOptions{})
	rec := NewRecorder("c", w)
	n, err := rec.Resume(ctx, s)
	if err != nil || n != 1 {
		t.Fatalf("resume: %d resources %v, want 1", n, err)
	}
	// The restarted controller evaluates everything again: the same
	// failure is not a new violation.
	rec.Changed("u1", podObject(r, "u1"), failing, t0.Add(time.Hour))
	flush(t, w)
	h, err := s.History(ctx, HistoryQuery{Cluster: "c", UID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Transitions) != 1 {
		t.Fatalf("transitions after restart: %+v, want the one violation", h.Transitions)
	}
	if !h.Current[0].Since.Equal(t0) {
		t.Errorf("since %v, want the first failure %v", h.Current[0].Since, t0)
	}
	fixed := []engine.Result{result(r, "p", "a", engine.StatusPass, "high"), result(r, "p", "b", engine.StatusPass, "high")}
	rec.Changed("u1", podObject(r, "u1"), fixed, t0.Add(2*time.Hour))
	flush(t, w)
	h, _ = s.History(ctx, HistoryQuery{Cluster: "c", UID: "u1"})
	if len(h.Transitions) != 2 || h.Transitions[0].Type != TypeResolution {
		t.Errorf("transitions after the fix: %+v", h.Transitions)
	}
	if f, _ := s.Failing(ctx, "c"); len(f) != 0 {
		t.Errorf("still failing: %+v", f)
	}
}

// payloads are hostile strings: SQL injection, markup, placeholders,
// quoting, LIKE wildcards, non-ASCII. (PostgreSQL text cannot hold NUL.)
var payloads = []string{
	`'; DROP TABLE results; --`,
	`" OR 1=1 --`,
	`' OR '1'='1`,
	`<script>alert(1)</script>`,
	`$1 $2 ? :name @p`,
	`\'\\"` + "`",
	`%_*`,
	"line\nbreak\ttab",
	"ünïcødé ✓ 🚀",
	`Robert'); DELETE FROM clusters WHERE ('1'='1`,
}

func testInjection(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	w := newWriter(t, s, WriterOptions{})
	for i, p := range payloads {
		cluster := "cl" + p
		r := engine.Resource{APIVersion: "v1" + p, Kind: "Kind" + p, Namespace: "ns" + p, Name: "name" + p}
		res := engine.Result{Policy: "pol" + p, PolicyKind: "Kind" + p, Rule: "rule" + p, Resource: r, Status: engine.StatusFail,
			Severity: "sev" + p, Category: "cat" + p, Message: "msg" + p, Path: "/path" + p, Image: "img" + p, Digest: "dig" + p}
		rec := NewRecorder(cluster, w)
		obj := map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind, "metadata": map[string]any{"namespace": r.Namespace, "name": r.Name}}
		rec.Changed("uid"+p, obj, []engine.Result{res}, t0.Add(time.Duration(i)*time.Second))
		w.Record(Op{Policies: &PolicySnapshot{Cluster: cluster, At: t0, Policies: []Policy{{Kind: "Kind" + p, Name: "pol" + p,
			Title: p, Severity: "sev" + p, Category: "cat" + p, Hash: p, Rules: []string{"rule" + p}}}}})
	}
	flush(t, w)
	for _, p := range payloads {
		f := Filter{Clusters: []string{"cl" + p}, Namespaces: []string{"ns" + p}, Policy: "pol" + p, Severity: "sev" + p}
		vs, err := s.Violations(ctx, ViolationQuery{Filter: f, Rule: "rule" + p, Kind: "Kind" + p})
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if len(vs) != 1 {
			t.Fatalf("%q: %d violations, want exactly its own", p, len(vs))
		}
		v := vs[0]
		want := Violation{Resource: ResourceRef{Cluster: "cl" + p, UID: "uid" + p, APIVersion: "v1" + p, Kind: "Kind" + p, Namespace: "ns" + p, Name: "name" + p},
			PolicyKind: "Kind" + p, Policy: "pol" + p, Rule: "rule" + p, Status: engine.StatusFail, Severity: "sev" + p, Category: "cat" + p,
			Message: "msg" + p, Path: "/path" + p, Image: "img" + p, Digest: "dig" + p, Since: v.Since}
		if v != want {
			t.Errorf("read back:\n got %+v\nwant %+v", v, want)
		}
		h, err := s.History(ctx, HistoryQuery{Cluster: "cl" + p, Namespace: "ns" + p, Kind: "Kind" + p, Name: "name" + p, Namespaces: []string{"ns" + p}})
		if err != nil || h == nil || h.Resource.UID != "uid"+p || len(h.Transitions) != 1 || h.Transitions[0].Message != "msg"+p {
			t.Errorf("%q: history %+v %v", p, h, err)
		}
		for _, by := range []Dimension{ByCluster, ByNamespace, ByPolicy, ByControl, BySeverity, ByCategory} {
			rows, err := s.Posture(ctx, PostureQuery{By: by, Filter: f})
			if err != nil || len(rows) != 1 || rows[0].Fail != 1 {
				t.Errorf("%q: posture by %s: %+v %v", p, by, rows, err)
			}
		}
		imgs, err := s.Images(ctx, ImageQuery{Filter: Filter{Clusters: []string{"cl" + p}}})
		if err != nil || len(imgs) != 1 || imgs[0].Ref != "img"+p || imgs[0].Status != ImageFailed {
			t.Errorf("%q: images %+v %v", p, imgs, err)
		}
		days, err := s.Trends(ctx, TrendQuery{From: t0, To: t0, Filter: f})
		if err != nil || len(days) != 1 || days[0].Fail != 1 || days[0].Opened != 1 {
			t.Errorf("%q: trends %+v %v", p, days, err)
		}
	}
	// Every table is still there and holds every payload.
	cl, err := s.Clusters(ctx)
	if err != nil || len(cl) != len(payloads) {
		t.Fatalf("clusters %d %v, want %d", len(cl), err, len(payloads))
	}
	all, err := s.Violations(ctx, ViolationQuery{})
	if err != nil || len(all) != len(payloads) {
		t.Fatalf("violations %d %v, want %d", len(all), err, len(payloads))
	}
}

func testConcurrent(t *testing.T, b backend) {
	ctx := context.Background()
	url := b.fresh(t)
	s := open(t, url)
	other := open(t, url) // a second handle: another process on the same database
	w := newWriter(t, s, WriterOptions{BatchSize: 50})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for g := range writers {
		rec := NewRecorder("c", w)
		wg.Go(func() {
			for i := range each {
				r := resource(fmt.Sprintf("ns%d", g), "Pod", fmt.Sprintf("p%d", i))
				rec.Changed(fmt.Sprintf("u%d-%d", g, i), podObject(r, "", "img:1"), []engine.Result{
					result(r, "p", "a", engine.StatusFail, "high"), result(r, "p", "b", engine.StatusPass, "high")}, t0)
				if i%10 == 0 {
					if err := w.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	// Meanwhile, direct batches through the other handle, and readers.
	wg.Go(func() {
		for i := range each {
			r := resource("other", "Pod", fmt.Sprintf("o%d", i))
			err := other.Write(ctx, &Batch{Ops: []Op{{Observe: &Observation{Cluster: "c", UID: fmt.Sprintf("o%d", i), Resource: r,
				Results: []engine.Result{result(r, "p", "a", engine.StatusPass, "high")}, At: t0}}}})
			if err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for range 20 {
			if _, err := s.Posture(ctx, PostureQuery{By: ByNamespace}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	flush(t, w)
	rows, err := s.Posture(ctx, PostureQuery{By: ByCluster})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Fail != writers*each || rows[0].Pass != writers*each+each {
		t.Fatalf("posture %+v, want %d failures and %d passes", rows, writers*each, writers*each+each)
	}
	imgs, err := s.Images(ctx, ImageQuery{})
	if err != nil || len(imgs) != 1 || imgs[0].Resources != writers*each {
		t.Fatalf("images %+v %v", imgs, err)
	}
	days, _ := s.Trends(ctx, TrendQuery{From: t0, To: t0})
	if days[0].Opened != writers*each || days[0].Fail != writers*each {
		t.Errorf("trend of the day %+v", days[0])
	}
}

func testScan(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	a := resource("default", "Pod", "a")
	c := resource("default", "Pod", "c")
	first := &ScanRecord{Cluster: "scan", Source: "manifests/", Started: t0}
	first.Add(podObject(a, ""), []engine.Result{result(a, "p", "r", engine.StatusFail, "high")})
	first.Add(podObject(c, ""), []engine.Result{result(c, "p", "r", engine.StatusPass, "high")})
	if err := first.Write(ctx, s, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	second := &ScanRecord{Cluster: "scan", Source: "manifests/", Started: t0.Add(time.Hour)}
	second.Add(podObject(c, ""), []engine.Result{result(c, "p", "r", engine.StatusFail, "high")})
	if err := second.Write(ctx, s, t0.Add(time.Hour+time.Second)); err != nil {
		t.Fatal(err)
	}
	scans, err := s.Scans(ctx, ScanQuery{Clusters: []string{"scan"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(scans) != 2 || scans[0].Resources != 1 || scans[0].Fail != 1 || scans[1].Pass != 1 || scans[1].Score != 50 {
		t.Fatalf("scans %+v", scans)
	}
	live, _ := s.Live(ctx, "scan")
	if len(live) != 1 {
		t.Errorf("live after the second scan: %+v, want only c", live)
	}
	ha, _ := s.History(ctx, HistoryQuery{Cluster: "scan", Namespace: "default", Kind: "Pod", Name: "a"})
	if ha == nil || ha.Deleted == nil || len(ha.Transitions) != 2 || ha.Transitions[0].Reason != events.ReasonResourceDeleted {
		t.Errorf("a, gone from the second scan: %+v", ha)
	}
	vs, _ := s.Violations(ctx, ViolationQuery{Filter: Filter{Clusters: []string{"scan"}}})
	if len(vs) != 1 || vs[0].Resource.Name != "c" {
		t.Errorf("violations of the scan: %+v", vs)
	}
}

// testUpgrade: a database at schema 1 holding results is migrated to the
// latest schema when opened, its posture counts computed from them.
func testUpgrade(t *testing.T, b backend) {
	ctx := context.Background()
	url := b.fresh(t)
	d, driver, dsn := dialectSQLite, "sqlite", "file:"+url
	if b.name == "postgres" {
		d, driver, dsn = dialectPostgres, "pgx", url
	} else if err := os.MkdirAll(filepath.Dir(url), 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ms, err := migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, raw, d, ms[:1]); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO clusters (id, name, first_seen, last_seen) VALUES (1, 'c', 0, 0)`,
		`INSERT INTO namespaces (id, cluster_id, name) VALUES (1, 1, 'ns')`,
		`INSERT INTO resources (id, cluster_id, namespace_id, uid, api_version, kind, name, first_seen, last_seen) VALUES (1, 1, 1, 'u', 'v1', 'Pod', 'p', 0, 0)`,
		`INSERT INTO resource_images (resource_id, position, ref, digest) VALUES (1, 0, 'ghcr.io/a:1', ''), (1, 1, 'ghcr.io/a:1', '')`,
		`INSERT INTO policies (id, cluster_id, kind, name, first_seen, last_seen) VALUES (1, 1, 'ClusterPolicy', 'pol', 0, 0)`,
		`INSERT INTO rules (id, policy_id, name) VALUES (1, 1, 'a'), (2, 1, 'b')`,
		`INSERT INTO results (resource_id, rule_id, image, ord, cluster_id, namespace_id, policy_id, status, severity, category, message, path, digest, enforce, since, written)
		 VALUES (1, 1, '', 0, 1, 1, 1, 'fail', 'high', '', 'm', '', '', false, 0, 0), (1, 2, '', 0, 1, 1, 1, 'pass', 'high', '', '', '', '', false, 0, 0)`,
		`INSERT INTO transitions (cluster_id, namespace_id, resource_id, rule_id, type, status, severity, message, path, image, reason, at, day)
		 VALUES (1, 1, 1, 1, 'violation', 'fail', 'high', 'm', '', '', '', 0, 0), (1, 1, 1, 2, 'violation', 'fail', 'high', 'm', '', '', '', 1, 0),
		 (1, 1, 1, 2, 'resolution', 'pass', 'high', '', '', '', '', 2, 0)`,
	} {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	raw.Close()

	s := open(t, url)
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchema() || v < 2 {
		t.Fatalf("after opening: schema %d %v, want %d", v, err, LatestSchema())
	}
	rows, err := s.Posture(ctx, PostureQuery{By: ByControl})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Key != "pol/a" || rows[0].Fail != 1 || rows[1].Pass != 1 {
		t.Fatalf("posture after the upgrade %+v, want the schema-1 results counted", rows)
	}
	vs, err := s.Violations(ctx, ViolationQuery{})
	if err != nil || len(vs) != 1 || vs[0].Message != "m" {
		t.Fatalf("violations after the upgrade %+v %v", vs, err)
	}
	// Schema 3 counts the transitions already recorded per day.
	days, err := s.Trends(ctx, TrendQuery{From: time.Unix(0, 0), To: time.Unix(0, 0)})
	if err != nil || len(days) != 1 || days[0].Opened != 2 || days[0].Resolved != 1 {
		t.Fatalf("trends after the upgrade %+v %v, want 2 opened and 1 resolved", days, err)
	}
	// Schema 4 counts the images already recorded per namespace.
	imageUsageAgrees(t, s)
	imgs, err := s.Images(ctx, ImageQuery{})
	if err != nil || len(imgs) != 1 || imgs[0].Ref != "ghcr.io/a:1" || imgs[0].Resources != 1 {
		t.Fatalf("images after the upgrade %+v %v, want ghcr.io/a:1 in 1 resource", imgs, err)
	}
}

// imageUsageAgrees fails unless image_usage holds exactly the images of
// the current resources counted per namespace.
func imageUsageAgrees(t *testing.T, s Store) {
	t.Helper()
	read := func(stmt string) []string {
		rows, err := s.(*db).sql.Query(stmt)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var ns, n, cl int64
			var ref, digest string
			if err := rows.Scan(&ns, &ref, &digest, &cl, &n); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(ns, ref, digest, cl, n))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	kept := read(`SELECT namespace_id, ref, digest, cluster_id, resources FROM image_usage`)
	want := read(`SELECT r.namespace_id, i.ref, i.digest, r.cluster_id, COUNT(DISTINCT r.id) FROM resource_images i
JOIN resources r ON r.id = i.resource_id WHERE r.deleted_at IS NULL GROUP BY r.namespace_id, i.ref, i.digest, r.cluster_id`)
	if !slices.Equal(kept, want) {
		t.Fatalf("image_usage %q, want the recount %q", kept, want)
	}
}

// testImageUsage: the per-namespace image counts the images page reads
// follow new resources, changed images, deletions and resources seen
// again after their deletion, in every namespace and cluster.
func testImageUsage(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	w := newWriter(t, s, WriterOptions{})
	prod, dev := NewRecorder("prod", w), NewRecorder("dev", w)
	a, c := resource("web", "Pod", "a"), resource("data", "Pod", "c")
	pass := func(r engine.Resource) []engine.Result {
		return []engine.Result{result(r, "pss", "run-as-non-root", engine.StatusPass, "high")}
	}
	images := func(want map[string]int64, q ImageQuery) {
		t.Helper()
		imageUsageAgrees(t, s)
		rows, err := s.Images(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range rows {
			got[r.Ref] = r.Resources
		}
		if !maps.Equal(got, want) {
			t.Fatalf("images %v, want %v", got, want)
		}
	}
	prod.Changed("uid-a", podObject(a, "uid-a", "ghcr.io/web:1", "ghcr.io/sidecar:1"), pass(a), t0)
	prod.Changed("uid-b", podObject(a, "uid-b", "ghcr.io/web:1", "ghcr.io/web:1"), pass(a), t0)
	prod.Changed("uid-c", podObject(c, "uid-c", "ghcr.io/db:1"), pass(c), t0)
	dev.Changed("uid-d", podObject(a, "uid-d", "ghcr.io/web:1"), pass(a), t0)
	flush(t, w)
	images(map[string]int64{"ghcr.io/web:1": 3, "ghcr.io/sidecar:1": 1, "ghcr.io/db:1": 1}, ImageQuery{})
	// Paged: most used first, then by reference; past the end, nothing.
	images(map[string]int64{"ghcr.io/web:1": 3, "ghcr.io/db:1": 1}, ImageQuery{Limit: 2})
	images(map[string]int64{"ghcr.io/sidecar:1": 1}, ImageQuery{Limit: 2, Offset: 2})
	images(map[string]int64{"ghcr.io/db:1": 1, "ghcr.io/sidecar:1": 1}, ImageQuery{Offset: 1})
	images(map[string]int64{}, ImageQuery{Offset: 3})
	images(map[string]int64{"ghcr.io/web:1": 1}, ImageQuery{Filter: Filter{Clusters: []string{"dev"}}})
	images(map[string]int64{"ghcr.io/db:1": 1}, ImageQuery{Filter: Filter{Namespaces: []string{"data"}}})
	images(map[string]int64{}, ImageQuery{Filter: Filter{Namespaces: []string{}}})

	// New images with the same results; a deletion.
	prod.Changed("uid-a", podObject(a, "uid-a", "ghcr.io/web:2"), pass(a), t0.Add(time.Hour))
	prod.Deleted("uid-c", c, t0.Add(time.Hour))
	flush(t, w)
	images(map[string]int64{"ghcr.io/web:1": 2, "ghcr.io/web:2": 1}, ImageQuery{})

	// The deleted resource comes back with the same images and results.
	prod.Changed("uid-c", podObject(c, "uid-c", "ghcr.io/db:1"), pass(c), t0.Add(2*time.Hour))
	flush(t, w)
	images(map[string]int64{"ghcr.io/web:1": 2, "ghcr.io/web:2": 1, "ghcr.io/db:1": 1}, ImageQuery{})
}

// testDashboardFields: the control and remediation of results and
// transitions are kept; trends by policy (from the transitions) and
// without (from the per-day counts) agree; namespaces are listed.
func testDashboardFields(t *testing.T, b backend) {
	ctx := context.Background()
	s := open(t, b.fresh(t))
	w := newWriter(t, s, WriterOptions{})
	rec := NewRecorder("prod", w)
	web := resource("web", "Pod", "frontend")
	r := result(web, "pss", "run-as-non-root", engine.StatusFail, "high")
	r.Control, r.Remediation = "C-0013", "set securityContext.runAsNonRoot: true"
	rec.Changed("uid-1", podObject(web, "uid-1"), []engine.Result{r, result(web, "pss", "errs", engine.StatusError, "low")}, t0)
	flush(t, w)
	vs, err := s.Violations(ctx, ViolationQuery{})
	if err != nil || len(vs) != 1 || vs[0].Control != "C-0013" || vs[0].Remediation != r.Remediation {
		t.Fatalf("violations %+v %v, want the control and remediation", vs, err)
	}
	if vs, _ := s.Violations(ctx, ViolationQuery{Errors: true}); len(vs) != 2 {
		t.Errorf("violations with errors: %d, want 2", len(vs))
	}
	h, err := s.History(ctx, HistoryQuery{Cluster: "prod", UID: "uid-1"})
	if err != nil || h == nil || len(h.Transitions) != 1 || h.Transitions[0].Remediation != r.Remediation || h.Transitions[0].Control != "C-0013" {
		t.Fatalf("history %+v %v, want the transition's control and remediation", h, err)
	}
	// Fixed the next day.
	r.Status = engine.StatusPass
	rec.Changed("uid-1", podObject(web, "uid-1"), []engine.Result{r}, t0.Add(24*time.Hour))
	flush(t, w)
	all, err := s.Trends(ctx, TrendQuery{From: t0, To: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	byPolicy, err := s.Trends(ctx, TrendQuery{From: t0, To: t0.Add(24 * time.Hour), Filter: Filter{Policy: "pss"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Opened != 1 || all[1].Resolved != 1 || byPolicy[0].Opened != 1 || byPolicy[1].Resolved != 1 {
		t.Errorf("trends %+v by policy %+v, want 1 opened then 1 resolved", all, byPolicy)
	}
	if none, _ := s.Trends(ctx, TrendQuery{From: t0, To: t0.Add(24 * time.Hour), Filter: Filter{Namespaces: []string{"other"}}}); none[0].Opened != 0 {
		t.Errorf("trends of another namespace %+v", none)
	}
	ns, err := s.Namespaces(ctx, nil)
	if err != nil || !slices.Equal(ns, []string{"web"}) {
		t.Errorf("namespaces %q %v", ns, err)
	}
	if ns, _ := s.Namespaces(ctx, []string{"dev"}); len(ns) != 0 {
		t.Errorf("namespaces of an unknown cluster %q", ns)
	}
}
