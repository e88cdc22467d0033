package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/dashboard"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/portcullis/portcullis/internal/store"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// TestDashboardAccess: serve --dashboard-addr through a real API server,
// run as the chart's ServiceAccount with the chart's RBAC and arguments for
// dashboard.enabled (any API call answered 403 fails the test). A
// ServiceAccount bound to a Role that may list PolicyReports in team-a
// signs in with a TokenRequest token and sees team-a's findings and
// nothing of team-b; one allowed cluster-wide sees both; one allowed
// nothing sees nothing; a bad token is refused. Then the reviews a
// sign-in costs, counted at the API server's door: one cluster-wide
// SubjectAccessReview for a cluster-wide reader, then per namespace with
// at most Parallel in flight, none for a cached token, and one set for
// concurrent requests with the same new token.
func TestDashboardAccess(t *testing.T) {
	const ns = "portcullis-system"
	chart := renderChart(t, ns, "dashboard.enabled=true", "replicaCount=1")
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin := kubernetes.NewForConfigOrDie(env.Config)
	for _, ns := range []string{"team-a", "team-b", "portcullis-system"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*corev1.Pod{pod("alpha", "team-a", "gcr.io/app:1", true, false), pod("bravo", "team-b", "gcr.io/app:1", true, false)} {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{}
		p.Spec.Containers[0].SecurityContext.Privileged = ptr(true)
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, dashboardPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	listReports := []rbacv1.PolicyRule{{APIGroups: []string{"wgpolicyk8s.io"}, Resources: []string{"policyreports"}, Verbs: []string{"list"}}}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: "team-a"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "auditor", Namespace: "team-a"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody", Namespace: "team-a"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reports", Namespace: "team-a"}, Rules: listReports},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewer", Namespace: "team-a"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "reports"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: "team-a"}}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "dashboard-auditor"}, Rules: listReports},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dashboard-auditor"},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "dashboard-auditor"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "auditor", Namespace: "team-a"}}},
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	token := func(sa string) string {
		tok, err := admin.CoreV1().ServiceAccounts("team-a").CreateToken(ctx, sa,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("TokenRequest for %s: %v", sa, err)
		}
		return tok.Status.Token
	}

	// The chart's ServiceAccount, RBAC and arguments.
	saName := ""
	for _, u := range chart {
		switch u.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
			}
			if u.GetKind() == "ServiceAccount" {
				saName = u.GetName()
			}
		}
	}
	o := chartOptions(t, chart, ns)
	if o.DashboardAddr != ":8443" || o.DataDir == "" {
		t.Fatalf("chart arguments: dashboard %q, data dir %q, want the dashboard on :8443 and a data dir", o.DashboardAddr, o.DataDir)
	}
	saTok, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, saName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = saTok.Status.Token
	forbidden := &forbiddenRecorder{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { forbidden.rt = rt; return forbidden }
	t.Cleanup(func() {
		if calls := forbidden.list(); len(calls) > 0 {
			t.Errorf("API calls forbidden to the chart's ServiceAccount (dashboard on):\n  %s", strings.Join(calls, "\n  "))
		}
	})

	dataDir := t.TempDir()
	o.Addr, o.DNSNames, o.CertDir, o.DataDir, o.DashboardAddr = "127.0.0.1:0", []string{"127.0.0.1"}, t.TempDir(), dataDir, "127.0.0.1:0"
	o.ClusterName = "test-cluster"
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { errc <- serve.Run(sctx, cfg, o, func(r serve.Running) { ready <- r }) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	var running serve.Running
	select {
	case running = <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start in 60 s")
	}
	if running.DashboardAddr == "" {
		t.Fatal("no dashboard address")
	}

	// Wait until the background controller recorded both Pods' failures.
	st, err := store.OpenSQLite(ctx, filepath.Join(dataDir, store.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := st.Posture(ctx, store.PostureQuery{By: store.ByNamespace})
		if err != nil {
			t.Fatal(err)
		}
		failing := 0
		for _, r := range rows {
			if r.Fail > 0 {
				failing++
			}
		}
		if failing == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not record both namespaces' failures: %+v", rows)
		}
		time.Sleep(200 * time.Millisecond)
	}

	base := "https://" + running.DashboardAddr
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the dashboard's generated certificate
	fetch := func(path, tok string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type violations struct {
		Items []store.Violation `json:"items"`
	}
	namespacesOf := func(tok, query string) []string {
		code, body := fetch("/api/v1/violations"+query, tok)
		if code != http.StatusOK {
			t.Fatalf("violations%s: %d %s", query, code, body)
		}
		var v violations
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var out []string
		for _, x := range v.Items {
			if !seen[x.Resource.Namespace] {
				seen[x.Resource.Namespace] = true
				out = append(out, x.Resource.Namespace)
			}
		}
		return out
	}

	for _, tok := range []string{"", "not-a-token", token("viewer") + "x"} {
		if code, _ := fetch("/api/v1/violations", tok); code != http.StatusUnauthorized {
			t.Errorf("token %.12q: %d, want 401", tok, code)
		}
	}
	viewer := token("viewer")
	if got := namespacesOf(viewer, ""); len(got) != 1 || got[0] != "team-a" {
		t.Errorf("the team-a viewer sees violations of %q, want team-a only", got)
	}
	if got := namespacesOf(viewer, "?namespace=team-b"); len(got) != 0 {
		t.Errorf("the team-a viewer asking for team-b sees %q", got)
	}
	code, body := fetch("/api/v1/posture?by=namespace", viewer)
	if code != http.StatusOK || !strings.Contains(body, `"team-a"`) || strings.Contains(body, "team-b") {
		t.Errorf("posture for the viewer: %d %s", code, body)
	}
	code, body = fetch("/", viewer)
	if code != http.StatusOK || !strings.Contains(body, "team-a") || strings.Contains(body, "team-b") || strings.Contains(body, "bravo") {
		t.Errorf("overview page for the viewer: %d, shows team-b or lacks team-a", code)
	}
	if code, _ := fetch("/api/v1/resource?cluster=test-cluster&namespace=team-b&kind=Pod&name=bravo", viewer); code != http.StatusNotFound {
		t.Errorf("team-b's Pod for the viewer: %d, want 404", code)
	}
	if code, _ := fetch("/api/v1/resource?cluster=test-cluster&namespace=team-a&kind=Pod&name=alpha", viewer); code != http.StatusOK {
		t.Errorf("team-a's Pod for the viewer: %d, want 200", code)
	}
	if got := namespacesOf(token("auditor"), ""); len(got) != 2 {
		t.Errorf("the cluster-wide auditor sees violations of %q, want both namespaces", got)
	}
	if got := namespacesOf(token("nobody"), ""); len(got) != 0 {
		t.Errorf("a ServiceAccount allowed nothing sees %q", got)
	}

	testReviewCounts(ctx, t, env.Config, token)
}

// reviewCounter counts the TokenReviews and SubjectAccessReviews a client
// sends and the most SubjectAccessReviews in flight at once.
type reviewCounter struct {
	rt                        http.RoundTripper
	tokens, sars, now, maxNow atomic.Int64
}

func (c *reviewCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/tokenreviews"):
		c.tokens.Add(1)
	case strings.HasSuffix(r.URL.Path, "/subjectaccessreviews"):
		c.sars.Add(1)
		n := c.now.Add(1)
		defer c.now.Add(-1)
		for m := c.maxNow.Load(); n > m && !c.maxNow.CompareAndSwap(m, n); m = c.maxNow.Load() {
		}
		time.Sleep(5 * time.Millisecond) // so that reviews made in parallel overlap
	}
	return c.rt.RoundTrip(r)
}

func testReviewCounts(ctx context.Context, t *testing.T, config *rest.Config, token func(string) string) {
	cfg := rest.CopyConfig(config)
	counter := &reviewCounter{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { counter.rt = rt; return counter }
	names := []string{"team-a", "team-b", ""} // "": cluster-scoped findings, never checked per namespace
	for i := range 38 {
		names = append(names, fmt.Sprintf("ns-%02d", i))
	}
	const parallel = 4
	k := &dashboard.Kubernetes{Client: kubernetes.NewForConfigOrDie(cfg), Cluster: "test-cluster", Parallel: parallel, TTL: time.Minute,
		Namespaces: func(context.Context) ([]string, error) { return names, nil }}
	reset := func() { counter.tokens.Store(0); counter.sars.Store(0); counter.maxNow.Store(0) }
	counts := func() (int64, int64) { return counter.tokens.Load(), counter.sars.Load() }

	p, err := k.Authenticate(ctx, token("auditor"))
	if err != nil || !p.All {
		t.Fatalf("auditor: %+v %v, want every namespace", p, err)
	}
	if tr, sar := counts(); tr != 1 || sar != 1 {
		t.Errorf("a cluster-wide reader cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 1 (cluster-wide only)", tr, sar)
	}

	reset()
	viewer := token("viewer")
	p, err = k.Authenticate(ctx, viewer)
	if err != nil || p.All || len(p.Namespaces) != 1 || p.Namespaces[0] != "team-a" {
		t.Fatalf("viewer: %+v %v, want team-a only", p, err)
	}
	if tr, sar := counts(); tr != 1 || sar != 41 {
		t.Errorf("a team-a reader cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 1 + 40 namespaces", tr, sar)
	}
	if m := counter.maxNow.Load(); m > parallel || m < 2 {
		t.Errorf("%d SubjectAccessReviews in flight at most, want 2 to %d (parallel, bounded)", m, parallel)
	}
	reset()
	if _, err := k.Authenticate(ctx, viewer); err != nil {
		t.Fatal(err)
	}
	if tr, sar := counts(); tr != 0 || sar != 0 {
		t.Errorf("a cached token cost %d TokenReviews and %d SubjectAccessReviews, want none", tr, sar)
	}

	// A page's concurrent requests with a new token share one sign-in.
	reset()
	fresh := token("viewer")
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if p, err := k.Authenticate(ctx, fresh); err != nil || len(p.Namespaces) != 1 {
				t.Errorf("concurrent sign-in: %+v %v", p, err)
			}
		})
	}
	wg.Wait()
	if tr, sar := counts(); tr != 1 || sar != 41 {
		t.Errorf("6 concurrent requests with a new token cost %d TokenReviews and %d SubjectAccessReviews, want 1 and 41", tr, sar)
	}
}

// dashboardPolicy fails privileged Pods.
const dashboardPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata:
  name: no-privileged
spec:
  validationFailureAction: Audit
  background: true
  rules:
  - name: privileged
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: privileged containers are not allowed
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): "false"
`
