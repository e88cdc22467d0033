package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/store"
)

// The payloads the tests store and send.
const (
	scriptName   = "<script>alert(1)</script>"
	imgPayload   = `"><img src=x onerror=alert(2)>`
	testToken    = "s3cret-dashboard-token"
	testCluster  = "prod"
	fixtureToday = "2026-11-30"
)

var day0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func fixtureNow() time.Time { return time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC) }

func pod(ns, name string) engine.Resource {
	return engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: name}
}

func podObj(r engine.Resource, uid, image string) map[string]any {
	return map[string]any{"apiVersion": r.APIVersion, "kind": r.Kind,
		"metadata": map[string]any{"name": r.Name, "namespace": r.Namespace, "uid": uid},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}}}
}

func res(r engine.Resource, policy, rule string, st engine.Status, sev string) engine.Result {
	out := engine.Result{Policy: policy, PolicyKind: engine.KindClusterPolicy, Rule: rule, Resource: r, Status: st, Severity: sev, Category: "Pod Security"}
	if st == engine.StatusFail {
		out.Message = "validation error: " + rule + " failed"
		out.Path = "/spec/containers/0/securityContext/runAsNonRoot"
		out.Remediation = "set spec.containers[*].securityContext.runAsNonRoot to true"
		out.Control = "C-0013"
	}
	return out
}

// fixture is a SQLite store with two namespaces of cluster prod (team-a,
// team-b) over 30 days, a resource named like a script in team-b, a
// message carrying markup, and a scan.
func fixture(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: filepath.Join(t.TempDir(), "dash.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w, err := store.NewWriter(st, store.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := store.NewRecorder(testCluster, w)
	a1, a2 := pod("team-a", "web"), pod("team-a", "api")
	b1, b2 := pod("team-b", scriptName), pod("team-b", "billing")
	for d := range 30 {
		at := day0.Add(time.Duration(d) * 24 * time.Hour)
		flip := engine.StatusPass
		if d%3 == 0 {
			flip = engine.StatusFail
		}
		rec.Changed("uid-a1", podObj(a1, "uid-a1", "ghcr.io/org/web:1.0"), []engine.Result{
			res(a1, "pss-restricted", "run-as-non-root", flip, "high"),
			res(a1, "pss-baseline", "host-namespaces", engine.StatusPass, "high"),
		}, at)
		rec.Changed("uid-a2", podObj(a2, "uid-a2", "ghcr.io/org/api:2.0"), []engine.Result{
			res(a2, "pss-restricted", "run-as-non-root", engine.StatusFail, "medium"),
			{Policy: "signed-images", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed-images", Resource: a2,
				Status: engine.StatusPass, Image: "ghcr.io/org/api:2.0", Digest: "sha256:aaaa"},
		}, at)
		bad := res(b1, "pss-baseline", "privileged", engine.StatusFail, "critical")
		bad.Message = "privileged container " + imgPayload
		rec.Changed("uid-b1", podObj(b1, "uid-b1", "docker.io/evil/"+"img:latest"), []engine.Result{
			bad,
			{Policy: "signed-images", PolicyKind: engine.KindClusterImagePolicy, Rule: "signed-images", Resource: b1,
				Status: engine.StatusFail, Image: "docker.io/evil/img:latest", Message: "no signature"},
		}, at)
		rec.Changed("uid-b2", podObj(b2, "uid-b2", "ghcr.io/org/billing:3"), []engine.Result{
			res(b2, "pss-baseline", "privileged", engine.StatusFail, "critical"),
		}, at)
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sc := &store.ScanRecord{Cluster: "scan:manifests/", Source: "manifests/", Started: day0}
	r := pod("default", "scanned")
	sc.Add(podObj(r, "", "nginx:1"), []engine.Result{res(r, "pss-baseline", "privileged", engine.StatusFail, "critical")})
	if err := sc.Write(ctx, st, day0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return st
}

// staticAuth maps tokens to principals: the access decisions the
// handler enforces, without an API server (kube.go is tested through a
// real one in test/e2e).
type staticAuth map[string]*Principal

func (s staticAuth) Authenticate(_ context.Context, tok string) (*Principal, error) {
	if p, ok := s[tok]; ok {
		return p, nil
	}
	return nil, ErrUnauthenticated
}

const (
	adminToken = "admin"
	teamAToken = "team-a"
	nobodyTok  = "nobody"
)

func testAuth() staticAuth {
	return staticAuth{
		adminToken: {Name: "admin", All: true},
		teamAToken: {Name: "alice", Clusters: []string{testCluster}, Namespaces: []string{"team-a"}},
		nobodyTok:  {Name: "nobody", Clusters: []string{testCluster}, Namespaces: []string{}},
	}
}

func newTestHandler(t testing.TB, st store.Store, auth Authenticator) *Handler {
	t.Helper()
	h, err := New(Options{Store: st, Auth: auth, Now: fixtureNow})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// get requests path with a bearer token ("" none).
func get(t testing.TB, h http.Handler, path, tok string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func contains(s string, subs ...string) []string {
	var missing []string
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			missing = append(missing, sub)
		}
	}
	return slices.Clip(missing)
}
