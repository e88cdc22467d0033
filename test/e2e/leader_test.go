package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// auditPolicy logs, at Metadata level, every write to the objects that
// must have a single writer (webhook configurations, the certificate
// Secret); nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete]
  resources:
  - group: admissionregistration.k8s.io
    resources: [validatingwebhookconfigurations, mutatingwebhookconfigurations]
  - group: ""
    resources: [secrets]
  - group: wgpolicyk8s.io
    resources: [policyreports, clusterpolicyreports]
- level: None
`

// servicePolicy matches Services, a kind none of the runbook policies
// matches: its arrival must add services to the webhook configuration.
const servicePolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: service-owner}
spec:
  validationFailureAction: Enforce
  rules:
  - name: owner-label
    match: {any: [{resources: {kinds: [Service]}}]}
    validate:
      message: services need an owner label
      pattern: {metadata: {labels: {owner: "?*"}}}
`

// replica is one `portcullis serve` process of the test.
type replica struct {
	name    string
	cancel  context.CancelFunc
	errc    chan error
	running serve.Running
}

// TestLeaderElection runs two replicas with --leader-elect against one API
// server: exactly one holds the Lease; only it writes the webhook
// configuration and the certificate Secret (counted in the API server's
// audit log by user agent), and only it runs the background controller and
// writes PolicyReports; both answer admission reviews with the shared
// certificate; when the leader stops, the other takes the Lease, keeps the
// configuration in step with the policies and reports what they match.
func TestLeaderElection(t *testing.T) {
	dir := t.TempDir()
	policyFile, auditLog := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policyFile, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
		args := te.ControlPlane.GetAPIServer().Configure()
		args.Set("audit-policy-file", policyFile)
		args.Set("audit-log-path", auditLog)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const ns = "portcullis-system"
	for _, n := range []string{ns, "apps"} {
		if err := env.Client.Create(ctx, namespace(n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Running before Portcullis (no webhook yet): the background controller reports it.
	if err := env.Client.Create(ctx, pod("early", "apps", "docker.io/nginx", false, false)); err != nil {
		t.Fatal(err)
	}

	start := func(name string) *replica {
		cfg := rest.CopyConfig(env.Config)
		cfg.UserAgent = "portcullis-" + name // tells the replicas apart in the audit log
		rctx, rcancel := context.WithCancel(ctx)
		r := &replica{name: name, cancel: rcancel, errc: make(chan error, 1)}
		started := make(chan serve.Running, 1)
		go func() {
			r.errc <- serve.Run(rctx, cfg, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: ns,
				DNSNames: []string{"127.0.0.1"}, TLSSecret: "portcullis-tls",
				LeaderElection: true, LeaderElectionID: "portcullis", Background: true,
				RetryPeriod: time.Second}, // default lease and renew durations: a busy machine still renews
				func(run serve.Running) { started <- run })
		}()
		select {
		case r.running = <-started:
		case err := <-r.errc:
			t.Fatalf("replica %s: %v", name, err)
		case <-time.After(60 * time.Second):
			t.Fatalf("replica %s did not start in 60 s", name)
		}
		return r
	}
	a, b := start("a"), start("b")
	stop := func(r *replica) {
		r.cancel()
		select {
		case err := <-r.errc:
			if err != nil {
				t.Fatalf("replica %s stopped with %v", r.name, err)
			}
		case <-time.After(40 * time.Second):
			t.Fatalf("replica %s did not stop", r.name)
		}
	}

	// Exactly one replica leads.
	var leader, follower *replica
	select {
	case <-a.running.Elected:
		leader, follower = a, b
	case <-b.running.Elected:
		leader, follower = b, a
	case <-time.After(30 * time.Second):
		t.Fatal("no replica was elected in 30 s")
	}
	select {
	case <-follower.running.Elected:
		t.Fatal("both replicas lead")
	case <-time.After(3 * time.Second): // three retry periods
	}
	var lease coordinationv1.Lease
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "portcullis"}, &lease); err != nil {
		t.Fatalf("Lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Fatalf("Lease has no holder: %+v", lease.Spec)
	}
	select {
	case <-leader.running.Applied:
	case <-time.After(30 * time.Second):
		t.Fatal("the leader did not apply the webhook configuration")
	}
	t.Logf("leader %s (%s), follower %s (%s)", leader.name, leader.running.Addr, follower.name, follower.running.Addr)

	var sec corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "portcullis-tls"}, &sec); err != nil {
		t.Fatal(err)
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &vwc); err != nil {
		t.Fatal(err)
	}
	for _, w := range vwc.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, sec.Data["ca.crt"]) {
			t.Fatalf("webhook %s publishes a CA bundle other than the shared Secret's", w.Name)
		}
		if w.ClientConfig.URL == nil || !strings.Contains(*w.ClientConfig.URL, leader.running.Addr) {
			t.Fatalf("webhook %s points at %v, want the leader %s", w.Name, w.ClientConfig.URL, leader.running.Addr)
		}
	}

	// Both replicas are ready and answer reviews with the shared certificate.
	for _, r := range []*replica{leader, follower} {
		if code, body := get(t, "http://"+r.running.MetricsAddr+"/readyz"); code != http.StatusOK {
			t.Fatalf("replica %s /readyz: %d %s", r.name, code, body)
		}
		resp := review(t, r.running.Addr, sec.Data["ca.crt"], pod("direct", "apps", "docker.io/nginx", true, true))
		if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, "approved-registries") {
			t.Fatalf("replica %s: review of a pod from docker.io = %+v, want a denial by approved-registries", r.name, resp)
		}
		if resp := review(t, r.running.Addr, sec.Data["ca.crt"], pod("direct", "apps", "gcr.io/app:1", true, true)); !resp.Allowed {
			t.Fatalf("replica %s: review of a compliant pod = %+v, want allowed", r.name, resp)
		}
	}

	// Only the leader wrote the single-writer objects.
	eventually(t, 15*time.Second, "the early Pod reported", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "apps")
		return len(got) > 0, fmt.Sprint(got)
	})
	w := auditWrites(t, auditLog)
	for _, res := range []string{"secrets", "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "policyreports"} {
		if n := w[follower.name][res]; n != 0 {
			t.Errorf("follower %s wrote %s %d times, want never", follower.name, res, n)
		}
	}
	for _, res := range []string{"secrets", "validatingwebhookconfigurations", "policyreports"} {
		if w[leader.name][res] == 0 {
			t.Errorf("leader %s never wrote %s (writes %v)", leader.name, res, w)
		}
	}

	// The leader stops: the follower takes the Lease and keeps reconciling.
	stopped := time.Now()
	stop(leader)
	select {
	case <-follower.running.Elected:
		t.Logf("%s took over %s after the leader stopped", follower.name, time.Since(stopped).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("the follower was not elected within 15 s of the leader stopping")
	}
	// The new leader points the configuration at itself (its own address,
	// as there is no Service)...
	waitConfig(t, env.Client, 15*time.Second, "the new leader's URL", func(c *admissionregistrationv1.ValidatingWebhookConfiguration) bool {
		return strings.Contains(*c.Webhooks[0].ClientConfig.URL, follower.running.Addr)
	})
	// ...and follows policy changes: a policy for Services adds them.
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range decodeAll(t, servicePolicy) {
		for {
			err := env.Client.Create(ctx, p)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("creating a policy after failover: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitConfig(t, env.Client, 15*time.Second, "rules for services", coversServices)
	// The API server now reaches the new leader, which enforces the new policy.
	deadline = time.Now().Add(30 * time.Second)
	for {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "unowned", Namespace: "apps"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		err := env.Client.Create(ctx, svc)
		if err != nil && strings.Contains(err.Error(), "services need an owner label") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, svc)
		}
		if time.Now().After(deadline) {
			t.Fatalf("service without owner never denied after failover (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if w := auditWrites(t, auditLog); w[follower.name]["validatingwebhookconfigurations"] == 0 {
		t.Errorf("the new leader %s never wrote the webhook configuration (writes %v)", follower.name, w)
	}
	// The new leader's background controller reports the Service the new
	// policy matches (the API server's own Service in default).
	eventually(t, 15*time.Second, "the new leader reports Services", func() (bool, string) {
		got, _ := reportResults(ctx, t, env.Client, "default")
		return len(only("Service", got)) > 0, fmt.Sprint(got)
	})
	if w := auditWrites(t, auditLog); w[follower.name]["policyreports"] == 0 {
		t.Errorf("the new leader %s never wrote a PolicyReport (writes %v)", follower.name, w)
	}
	stop(follower)
}

// waitConfig waits until the webhook configuration satisfies ok.
func waitConfig(t *testing.T, c client.Client, within time.Duration, what string, ok func(*admissionregistrationv1.ValidatingWebhookConfiguration) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := c.Get(context.Background(), client.ObjectKey{Name: "portcullis"}, &vwc); err != nil {
			t.Fatal(err)
		}
		if len(vwc.Webhooks) > 0 && ok(&vwc) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after failover the webhook configuration has no %s within %v: %+v", what, within, vwc.Webhooks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func coversServices(c *admissionregistrationv1.ValidatingWebhookConfiguration) bool {
	for _, w := range c.Webhooks {
		for _, r := range w.Rules {
			if slices.Contains(r.Resources, "services") {
				return true
			}
		}
	}
	return false
}

// auditWrites counts the successful writes in the audit log by replica
// (user agent portcullis-<name>, with or without a suffix) and resource.
func auditWrites(t *testing.T, path string) map[string]map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	out := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef struct {
				Resource string `json:"resource"`
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		name, ok := strings.CutPrefix(ev.UserAgent, "portcullis-")
		if !ok || ev.ResponseStatus.Code >= 300 {
			continue
		}
		name, _, _ = strings.Cut(name, "/")
		if out[name] == nil {
			out[name] = map[string]int{}
		}
		out[name][ev.ObjectRef.Resource]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// review posts an AdmissionReview for obj (CREATE) straight to a
// replica's webhook, trusting only ca.
func review(t *testing.T, addr string, ca []byte, obj runtime.Object) *admissionv1.AdmissionResponse {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no CA certificate")
	}
	if p, ok := obj.(*corev1.Pod); ok {
		p = p.DeepCopy()
		p.APIVersion, p.Kind = "v1", "Pod"
		obj = p
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "e2e-direct", Operation: admissionv1.Create,
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:     "direct", Namespace: "apps", Object: runtime.RawExtension{Raw: raw}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(fmt.Sprintf("https://%s/validate", addr), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("review at %s: %v", addr, err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("review at %s: status %d, %v", addr, resp.StatusCode, err)
	}
	return out.Response
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return readAll(mustGet(t, url))
}
