package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// clusterContextPolicies read the cluster at admission: a ConfigMap (the
// allowed registry of the namespace), an apiCall counting the Pods of the
// namespace, and an apiCall with a default for a ConfigMap that may not
// exist.
const clusterContextPolicies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: cm-registry}
spec:
  validationFailureAction: Enforce
  rules:
  - name: registry
    match: {any: [{resources: {kinds: [Pod], namespaces: [ctx-cm, ctx-missing]}}]}
    context:
    - name: settings
      configMap: {name: settings, namespace: "{{ request.namespace }}"}
    validate:
      message: "images must come from {{ settings.data.registry }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: NotEquals
            value: "{{ settings.data.registry || 'none' }}/*"
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: pod-limit}
spec:
  validationFailureAction: Enforce
  rules:
  - name: at-most-two
    match: {any: [{resources: {kinds: [Pod], namespaces: [ctx-count], operations: [CREATE]}}]}
    context:
    - name: pods
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/pods"
        jmesPath: "items | length(@)"
    validate:
      message: "{{ pods }} pods already in {{ request.namespace }}"
      deny:
        conditions:
          any:
          - {key: "{{ pods }}", operator: GreaterThanOrEquals, value: 2}
---
apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: quota-default}
spec:
  validationFailureAction: Enforce
  rules:
  - name: open
    match: {any: [{resources: {kinds: [Pod], namespaces: [ctx-default]}}]}
    context:
    - name: open
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/configmaps/quota"
        jmesPath: "data.open"
        default: "yes"
    validate:
      message: "namespace closed (quota open={{ open }})"
      deny:
        conditions:
          any:
          - {key: "{{ open }}", operator: NotEquals, value: "yes"}
`

// TestClusterContextAtAdmission: policies with configMap and apiCall
// context entries are loaded by serve and evaluated against the cluster
// (informer caches), through a real API server: a ConfigMap's value
// decides and a change of it is followed; an apiCall counts Pods; a
// missing ConfigMap is an error result, a denial under Enforce (Kyverno:
// configMap entries have no default); an apiCall default is taken when its
// object is missing, and the object once it exists.
func TestClusterContextAtAdmission(t *testing.T) {
	env := Start(t, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = append(te.CRDs, PolicyCRDs("portcullis.dev")...)
	}})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"portcullis-system", "ctx-cm", "ctx-missing", "ctx-count", "ctx-default"} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			t.Fatal(err)
		}
	}
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "ctx-cm"}, Data: map[string]string{"registry": "ghcr.io"}}
	if err := env.Client.Create(ctx, settings); err != nil {
		t.Fatal(err)
	}
	// Accepted by the policy validation webhook once serve runs, and
	// loaded (not reported broken).
	r, _ := startServe(ctx, t, env, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
		DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir(), Background: true, ReportPasses: true})
	waitUntil(t, "the validation webhook in force", 30*time.Second, func() bool {
		probe := decodeAll(t, strings.Replace(clusterContextPolicies, "kind: ClusterPolicy\nmetadata: {name: cm-registry}", "kind: ClusterPolicy\nmetadata: {name: probe}", 1))[0]
		probe.Object["spec"].(map[string]any)["rules"].([]any)[0].(map[string]any)["context"] = []any{map[string]any{"name": "g", "globalReference": map[string]any{"name": "x"}}}
		err := env.Client.Create(ctx, probe)
		if err == nil {
			_ = env.Client.Delete(ctx, probe)
		}
		return err != nil && strings.Contains(err.Error(), "globalReference context entries are not supported")
	})
	for _, p := range decodeAll(t, clusterContextPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatalf("policy %s refused: %v", p.GetName(), err)
		}
	}
	waitUntil(t, "the three policies loaded", 30*time.Second, func() bool {
		set := r.Policies.Current()
		return set != nil && set.Policy("cm-registry") != nil && set.Policy("pod-limit") != nil && set.Policy("quota-default") != nil
	})
	if b := r.Policies.Broken(); len(b) != 0 {
		t.Fatalf("broken policies: %v", b)
	}

	// configMap: the namespace's registry decides.
	waitDenied(ctx, t, env.Client, 30*time.Second, imagePodIn("ctx-cm", "docker", "docker.io/nginx:1"), "images must come from ghcr.io")
	if err := env.Client.Create(ctx, imagePodIn("ctx-cm", "ghcr", "ghcr.io/team/app:1")); err != nil {
		t.Fatalf("image from the ConfigMap's registry: %v", err)
	}
	// ...and a change of the ConfigMap is followed.
	settings.Data["registry"] = "quay.io"
	if err := env.Client.Update(ctx, settings); err != nil {
		t.Fatal(err)
	}
	waitDenied(ctx, t, env.Client, 10*time.Second, imagePodIn("ctx-cm", "ghcr-2", "ghcr.io/team/app:1"), "images must come from quay.io")
	// An edit of the policy has the background controller evaluate the
	// running Pods against it again (a ConfigMap change alone does not:
	// the Pods' first evaluation may come before or after the update).
	pol := &unstructured.Unstructured{}
	pol.SetAPIVersion("portcullis.dev/v1")
	pol.SetKind("ClusterPolicy")
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "cm-registry"}, pol); err != nil {
		t.Fatal(err)
	}
	rules, _, _ := unstructured.NestedSlice(pol.Object, "spec", "rules")
	rules[0].(map[string]any)["validate"].(map[string]any)["message"] = "images must come from {{ settings.data.registry }} (edited)"
	if err := unstructured.SetNestedSlice(pol.Object, rules, "spec", "rules"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Update(ctx, pol); err != nil {
		t.Fatalf("edit the policy: %v", err)
	}
	if err := env.Client.Create(ctx, imagePodIn("ctx-cm", "quay", "quay.io/team/app:1")); err != nil {
		t.Errorf("image from the changed registry: %v", err)
	}

	// configMap missing: an error result, denied under Enforce (the `||`
	// default in the condition does not make it pass).
	err := env.Client.Create(ctx, imagePodIn("ctx-missing", "any", "none/app:1"))
	if err == nil || !strings.Contains(err.Error(), "cm-registry") || !strings.Contains(err.Error(), "configmap ctx-missing/settings") {
		t.Errorf("missing ConfigMap: err = %v, want a denial naming the policy and the ConfigMap", err)
	}

	// apiCall: at most two Pods in the namespace.
	for i := range 2 {
		if err := env.Client.Create(ctx, imagePodIn("ctx-count", fmt.Sprintf("p%d", i), "app:1")); err != nil {
			t.Fatalf("pod %d of 2: %v", i, err)
		}
	}
	waitDenied(ctx, t, env.Client, 10*time.Second, imagePodIn("ctx-count", "p3", "app:1"), "2 pods already in ctx-count")

	// apiCall default: no quota ConfigMap, the default opens the namespace.
	if err := env.Client.Create(ctx, imagePodIn("ctx-default", "first", "app:1")); err != nil {
		t.Errorf("apiCall default: %v, want admitted", err)
	}
	quota := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "quota", Namespace: "ctx-default"}, Data: map[string]string{"open": "no"}}
	if err := env.Client.Create(ctx, quota); err != nil {
		t.Fatal(err)
	}
	waitDenied(ctx, t, env.Client, 10*time.Second, imagePodIn("ctx-default", "second", "app:1"), "namespace closed (quota open=no)")

	// The background controller reads the same cache: the Pod admitted
	// under quay.io passes there too (evaluated without the ConfigMap, the
	// `|| 'none'` default would fail it), the one admitted under ghcr.io
	// fails now.
	eventually(t, 60*time.Second, "background results from the ConfigMap", func() (bool, string) {
		results := reportEntries(ctx, t, env.Client, "ctx-cm")
		want := []string{"Pod/quay cm-registry/registry pass", "Pod/ghcr cm-registry/registry fail"}
		for _, w := range want {
			if !slices.Contains(results, w) {
				return false, fmt.Sprintf("results %v, want %v", results, want)
			}
		}
		return true, ""
	})
}

func imagePodIn(ns, name, image string) *corev1.Pod {
	p := imagePod(name, image)
	p.Namespace = ns
	return p
}
