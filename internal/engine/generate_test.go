package engine

import (
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/cel"
)

const generatePolicies = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ns-defaults
spec:
  rules:
  - name: netpol
    match:
      any:
      - resources:
          kinds: [Namespace]
    preconditions:
      all:
      - key: "{{request.object.metadata.labels.skip || ''}}"
        operator: NotEquals
        value: "yes"
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data:
        metadata:
          labels:
            team: "{{request.object.metadata.labels.team}}"
        spec:
          podSelector: {}
          policyTypes: [Ingress]
  - name: clone-cm
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      apiVersion: v1
      kind: ConfigMap
      name: settings
      namespace: "{{request.object.metadata.name}}"
      clone:
        namespace: default
        name: settings-source
  - name: clone-list
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      namespace: "{{request.object.metadata.name}}"
      cloneList:
        namespace: default
        kinds: [v1/Secret]
        selector:
          matchLabels:
            copy: "true"
  - name: per-port
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
      foreach:
      - list: "request.object.metadata.annotations.ports | split(@, ',')"
        apiVersion: v1
        kind: ConfigMap
        name: "port-{{element}}"
        namespace: "{{request.object.metadata.name}}"
        data:
          data:
            port: "{{element}}"
`

func generateStore(t *testing.T, objs ...string) *cel.MemoryResources {
	t.Helper()
	var decoded []map[string]any
	for _, o := range objs {
		decoded = append(decoded, resource(t, o))
	}
	m, err := cel.NewMemoryResources(decoded...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGenerateRules checks Kyverno's generate semantics on one Namespace
// trigger: data with variables substituted (name, namespace, labels in
// data.metadata), clone of one source (server-owned metadata and status
// dropped, labels kept, Kyverno's source-* labels added), cloneList filtered by its selector (same name
// in the target namespace) and foreach over a list with the element.
func TestGenerateRules(t *testing.T) {
	set := loadSet(t, generatePolicies)
	store := generateStore(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings-source, namespace: default, uid: abc, resourceVersion: "7", labels: {a: b}}
data: {k: v}
`, `
apiVersion: v1
kind: Secret
metadata: {name: copied, namespace: default, labels: {copy: "true"}}
data: {x: eQ==}
`, `
apiVersion: v1
kind: Secret
metadata: {name: not-copied, namespace: default}
data: {x: eQ==}
`)
	ns := resource(t, `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {team: blue}
  annotations: {ports: "80,443"}
`)
	results := evaluate(t, set, Input{Resource: ns, Phase: PhaseGenerate, Resources: store})
	if len(results) != 4 {
		t.Fatalf("got %d results, want 4: %+v", len(results), results)
	}
	want := map[string][]map[string]any{
		"netpol": {{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
			"metadata": map[string]any{"name": "default-deny", "namespace": "team-a", "labels": map[string]any{"team": "blue"}},
			"spec":     map[string]any{"podSelector": map[string]any{}, "policyTypes": []any{"Ingress"}}}},
		"clone-cm": {{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "settings", "namespace": "team-a", "labels": map[string]any{"a": "b",
				LabelSourceGroup: "", LabelSourceVersion: "v1", LabelSourceKind: "ConfigMap", LabelSourceNamespace: "default", LabelSourceName: "settings-source"}},
			"data": map[string]any{"k": "v"}}},
		"clone-list": {{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "copied", "namespace": "team-a", "labels": map[string]any{"copy": "true",
				LabelSourceGroup: "", LabelSourceVersion: "v1", LabelSourceKind: "Secret", LabelSourceNamespace: "default", LabelSourceName: "copied"}},
			"data": map[string]any{"x": "eQ=="}}},
		"per-port": {
			{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "port-80", "namespace": "team-a"}, "data": map[string]any{"port": "80"}},
			{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "port-443", "namespace": "team-a"}, "data": map[string]any{"port": "443"}},
		},
	}
	for _, r := range results {
		if r.Status != StatusPass {
			t.Errorf("%s: status %s (%s), want pass", r.Rule, r.Status, r.Message)
			continue
		}
		got, err := r.GeneratedObjects()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want[r.Rule]) {
			t.Errorf("%s generated\n%v\nwant\n%v", r.Rule, got, want[r.Rule])
		}
	}

	// Preconditions not met: the rule is skipped and generates nothing.
	skip := resource(t, `{apiVersion: v1, kind: Namespace, metadata: {name: b, labels: {skip: "yes"}}}`)
	for _, r := range evaluate(t, set, Input{Resource: skip, Phase: PhaseGenerate, Resources: store}) {
		if r.Rule == "netpol" && (r.Status != StatusSkip || r.Generated != "") {
			t.Errorf("netpol on a skipped namespace: %s %q", r.Status, r.Generated)
		}
	}

	// A clone source that does not exist is an error, as in Kyverno.
	empty := generateStore(t)
	for _, r := range evaluate(t, set, Input{Resource: ns, Phase: PhaseGenerate, Resources: empty}) {
		if r.Rule == "clone-cm" && (r.Status != StatusError || !strings.Contains(r.Message, "not found")) {
			t.Errorf("clone-cm without its source: %s %q, want error not found", r.Status, r.Message)
		}
	}

	// The validate phase does not evaluate generate rules.
	if res := evaluate(t, set, Input{Resource: ns, Resources: store}); len(res) != 0 {
		t.Errorf("validate phase: %d results for generate rules, want none", len(res))
	}
}

// TestGeneratingPolicy checks generator.Apply: the objects passed to it
// are generated in the namespace given as its first argument.
func TestGeneratingPolicy(t *testing.T) {
	set := loadSet(t, `
apiVersion: policies.kyverno.io/v1alpha1
kind: GeneratingPolicy
metadata:
  name: pdb
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  matchConditions:
  - name: not-system
    expression: "object.metadata.namespace != 'kube-system'"
  variables:
  - name: name
    expression: "object.metadata.name + '-pdb'"
  generate:
  - expression: >-
      generator.Apply(object.metadata.namespace, [{"apiVersion": dyn("policy/v1"), "kind": dyn("PodDisruptionBudget"),
        "metadata": dyn({"name": variables.name}), "spec": dyn({"minAvailable": dyn(1), "selector": object.spec.selector})}])
`)
	dep := resource(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}}
`)
	results := evaluate(t, set, Input{Resource: dep, Phase: PhaseGenerate})
	if len(results) != 1 || results[0].Status != StatusPass || results[0].PolicyKind != KindGeneratingPolicy {
		t.Fatalf("results %+v, want one pass", results)
	}
	got, err := results[0].GeneratedObjects()
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
		"metadata": map[string]any{"name": "web-pdb", "namespace": "shop"},
		"spec":     map[string]any{"minAvailable": float64(1), "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("generated\n%v\nwant\n%v", got, want)
	}
	// matchConditions false: no result.
	sys := resource(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: kube-system}, spec: {}}`)
	if res := evaluate(t, set, Input{Resource: sys, Phase: PhaseGenerate}); len(res) != 0 {
		t.Errorf("kube-system: %+v, want no result", res)
	}
	// An UPDATE does not match operations [CREATE].
	if res := evaluate(t, set, Input{Resource: dep, Operation: "UPDATE", Phase: PhaseGenerate}); len(res) != 0 {
		t.Errorf("UPDATE: %+v, want no result", res)
	}
}
