package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/jmespath"
)

const clusterContextPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ctx}
spec:
  validationFailureAction: Enforce
  rules:
  - name: registry-from-configmap
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: settings
      configMap: {name: settings, namespace: "{{ request.namespace }}"}
    validate:
      message: "registry {{ settings.data.registry }} only"
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: NotEquals
            value: "{{ settings.data.registry }}/*"
  - name: pod-count
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: pods
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/pods"
        jmesPath: "items | length(@)"
    validate:
      message: "{{ pods }} pods already"
      deny:
        conditions:
          any:
          - {key: "{{ pods }}", operator: GreaterThanOrEquals, value: 2}
  - name: missing-with-default
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: quota
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/configmaps/quota"
        jmesPath: "data.max"
        default: "5"
    validate:
      message: "quota {{ quota }}"
      deny:
        conditions:
          any:
          - {key: "{{ quota }}", operator: NotEquals, value: "5"}
`

func TestClusterContextEntries(t *testing.T) {
	set := loadSet(t, clusterContextPolicy)
	pod := func(name, image string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": "shop"},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}}}
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "namespace": "shop"},
		"data": map[string]any{"registry": "ghcr.io"}}
	store, err := cel.NewMemoryResources(cm, pod("a", "x"))
	if err != nil {
		t.Fatal(err)
	}
	results := evaluate(t, set, Input{Resource: pod("new", "docker.io/nginx"), Cluster: store})
	if r := byRule(t, results, "registry-from-configmap"); r.Status != StatusFail || !strings.Contains(r.Message, "registry ghcr.io only") {
		t.Errorf("configMap rule: %s %q, want fail naming ghcr.io", r.Status, r.Message)
	}
	if r := byRule(t, results, "pod-count"); r.Status != StatusPass {
		t.Errorf("pod-count with 1 pod: %s %q, want pass", r.Status, r.Message)
	}
	if r := byRule(t, results, "missing-with-default"); r.Status != StatusPass {
		t.Errorf("missing object with a default: %s %q, want pass", r.Status, r.Message)
	}

	// Two Pods: the apiCall count denies.
	store2, _ := cel.NewMemoryResources(cm, pod("a", "x"), pod("b", "y"))
	results = evaluate(t, set, Input{Resource: pod("new", "ghcr.io/app"), Cluster: store2})
	if r := byRule(t, results, "pod-count"); r.Status != StatusFail || !strings.Contains(r.Message, "2 pods already") {
		t.Errorf("pod-count with 2 pods: %s %q, want fail", r.Status, r.Message)
	}
	if r := byRule(t, results, "registry-from-configmap"); r.Status != StatusPass {
		t.Errorf("configMap rule, allowed registry: %s %q", r.Status, r.Message)
	}

	// No ConfigMap: an error result (Kyverno: configMap entries have no
	// default), never an evaluation against nothing.
	empty, _ := cel.NewMemoryResources()
	results = evaluate(t, set, Input{Resource: pod("new", "ghcr.io/app"), Cluster: empty})
	if r := byRule(t, results, "registry-from-configmap"); r.Status != StatusError || !strings.Contains(r.Message, "configmap shop/settings") {
		t.Errorf("missing ConfigMap: %s %q, want an error naming it", r.Status, r.Message)
	}
	if d := Decide(set, results); d.Allowed {
		t.Error("missing ConfigMap under Enforce: admitted")
	}

	// Offline (no cluster): the entries are left to values, as before.
	results = evaluate(t, set, Input{Resource: pod("new", "ghcr.io/app")})
	if r := byRule(t, results, "registry-from-configmap"); r.Status == StatusPass {
		t.Errorf("offline without values: %s, want no pass", r.Status)
	}
}

func TestParseAPIPath(t *testing.T) {
	ok := map[string]APIPath{
		"/api/v1/namespaces/shop/pods":                  {APIVersion: "v1", Resource: "pods", Namespace: "shop"},
		"/api/v1/namespaces/shop/configmaps/x":          {APIVersion: "v1", Resource: "configmaps", Namespace: "shop", Name: "x"},
		"/api/v1/namespaces":                            {APIVersion: "v1", Resource: "namespaces"},
		"/api/v1/namespaces/shop":                       {APIVersion: "v1", Resource: "namespaces", Name: "shop"},
		"/apis/apps/v1/namespaces/shop/deployments/web": {APIVersion: "apps/v1", Resource: "deployments", Namespace: "shop", Name: "web"},
		"/apis/apps/v1/deployments":                     {APIVersion: "apps/v1", Resource: "deployments"},
	}
	for p, want := range ok {
		got, err := ParseAPIPath(p)
		if err != nil || got != want {
			t.Errorf("ParseAPIPath(%q) = %+v, %v; want %+v", p, got, err, want)
		}
	}
	for _, p := range []string{"/api/v1/pods?labelSelector=a", "/healthz", "/api/v1/namespaces/shop/pods/x/log", "https://x/api/v1/pods", "/api/v1/namespaces/{{x}}/pods"} {
		if got, err := ParseAPIPath(p); err == nil {
			t.Errorf("ParseAPIPath(%q) = %+v, want an error", p, got)
		}
	}
}

// TestContextVariableUnderRequestContext: a variable entry's jmesPath over
// its value runs under the request's context: a hostile query (2^40
// elements) stops at the deadline even with an unbounded cost budget.
func TestContextVariableUnderRequestContext(t *testing.T) {
	set := loadSet(t, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: hostile}
spec:
  validationFailureAction: Enforce
  rules:
  - name: explode
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: big
      variable:
        value: [1, 2]
        jmesPath: "length([@, @][]`+strings.Repeat(".[@, @][]", 40)+`)"
    validate:
      message: never
      deny: {conditions: {any: [{key: "{{ big }}", operator: Equals, value: -1}]}}
`)
	eng := New(WithInterpreter(jmespath.New(jmespath.WithMaxCost(1 << 62))))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan []Result, 1)
	go func() {
		results, _ := eng.Evaluate(ctx, set, Input{Resource: resource(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: x}]}\n")})
		done <- results
	}()
	select {
	case results := <-done:
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("took %v past a 300 ms deadline", elapsed)
		}
		for _, r := range results {
			if r.Status == StatusPass {
				t.Errorf("hostile rule passed: %+v", r)
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the hostile context variable ignored the request's deadline")
	}
}
