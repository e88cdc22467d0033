package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// chartDir is the Helm chart, relative to this package.
const chartDir = "../../deploy/helm/portcullis"

// helmBinary finds helm: $PORTCULLIS_HELM, else the one hack/helm-check.sh
// caches, else PATH.
func helmBinary(tb testing.TB) string {
	tb.Helper()
	if h := os.Getenv("PORTCULLIS_HELM"); h != "" {
		return h
	}
	tools := os.Getenv("PORTCULLIS_TOOLS")
	if tools == "" {
		if home, err := os.UserHomeDir(); err == nil {
			tools = filepath.Join(home, ".cache", "portcullis-tools")
		}
	}
	if m, _ := filepath.Glob(filepath.Join(tools, "helm-*", "helm")); len(m) > 0 {
		slices.Sort(m)
		return m[len(m)-1]
	}
	if h, err := exec.LookPath("helm"); err == nil {
		return h
	}
	msg := "helm not found: run hack/helm-check.sh once (it caches helm) or set PORTCULLIS_HELM"
	if Required() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// renderChart renders the chart with default values (plus sets) for a
// release "portcullis" in namespace.
func renderChart(tb testing.TB, namespace string, sets ...string) []*unstructured.Unstructured {
	tb.Helper()
	args := []string{"template", "portcullis", chartDir, "--namespace", namespace}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(helmBinary(tb), args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var objs []*unstructured.Unstructured
	for _, u := range decodeAll(tb, string(out)) {
		if u.GetKind() != "" {
			objs = append(objs, u)
		}
	}
	return objs
}

// forbiddenRecorder records every API response 403 a client receives.
type forbiddenRecorder struct {
	mu    sync.Mutex
	calls []string
	rt    http.RoundTripper
}

func (f *forbiddenRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.rt.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		f.mu.Lock()
		call := r.Method + " " + r.URL.Path
		if r.URL.Query().Get("watch") == "true" {
			call += " (watch)"
		}
		f.calls = append(f.calls, call)
		f.mu.Unlock()
	}
	return resp, err
}

func (f *forbiddenRecorder) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// chartOptions turns the serve arguments of the chart's Deployment into
// serve.Options, the way the CLI would (with the CLI's defaults for the
// flags the chart leaves out). Every argument must be known here: a new
// one needs a decision about what it means for the permissions.
func chartOptions(tb testing.TB, objs []*unstructured.Unstructured, namespace string) serve.Options {
	tb.Helper()
	var args []string
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			for _, a := range cs[0].(map[string]any)["args"].([]any) {
				args = append(args, strings.ReplaceAll(a.(string), "$(POD_NAMESPACE)", namespace))
			}
		}
	}
	if len(args) == 0 || args[0] != "serve" {
		tb.Fatalf("chart Deployment args %q, want serve ...", args)
	}
	// The CLI's defaults.
	o := serve.Options{ImagePolicies: true, CELPolicies: true, Mutating: true, Background: true, BackgroundInterval: time.Hour, VerificationCache: true, Generate: true}
	for _, a := range args[1:] {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch name {
		case "webhook-port", "metrics-addr", "log-level", "log-format", "failure-policy", "timeout-seconds":
			// Listening and logging: no API access.
		case "service-name":
			// No Service network in envtest: the webhook is called by URL.
		case "exclude-namespaces":
			o.ExcludeNamespaces = strings.Split(val, ",")
		case "policy-group":
			o.PolicyGroup = val
		case "namespace":
			o.Namespace = val
		case "validating-webhook-configuration":
			o.ConfigurationName = val
		case "mutating-webhook-configuration":
			o.MutatingConfigurationName = val
		case "owner-cluster-role":
			o.OwnerClusterRole = val
		case "mutating":
			o.Mutating = val == "true"
		case "image-policies":
			o.ImagePolicies = val == "true"
		case "cel-policies":
			o.CELPolicies = val == "true"
		case "background":
			o.Background = val == "true"
		case "generate":
			o.Generate = val == "true"
		case "tls-secret":
			o.TLSSecret = val
		case "leader-elect":
			o.LeaderElection = val == "true"
		case "leader-election-id":
			o.LeaderElectionID = val
		case "leader-election-namespace":
			o.LeaderElectionNamespace = val
		case "verification-cache":
			o.VerificationCache = val == "true"
		case "verification-key-secret":
			o.VerificationKeySecret = val
		case "verification-cache-ttl", "verification-key-overlap":
			d, err := time.ParseDuration(val)
			if err != nil {
				tb.Fatalf("chart argument %q: %v", a, err)
			}
			if name == "verification-cache-ttl" {
				o.VerificationCacheTTL = d
			} else {
				o.VerificationKeyOverlap = d
			}
		case "data-dir":
			o.DataDir = val // replaced by a temporary directory where it is used
		case "dashboard-addr":
			o.DashboardAddr = val
		case "shutdown-delay":
			d, err := time.ParseDuration(val)
			if err != nil {
				tb.Fatalf("chart argument %q: %v", a, err)
			}
			o.ShutdownDelay = d
		default:
			tb.Fatalf("chart argument %q unknown to the RBAC test: map it to serve.Options here", a)
		}
	}
	return o
}

const rbacPolicies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: team-label}
spec:
  validationFailureAction: Audit
  background: true
  rules:
  - name: team
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaceSelector: {matchLabels: {tier: apps}}
    validate:
      message: pods need a team label
      pattern: {metadata: {labels: {team: "?*"}}}
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: team-signed}
spec:
  images: [{glob: "127.0.0.1:1/team/**"}]
  authorities:
  - name: team-key
    key:
      secretRef: {name: cosign-pub}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: default-deny}
spec:
  generateExisting: true
  rules:
  - name: netpol
    match:
      any:
      - resources:
          kinds: [Namespace]
          selector: {matchLabels: {tier: apps}}
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data:
        spec: {podSelector: {}, policyTypes: [Ingress]}
`

const rbacLatePolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: no-latest}
spec:
  validationFailureAction: Enforce
  rules:
  - name: no-latest
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: no latest tag
      pattern: {spec: {containers: [{image: "!*:latest"}]}}
`

// rbacCELPolicy is a Kyverno CEL policy, watched when its CRD is installed.
const rbacCELPolicy = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: no-blocked-configmaps}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "!object.metadata.name.startsWith('blocked-')"
    message: no blocked configmaps
`

// rbacContextPolicy reads the cluster at admission: a ConfigMap (granted
// by the chart's default clusterContext.configMaps) and, for Pods labelled
// count-secrets, the Secrets of the namespace through an apiCall (not
// granted: a clear "forbidden" error result, denied under Enforce).
const rbacContextPolicy = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: cluster-reads}
spec:
  validationFailureAction: Enforce
  rules:
  - name: blocked-team
    match: {any: [{resources: {kinds: [Pod], namespaces: [shop]}}]}
    context:
    - name: cfg
      configMap: {name: teams, namespace: shop}
    validate:
      message: "team {{ cfg.data.blocked }} is blocked"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.metadata.labels.team || '' }}", operator: Equals, value: "{{ cfg.data.blocked }}"}
  - name: secrets
    match: {any: [{resources: {kinds: [Pod], namespaces: [shop], selector: {matchLabels: {count-secrets: "yes"}}}}]}
    context:
    - name: secretCount
      apiCall: {urlPath: /api/v1/namespaces/shop/secrets, jmesPath: "items | length(@)"}
    validate:
      message: too many secrets
      deny: {conditions: {any: [{key: "{{ secretCount }}", operator: GreaterThan, value: 100}]}}
`

// TestChartRBAC runs serve as the chart's ServiceAccount, with exactly the
// chart's RBAC objects (default values) applied to a real API server with
// RBAC authorization, and a TokenRequest token for that ServiceAccount:
// admission (validate and mutate, namespace labels, service-account and
// pull-secret lookups, a ClusterImagePolicy key Secret, Events), the policy
// watch, leader election (Lease acquired and released), the certificate
// Secret, the webhook configurations, the background controller's
// PolicyReports and the generate controller's NetworkPolicy. Any API call
// answered 403 fails the test.
func TestChartRBAC(t *testing.T) {
	const ns = "portcullis-system"
	objs := renderChart(t, ns)
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = append(append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD()), CELPolicyCRDs()...)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin := kubernetes.NewForConfigOrDie(env.Config)
	for _, n := range []*corev1.Namespace{namespace(ns), {ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"tier": "apps"}}}} {
		if err := env.Client.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	var granted []string
	for _, u := range objs {
		switch u.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if err := env.Client.Create(ctx, u); err != nil {
				t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
			}
			granted = append(granted, u.GetKind()+"/"+u.GetName())
		}
	}
	t.Logf("applied from the chart: %v", granted)
	saName := ""
	for _, u := range objs {
		if u.GetKind() == "ServiceAccount" {
			saName = u.GetName()
		}
	}
	o := chartOptions(t, objs, ns)

	// Objects admission reads: a pull secret named by the namespace's
	// default ServiceAccount, and the key Secret of the ClusterImagePolicy
	// (policy-controller reads it from its own namespace).
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "shop"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"127.0.0.1:1":{"auth":"dTpw"}}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cosign-pub", Namespace: ns}, Data: map[string][]byte{"cosign.pub": testPublicKeyPEM(t)}},
	} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "shop"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, p := range decodeAll(t, rbacPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// A Pod running before serve starts, for the background controller.
	if err := env.Client.Create(ctx, pod("before", "shop", "gcr.io/app:1", true, true)); err != nil {
		t.Fatal(err)
	}

	tok, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, saName,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, saName, err)
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tok.Status.Token
	forbidden := &forbiddenRecorder{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { forbidden.rt = rt; return forbidden }
	// The token really is the ServiceAccount's: it may not list Secrets.
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Secrets("shop").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing Secrets as the ServiceAccount: %v, want forbidden", err)
	}
	forbidden.mu.Lock()
	forbidden.calls = nil
	forbidden.mu.Unlock()
	// Reported however the test ends. The one forbidden call expected: the
	// access check before an informer on Secrets, which the chart does not
	// grant (rbacContextPolicy).
	t.Cleanup(func() {
		calls := slices.DeleteFunc(forbidden.list(), func(c string) bool { return c == "GET /api/v1/secrets" })
		if len(calls) > 0 {
			slices.Sort(calls)
			calls = slices.Compact(calls)
			t.Errorf("API calls forbidden to the chart's ServiceAccount:\n  %s", strings.Join(calls, "\n  "))
		}
	})

	var logs lockedBuffer
	o.Addr, o.DNSNames, o.CertDir = "127.0.0.1:0", []string{"127.0.0.1"}, t.TempDir()
	o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 500*time.Millisecond
	sctx, stop := context.WithCancel(ctx)
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve.Run(sctx, cfg, o, func(r serve.Running) { ready <- r }) }()
	var running serve.Running
	select {
	case running = <-ready:
	case err := <-errc:
		t.Fatalf("serve as %s: %v\n%s", saName, err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start in 60 s; forbidden calls %v\n%s", forbidden.list(), logs.String())
	}
	for name, ch := range map[string]<-chan struct{}{"elected": running.Elected, "applied": running.Applied} {
		select {
		case <-ch:
		case <-time.After(60 * time.Second):
			t.Fatalf("not %s in 60 s; forbidden calls %v\n%s", name, forbidden.list(), logs.String())
		}
	}

	// Admission: a ClusterImagePolicy image (key Secret, ServiceAccount and
	// pull secret read; the registry is unreachable, so denied), and an
	// Audit failure (namespace labels, an Event).
	retryUntil(t, 30*time.Second, func() error {
		err := env.Client.Create(ctx, imagePod("signed-only", "127.0.0.1:1/team/app:v1"))
		if err == nil || !strings.Contains(err.Error(), "team-signed") {
			return fmt.Errorf("image pod: %v, want a denial by team-signed", err)
		}
		return nil
	})
	if err := env.Client.Create(ctx, pod("unlabelled", "shop", "gcr.io/app:1", true, true)); err != nil {
		t.Fatalf("audit pod: %v", err)
	}
	// The policy watch: a policy created now is enforced.
	for _, p := range decodeAll(t, rbacLatePolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	retryUntil(t, 30*time.Second, func() error {
		err := env.Client.Create(ctx, pod(fmt.Sprintf("latest-%d", time.Now().UnixNano()), "shop", "gcr.io/app:latest", true, true))
		if err == nil || !strings.Contains(err.Error(), "no-latest") {
			return fmt.Errorf("latest pod: %v, want a denial by no-latest", err)
		}
		return nil
	})
	// What policies read at admission: a ConfigMap (granted by default),
	// and Secrets (not granted: a clear error result, denied).
	if err := env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "teams", Namespace: "shop"},
		Data: map[string]string{"blocked": "red"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range decodeAll(t, rbacContextPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	red := pod("red", "shop", "gcr.io/app:1", true, true)
	red.Labels = map[string]string{"team": "red"}
	retryUntil(t, 30*time.Second, func() error {
		err := env.Client.Create(ctx, red.DeepCopy())
		if err == nil || !strings.Contains(err.Error(), "team red is blocked") {
			return fmt.Errorf("red pod: %v, want a denial from the ConfigMap", err)
		}
		return nil
	})
	counting := pod("counting", "shop", "gcr.io/app:1", true, true)
	counting.Labels = map[string]string{"team": "blue", "count-secrets": "yes"}
	if err := env.Client.Create(ctx, counting); err == nil || !strings.Contains(err.Error(), "forbidden: serve's service account may not list secrets") {
		t.Errorf("apiCall on Secrets: err = %v, want a denial saying serve may not list secrets", err)
	}

	// The background controller's report for the namespace.
	retryUntil(t, 60*time.Second, func() error {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion("wgpolicyk8s.io/v1alpha2")
		list.SetKind("PolicyReportList")
		if err := env.Client.List(ctx, list); err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return fmt.Errorf("no PolicyReport yet")
		}
		return nil
	})

	// The generate controller's NetworkPolicy (applied server-side, then
	// watched to keep it).
	retryUntil(t, 30*time.Second, func() error {
		return env.Client.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "default-deny"}, &networkingv1.NetworkPolicy{})
	})

	// A CEL ValidatingPolicy (policies.kyverno.io, watched with the chart's
	// default celPolicies.enabled): enforced, and its load state written
	// to its status.
	for _, p := range decodeAll(t, rbacCELPolicy) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	retryUntil(t, 30*time.Second, func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("blocked-%d", time.Now().UnixNano()), Namespace: "shop"}}
		err := env.Client.Create(ctx, cm)
		if err == nil || !strings.Contains(err.Error(), "no blocked configmaps") {
			return fmt.Errorf("blocked ConfigMap: %v, want a denial by the ValidatingPolicy", err)
		}
		return nil
	})
	retryUntil(t, 30*time.Second, func() error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("policies.kyverno.io/v1")
		u.SetKind("ValidatingPolicy")
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "no-blocked-configmaps"}, u); err != nil {
			return err
		}
		if ready, _, _ := unstructured.NestedBool(u.Object, "status", "conditionStatus", "ready"); !ready {
			return fmt.Errorf("status %v, want conditionStatus.ready", u.Object["status"])
		}
		return nil
	})

	// A clean stop releases the Lease.
	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop in 30 s")
	}
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "forbidden") {
			t.Errorf("log: %s", line)
		}
	}
}

// retryUntil retries f until it returns nil or d passes.
func retryUntil(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// testPublicKeyPEM returns a fresh P-256 public key in PEM (nothing is
// verified with it here: the registry is unreachable).
func testPublicKeyPEM(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (logs).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
