package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// requireTeamVpol denies Pods of namespace apps without a team label. It
// is written in v1alpha1: serve reads it in the version it watches.
const requireTeamVpol = `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: require-team}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: apps}}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    message: pods need a team label
`

// addLabelMpol labels the Pods of namespace apps.
const addLabelMpol = `apiVersion: policies.kyverno.io/v1beta1
kind: MutatingPolicy
metadata: {name: add-label}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: apps}}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"mutated-by": "portcullis"}}}'
`

// settingsGpol puts a ConfigMap in every new Namespace labelled tier=team.
const settingsGpol = `apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: team-settings}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}
  matchConditions:
  - name: team
    expression: "has(object.metadata.labels) && object.metadata.labels[?'tier'].orValue('') == 'team'"
  generate:
  - expression: >-
      generator.Apply(object.metadata.name, [{"apiVersion": dyn("v1"), "kind": dyn("ConfigMap"),
        "metadata": dyn({"name": "team-settings"}), "data": dyn({"owner": object.metadata.name})}])
`

// debugCELException exempts debug-* Pods from require-team; NAMESPACE is
// where it lives.
const debugCELException = `apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: debug-pods, namespace: NAMESPACE}
spec:
  policyRefs: [{name: require-team, kind: ValidatingPolicy}]
  matchConditions:
  - name: debug
    expression: "object.metadata.name.startsWith('debug-')"
`

// brokenVpol does not compile (a CEL syntax error).
const brokenVpol = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: broken}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.spec.("
`

func createYAML(ctx context.Context, t *testing.T, cl client.Client, docs string) []*unstructured.Unstructured {
	t.Helper()
	objs := decodeAll(t, docs)
	for _, o := range objs {
		if err := cl.Create(ctx, o); err != nil {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	return objs
}

// TestCELPolicies runs serve against a real API server with the
// policies.kyverno.io CRDs installed and applies Kyverno's CEL policies
// at runtime: a ValidatingPolicy denies a non-compliant Pod (and admits a
// compliant one), a MutatingPolicy labels a created Pod, a
// GeneratingPolicy creates a ConfigMap in a new Namespace, a CEL
// PolicyException exempts in the exceptions namespace and is ignored
// elsewhere, a malformed ValidatingPolicy is refused at create, and the
// leader writes Kyverno's status.conditionStatus on the policies.
func TestCELPolicies(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(append(PolicyCRDs("portcullis.dev"), PolicyExceptionCRD()), CELPolicyCRDs()...)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cl := env.Client
	for _, ns := range []string{"apps", "policy-exceptions", "portcullis-system"} {
		if err := cl.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), Mutating: true, Generate: true, CELPolicies: true,
			ExceptionNamespaces: []string{"policy-exceptions"}, Registry: prometheus.NewRegistry()}, func(r serve.Running) { ready <- r })
	}()
	var running serve.Running
	select {
	case running = <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start in 60 s")
	}
	var kinds []string
	for _, k := range running.Policies.WatchedKinds() {
		kinds = append(kinds, k.GroupVersion().String()+"/"+k.Kind)
	}
	for _, want := range []string{"policies.kyverno.io/v1/ValidatingPolicy", "policies.kyverno.io/v1/MutatingPolicy",
		"policies.kyverno.io/v1/GeneratingPolicy", "policies.kyverno.io/v1/PolicyException"} {
		if !strings.Contains(strings.Join(kinds, " "), want) {
			t.Errorf("watched kinds %v lack %s", kinds, want)
		}
	}

	// ValidatingPolicy, applied at runtime.
	createYAML(ctx, t, cl, requireTeamVpol)
	denied := func(err error) bool { return err != nil && strings.Contains(err.Error(), "pods need a team label") }
	try := func(p *corev1.Pod) error {
		err := cl.Create(ctx, p)
		if err == nil {
			_ = cl.Delete(ctx, p)
		}
		return err
	}
	eventually(t, 30*time.Second, "the ValidatingPolicy denies a pod without a team label", func() (bool, string) {
		err := try(pod("no-team", "apps", "gcr.io/app:1", false, false))
		return denied(err), "last: " + errString(err)
	})
	labelled := pod("with-team", "apps", "gcr.io/app:1", false, false)
	labelled.Labels = map[string]string{"team": "a"}
	if err := try(labelled); err != nil {
		t.Fatalf("compliant pod: %v", err)
	}

	// MutatingPolicy: the created Pod carries its label.
	createYAML(ctx, t, cl, addLabelMpol)
	eventually(t, 30*time.Second, "the MutatingPolicy labels a created pod", func() (bool, string) {
		p := pod("mutated", "apps", "gcr.io/app:1", false, false)
		p.Labels = map[string]string{"team": "a"}
		if err := cl.Create(ctx, p); err != nil {
			return false, err.Error()
		}
		got := p.Labels["mutated-by"]
		_ = cl.Delete(ctx, p)
		return got == "portcullis", fmt.Sprint(p.Labels)
	})

	// GeneratingPolicy: a ConfigMap in each new team Namespace.
	createYAML(ctx, t, cl, settingsGpol)
	eventually(t, 10*time.Second, "the GeneratingPolicy is in force", func() (bool, string) {
		return running.Policies.Current().GeneratingPolicy("team-settings") != nil, ""
	})
	team := namespace("team-x")
	team.Labels = map[string]string{"tier": "team"}
	if err := cl.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the GeneratingPolicy creates a ConfigMap in the new namespace", func() (bool, string) {
		cm := &corev1.ConfigMap{}
		err := cl.Get(ctx, client.ObjectKey{Namespace: "team-x", Name: "team-settings"}, cm)
		return err == nil && cm.Data["owner"] == "team-x", errString(err)
	})

	// CEL PolicyException: ignored in the tenant's namespace, honoured in
	// the exceptions namespace.
	exception := func(ns string) *unstructured.Unstructured {
		return decodeAll(t, strings.Replace(debugCELException, "NAMESPACE", ns, 1))[0]
	}
	if err := cl.Create(ctx, exception("apps")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the CEL exception outside the exceptions namespaces is reported ignored", func() (bool, string) {
		ign := running.Policies.IgnoredExceptions()
		return len(ign) == 1 && ign[0].Namespace == "apps" && ign[0].Group == "policies.kyverno.io", fmt.Sprint(ign)
	})
	if err := try(pod("debug-shell", "apps", "gcr.io/app:1", false, false)); !denied(err) {
		t.Fatalf("with a CEL exception in the tenant's namespace: err = %v, want denied", err)
	}
	if err := cl.Create(ctx, exception("policy-exceptions")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the CEL exception in the exceptions namespace exempts the debug pod", func() (bool, string) {
		err := try(pod("debug-shell", "apps", "gcr.io/app:1", false, false))
		return err == nil, "last: " + errString(err)
	})
	if err := try(pod("web", "apps", "gcr.io/app:1", false, false)); !denied(err) {
		t.Errorf("a pod the exception does not match: err = %v, want denied", err)
	}

	// A malformed ValidatingPolicy is refused when it is created.
	eventually(t, 10*time.Second, "a malformed ValidatingPolicy is refused", func() (bool, string) {
		objs := decodeAll(t, brokenVpol)
		err := cl.Create(ctx, objs[0])
		if err == nil {
			_ = cl.Delete(ctx, objs[0])
		}
		return err != nil && strings.Contains(err.Error(), "invalid policy"), "last: " + errString(err)
	})

	// The leader reports the load state in Kyverno's status shape.
	eventually(t, 10*time.Second, "the ValidatingPolicy's status says ready", func() (bool, string) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("policies.kyverno.io/v1")
		u.SetKind("ValidatingPolicy")
		if err := cl.Get(ctx, client.ObjectKey{Name: "require-team"}, u); err != nil {
			return false, err.Error()
		}
		ready, _, _ := unstructured.NestedBool(u.Object, "status", "conditionStatus", "ready")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditionStatus", "conditions")
		return ready && len(conds) == 1, fmt.Sprint(u.Object["status"])
	})
}

// TestCELPoliciesCRDLater: without the policies.kyverno.io CRDs the
// watcher loads the other policies (not an error, not unready); once the
// CRDs are installed it finds them at its next look and compiles the CEL
// policies stored there, a broken one reported with its fallback. A
// ValidatingPolicy edited into a broken one keeps its last good version.
func TestCELPoliciesCRDLater(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("portcullis.dev")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	w, err := policysource.New(c, policysource.Options{Debounce: 50 * time.Millisecond, CELPolicies: true, Discovery: disc,
		CRDRecheck: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	errc := make(chan error, 1)
	go func() { errc <- w.Start(ctx) }()
	select {
	case <-w.Loaded():
	case err := <-errc:
		t.Fatalf("watcher without the CEL CRDs: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("watcher not loaded in 30 s")
	}
	if n := strings.Count(logs.String(), "its CRD is not installed"); n != 3 {
		t.Errorf("%d absent-CRD log lines, want one per CEL kind (3):\n%s", n, logs.String())
	}

	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{CRDs: CELPolicyCRDs()}); err != nil {
		t.Fatal(err)
	}
	createYAML(ctx, t, env.Client, requireTeamVpol)
	eventually(t, 20*time.Second, "the ValidatingPolicy is compiled once its CRD is installed", func() (bool, string) {
		set := w.Current()
		return len(set.Validating) == 1 && set.Validating[0].Name() == "require-team", fmt.Sprint(w.WatchedKinds())
	})
	time.Sleep(time.Second) // several rechecks: each kind logged once
	if n := strings.Count(logs.String(), "its CRD is not installed"); n != 3 {
		t.Errorf("%d absent-CRD log lines after the rechecks, want 3", n)
	}
	// The PolicyException of the group is not watched without exceptions
	// namespaces.
	for _, k := range w.WatchedKinds() {
		if k.Kind == "PolicyException" {
			t.Errorf("watching %v without exceptions namespaces", k)
		}
	}

	// Edited into a broken policy: the last good version stays in force.
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("policies.kyverno.io/v1")
	u.SetKind("ValidatingPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "require-team"}, u); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(u.Object, []any{map[string]any{"expression": "object.("}}, "spec", "validations"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the broken ValidatingPolicy is reported, its last good version in force", func() (bool, string) {
		b := w.Broken()
		return len(b) == 1 && b[0].Kind == "ValidatingPolicy" && b[0].Fallback == policysource.FallbackLastGood &&
			len(w.Current().Validating) == 1, fmt.Sprint(b)
	})
	if err := env.Client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the deleted ValidatingPolicy leaves the set", func() (bool, string) {
		return len(w.Current().Validating) == 0 && len(w.Broken()) == 0, ""
	})
}
