package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// groupPolicies: require-limits (failurePolicy Fail, default timeout) and
// approved-registries (failurePolicy Ignore, 5 s, through Kyverno 1.13's
// webhookConfiguration, over the deprecated fields), both Enforce on Pods;
// approved-registries' matchConditions leave out Pods labelled
// registry-exempt.
const groupPolicies = `apiVersion: portcullis.dev/v1
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
  failurePolicy: Fail
  webhookTimeoutSeconds: 20
  webhookConfiguration:
    failurePolicy: Ignore
    timeoutSeconds: 5
    matchConditions:
    - name: not-exempt
      expression: "!has(object.metadata.labels) || !('registry-exempt' in object.metadata.labels)"
  rules:
  - name: registries
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: images must come from gcr.io or ghcr.io/org
      pattern:
        spec:
          containers:
          - image: "gcr.io/* | ghcr.io/org/*"
`

// TestWebhookGroupPaths: a Fail policy and an Ignore policy with different
// timeouts give two webhooks calling two paths, with their own timeouts;
// the API server calls both for a Pod, and each evaluates its own policy
// only: a denied Pod's message names each violated policy once, and each
// policy is evaluated once per admission (its result metric).
func TestWebhookGroupPaths(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, p := range decodeAll(t, groupPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{"apps", "portcullis-system"} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	var metricsAddr string
	r, _ := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir()})
	metricsAddr = r.MetricsAddr

	// The configuration: one webhook per group, each on its own path
	// with its own timeout and failure policy.
	var cfg admissionregistrationv1.ValidatingWebhookConfiguration
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &cfg)
		if err == nil && len(cfg.Webhooks) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("validating configuration: %v, %d webhooks, want 3", err, len(cfg.Webhooks))
		}
		time.Sleep(200 * time.Millisecond)
	}
	type hook struct {
		path    string
		fp      admissionregistrationv1.FailurePolicyType
		timeout int32
	}
	got := map[string]hook{}
	for _, w := range cfg.Webhooks {
		u := *w.ClientConfig.URL
		got[w.Name] = hook{u[strings.Index(u[len("https://"):], "/")+len("https://"):], *w.FailurePolicy, *w.TimeoutSeconds}
	}
	want := map[string]hook{
		"validate-fail-10s.portcullis.dev":  {"/validate/fail-10s", admissionregistrationv1.Fail, 10},
		"validate-ignore-5s.portcullis.dev": {"/validate/ignore-5s", admissionregistrationv1.Ignore, 5},
		"validate-policies.portcullis.dev":  {"/validate-policy", admissionregistrationv1.Fail, 10},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("webhook %s = %+v, want %+v", name, got[name], w)
		}
	}

	// Wait until the API server calls the webhooks.
	deadline = time.Now().Add(30 * time.Second)
	for {
		err := env.Client.Create(ctx, pod("probe", "apps", "gcr.io/app:1", false, true))
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
	before := policyResults(t, metricsAddr)

	cases := []struct {
		name      string
		pod       *corev1.Pod
		violated  []string // the policies it violates
		forbidden []string // what its denial must not name
	}{
		{"no limits", pod("nolimits", "apps", "gcr.io/app:1", false, true), []string{"require-limits"}, []string{"approved-registries"}},
		{"unapproved registry", pod("registry", "apps", "docker.io/nginx:1", true, true), []string{"approved-registries"}, []string{"require-limits"}},
		// Both webhooks deny; the API server answers with one of the
		// denials, which names its own group's policy only.
		{"both", pod("both", "apps", "docker.io/nginx:1", false, true), []string{"require-limits", "approved-registries"}, nil},
	}
	for _, tc := range cases {
		err := env.Client.Create(ctx, tc.pod)
		if err == nil {
			t.Errorf("%s: admitted", tc.name)
			continue
		}
		msg := err.Error()
		named := 0
		for _, p := range tc.violated {
			n := strings.Count(msg, p+":")
			if n > 1 {
				t.Errorf("%s: denial names %s %d times: %s", tc.name, p, n, msg)
			}
			named += n
		}
		if named != 1 {
			t.Errorf("%s: denial names %d of the violated policies %v, want exactly one (one group's answer): %s", tc.name, named, tc.violated, msg)
		}
		for _, p := range tc.forbidden {
			if strings.Contains(msg, p) {
				t.Errorf("%s: denial names %s, which it satisfies: %s", tc.name, p, msg)
			}
		}
	}
	if err := env.Client.Create(ctx, pod("good", "apps", "gcr.io/app:1", true, true)); err != nil {
		t.Errorf("compliant pod: %v", err)
	}
	// approved-registries' matchConditions exclude this Pod: admitted
	// from any registry, and the policy not evaluated.
	exempt := pod("exempt", "apps", "docker.io/nginx:1", true, true)
	exempt.Labels = map[string]string{"registry-exempt": "yes"}
	if err := env.Client.Create(ctx, exempt); err != nil {
		t.Errorf("pod excluded by approved-registries' matchConditions: %v", err)
	}

	// Five admissions: require-limits evaluated five times,
	// approved-registries four (not on the Pod its conditions exclude).
	after := policyResults(t, metricsAddr)
	for p, want := range map[string]float64{"require-limits": 5, "approved-registries": 4} {
		if n := after[p] - before[p]; n != want {
			t.Errorf("%s evaluated %v times, want %v (once per admission it applies to)", p, n, want)
		}
	}
}

// policyResults sums portcullis_admission_policy_results_total by policy.
func policyResults(t *testing.T, metricsAddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := map[string]float64{}
	re := regexp.MustCompile(`(?m)^portcullis_admission_policy_results_total\{policy="([^"]+)",result="[^"]+"\} ([0-9.e+]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		var v float64
		if _, err := fmt.Sscan(m[2], &v); err != nil {
			t.Fatal(err)
		}
		out[m[1]] += v
	}
	return out
}
