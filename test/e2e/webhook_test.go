package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// runbookPolicies are the three runbook policies of the issue, Enforce.
const runbookPolicies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: require-limits}
spec:
  validationFailureAction: Enforce
  rules:
  - name: limits
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: CPU and memory limits are required
      pattern:
        spec:
          containers:
          - resources: {limits: {cpu: "?*", memory: "?*"}}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: approved-registries}
spec:
  validationFailureAction: Enforce
  rules:
  - name: registries
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: images must come from gcr.io or ghcr.io/org
      pattern:
        spec:
          containers:
          - image: "gcr.io/* | ghcr.io/org/*"
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: non-root}
spec:
  validationFailureAction: Enforce
  rules:
  - name: run-as-non-root
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: containers must not run as root
      pattern:
        spec:
          containers:
          - securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: configmap-owner}
spec:
  validationFailureAction: Enforce
  failurePolicy: Ignore
  rules:
  - name: owner-label
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: configmaps need an owner label
      pattern: {metadata: {labels: {owner: "?*"}}}
`

func decodeAll(t testing.TB, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range strings.Split(docs, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func pod(name, ns, image string, limits, nonRoot bool) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: image}
	if limits {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: mustQty("100m"), corev1.ResourceMemory: mustQty("64Mi")}
	}
	if nonRoot {
		yes, no := true, false
		c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
}

// TestWebhookEnforce runs `portcullis serve` against a real API server:
// the three runbook policies in Enforce deny what they must with their
// messages, admit a compliant pod, reach Deployments through autogen,
// follow a policy edit, skip excluded namespaces, and a malformed policy
// is refused at create time.
func TestWebhookEnforce(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	r, errc := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir()})
	var metricsAddr string
	t.Logf("webhook on %s with %d policies", r.Addr, r.Policies.Current().Len())
	// Probes and scrapers use the plain-HTTP address.
	metricsAddr = r.MetricsAddr
	for path, want := range map[string]string{"/readyz": "", "/healthz": "", "/metrics": ""} {
		resp, err := http.Get("http://" + r.MetricsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d %.200s", path, resp.StatusCode, body)
		}
	}
	// The API server picks up a new webhook configuration within a second or so.
	good := pod("good", "apps", "gcr.io/app:1", true, true)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, pod("probe", "apps", "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		if err == nil {
			_ = env.Client.Delete(ctx, pod("probe", "apps", "", false, false))
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied a non-compliant pod (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cases := []struct {
		name    string
		obj     client.Object
		denied  bool
		message []string
	}{
		{"compliant pod admitted", good, false, nil},
		{"no limits denied", pod("nolimits", "apps", "gcr.io/app:1", false, true), true, []string{"require-limits", "CPU and memory limits are required"}},
		{"unapproved registry denied", pod("registry", "apps", "docker.io/nginx:1", true, true), true, []string{"approved-registries", "images must come from gcr.io or ghcr.io/org"}},
		{"root denied", pod("root", "apps", "ghcr.io/org/app:1", true, false), true, []string{"non-root", "containers must not run as root"}},
		{"excluded namespace admitted", pod("anything", "portcullis-system", "docker.io/nginx", false, false), false, nil},
		{"configmap without owner denied", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c1", Namespace: "apps"}}, true, []string{"configmaps need an owner label"}},
	}
	for _, tc := range cases {
		err := env.Client.Create(ctx, tc.obj)
		if tc.denied != (err != nil) {
			t.Errorf("%s: err = %v, want denied=%v", tc.name, err, tc.denied)
			continue
		}
		for _, m := range tc.message {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: denial %q lacks %q", tc.name, err.Error(), m)
			}
		}
	}

	// A Deployment with a bad pod template is denied through autogen.
	dep := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: docker.io/nginx}]
`), &dep.Object); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, dep); err == nil || !strings.Contains(err.Error(), "autogen-") {
		t.Errorf("deployment with a bad template: err = %v, want denial by an autogen rule", err)
	}

	// A malformed policy is refused at create time; the running ones stay.
	bad := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: broken}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    preconditions:
      all: [{key: "{{ request.operation }}", operator: Equalz, value: CREATE}]
    validate: {pattern: {metadata: {name: "?*"}}}
`), &bad.Object); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), `unknown operator "Equalz"`) {
		t.Errorf("malformed policy: err = %v, want refusal naming the operator", err)
	}
	if err := env.Client.Create(ctx, pod("still-enforced", "apps", "docker.io/nginx", true, true)); err == nil {
		t.Error("policies stopped working after a malformed policy was refused")
	}

	// Editing a policy to Audit takes effect: the pod is admitted.
	reg := &unstructured.Unstructured{}
	reg.SetAPIVersion("portcullis.dev/v1")
	reg.SetKind("ClusterPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "approved-registries"}, reg); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(reg.Object, "Audit", "spec", "validationFailureAction")
	if err := env.Client.Update(ctx, reg); err != nil {
		t.Fatal(err)
	}
	warnings := &warningCollector{}
	wcfg := rest.CopyConfig(env.Config)
	wcfg.WarningHandler = warnings
	wclient, err := client.New(wcfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(2 * time.Second)
	for {
		err := wclient.Create(ctx, pod("audited", "apps", "docker.io/nginx:1", true, true))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy edit not in force after 2 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The Audit failure was admitted with a warning to the client...
	if w := warnings.all(); !strings.Contains(w, "approved-registries") {
		t.Errorf("warnings returned = %q, want the Audit failure of approved-registries", w)
	}
	// ...and a Kubernetes Event on the pod.
	deadline = time.Now().Add(5 * time.Second)
	for {
		var events corev1.EventList
		if err := env.Client.List(ctx, &events, client.InNamespace("apps")); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range events.Items {
			if ev.InvolvedObject.Name == "audited" && ev.Type == corev1.EventTypeWarning && strings.Contains(ev.Message, "approved-registries") {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Warning event for the Audit failure")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The admissions above are counted, by policy and result.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"portcullis_admission_requests_total", "portcullis_admission_policy_results_total", `policy="require-limits"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// With the webhook down, failurePolicy decides: Fail denies pods,
	// Ignore (the configmap policy) lets configmaps through.
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	bg := context.Background()
	if err := env.Client.Create(bg, pod("webhook-down", "apps", "gcr.io/app:1", true, true)); err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
		t.Errorf("pod with the webhook down (Fail): err = %v, want the API server's webhook failure", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled", Namespace: "apps"}}
	if err := env.Client.Create(bg, cm); err != nil {
		t.Errorf("configmap with the webhook down (Ignore): %v, want it admitted", err)
	}
}

// warningCollector keeps the warnings the API server returns.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.msgs = append(w.msgs, text)
	w.mu.Unlock()
}

func (w *warningCollector) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}
