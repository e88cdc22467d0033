package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
)

// evalMutating runs the mutating handler on obj as a CREATE.
func evalMutating(t *testing.T, set *policy.Set, in Input) ([]Result, map[string]any) {
	t.Helper()
	req := newRequest(in.Resource, &in)
	cin := celInput(&in, req)
	return New().evalMutatingPolicies(context.Background(), set, &in, req, &cin)
}

func mustLoad(t *testing.T, doc string) *policy.Set {
	t.Helper()
	set, err := policy.LoadBytes("policy.yaml", []byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// applyResult applies a result's JSONPatch to obj.
func applyResult(t *testing.T, obj map[string]any, r Result) map[string]any {
	t.Helper()
	if r.JSONPatch == "" {
		return obj
	}
	p, err := jsonpatch.DecodePatch([]byte(r.JSONPatch))
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(obj)
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("patch of %s does not apply to the object it received: %v", r.Policy, err)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return m
}

const mpolChain = `apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: a-labels}
spec:
  failurePolicy: %s
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  matchConditions:
  - {name: not-skipped, expression: "!has(object.metadata.labels) || !('skip' in object.metadata.labels)"}
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: |
        has(object.metadata.labels) ? [JSONPatch{op: "add", path: "/metadata/labels/team", value: "a"}]
          : [JSONPatch{op: "add", path: "/metadata/labels", value: {"team": "a"}}]
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "add", path: "/metadata/annotations", value: {"n": string(int(object.spec.priority) * 2)}}]'
---
apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: b-security}
spec:
  autogen: {podControllers: {controllers: []}}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"seen-team": object.metadata.labels.team}}, spec: Object.spec{securityContext: Object.spec.securityContext{runAsNonRoot: true}}}'
  auditAnnotations:
  - {key: root, valueExpression: 'string(object.spec.securityContext.runAsNonRoot)'}
`

func mpolPod(labels map[string]any, n any) map[string]any {
	meta := map[string]any{"name": "p", "namespace": "default"}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"priority": n, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}
}

func TestMutatingPoliciesChainInOrder(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, fmt.Sprintf(mpolChain, "Fail"))
	obj := mpolPod(nil, float64(21))
	results, final := evalMutating(t, set, Input{Resource: obj})
	if len(results) != 2 {
		t.Fatalf("got %d results: %+v", len(results), results)
	}
	// b-security sees the label a-labels added: policies chain in order.
	if got := final["metadata"].(map[string]any)["labels"].(map[string]any)["seen-team"]; got != "a" {
		t.Errorf("seen-team = %v, want a", got)
	}
	if got := final["metadata"].(map[string]any)["annotations"].(map[string]any)["n"]; got != "42" {
		t.Errorf("annotation n = %v, want 42", got)
	}
	// Each result's patch leads from the object it received to the next.
	cur := obj
	for _, r := range results {
		if r.Status != StatusPass || r.PolicyKind != KindMutatingPolicy || !r.Enforce || r.JSONPatch == "" {
			t.Errorf("result %+v", r)
		}
		cur = applyResult(t, cur, r)
	}
	if !reflect.DeepEqual(cur, final) {
		t.Errorf("patches compose to\n%v\nwant\n%v", cur, final)
	}
	if _, ok := obj["spec"].(map[string]any)["securityContext"]; ok {
		t.Error("the input object was modified")
	}
	// Audit annotations are evaluated on the patched object.
	if got := results[1].AuditAnnotations; got != `{"b-security/root":"true"}` {
		t.Errorf("audit annotations = %s", got)
	}
}

func TestMutatingPolicyConditionsAndFailurePolicy(t *testing.T) {
	t.Parallel()
	// matchConditions false: no result from a-labels; b-security fails
	// without the label (no such key) and, under Fail, fails and leaves
	// the object alone.
	set := mustLoad(t, fmt.Sprintf(mpolChain, "Fail"))
	results, final := evalMutating(t, set, Input{Resource: mpolPod(map[string]any{"skip": "yes"}, float64(1))})
	if len(results) != 1 || results[0].Policy != "b-security" || results[0].Status != StatusFail || !strings.Contains(results[0].Message, "no such key") {
		t.Fatalf("results = %+v", results)
	}
	if _, ok := final["spec"].(map[string]any)["securityContext"]; ok {
		t.Error("a failed policy changed the object")
	}
	// A runtime error under failurePolicy Ignore is a skip with the
	// reason, and the object is left as it was.
	set = mustLoad(t, fmt.Sprintf(mpolChain, "Ignore"))
	results, _ = evalMutating(t, set, Input{Resource: mpolPod(nil, "not a number")})
	if len(results) < 1 || results[0].Policy != "a-labels" || results[0].Status != StatusSkip || results[0].Enforce ||
		!strings.Contains(results[0].Message, "failurePolicy Ignore") || results[0].JSONPatch != "" {
		t.Fatalf("results = %+v", results)
	}
	// Background evaluation skips policies with background disabled.
	set = mustLoad(t, strings.Replace(fmt.Sprintf(mpolChain, "Fail"), "  autogen: {podControllers: {controllers: []}}\n", "  autogen: {podControllers: {controllers: []}}\n  evaluation: {background: {enabled: false}}\n", 1))
	results, _ = evalMutating(t, set, Input{Resource: mpolPod(nil, float64(1)), Background: true})
	if len(results) != 1 || results[0].Policy != "a-labels" {
		t.Fatalf("background results = %+v", results)
	}
}

func TestMutatingPolicyAutogenOnDeployment(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, `apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: runtime-class}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{spec: Object.spec{runtimeClassName: "prod"}}'
`)
	deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "d", "namespace": "default"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"a": "b"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}}}
	results, final := evalMutating(t, set, Input{Resource: deploy})
	if len(results) != 1 || results[0].Rule != "autogen-runtime-class" || !results[0].Autogen {
		t.Fatalf("results = %+v", results)
	}
	tmpl := final["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	if tmpl["runtimeClassName"] != "prod" {
		t.Errorf("template spec = %v", tmpl)
	}
}

const mapPolicy = `apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: team-label}
spec:
  failurePolicy: %s
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"team": params.data.team}}}'
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: team-binding}
spec:
  policyName: team-label
  paramRef: {name: %s, namespace: default, parameterNotFoundAction: %s}
`

func TestMutatingAdmissionPolicyParams(t *testing.T) {
	t.Parallel()
	store, err := cel.NewMemoryResources(
		map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "teams", "namespace": "default"}, "data": map[string]any{"team": "blue"}},
		map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "empty", "namespace": "default"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, failurePolicy, param, notFound string
		want                                 Status // "" means no result
		msg, team                            string
	}{
		{"applies", "Fail", "teams", "Deny", StatusPass, "applied", "blue"},
		{"missing params denied", "Fail", "absent", "Deny", StatusFail, "no params found", ""},
		{"missing params allowed", "Fail", "absent", "Allow", "", "", ""},
		{"error fails closed", "Fail", "empty", "Deny", StatusFail, "failed to apply mutations", ""},
		{"error ignored", "Ignore", "empty", "Deny", StatusSkip, "failurePolicy Ignore", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := mustLoad(t, fmt.Sprintf(mapPolicy, tc.failurePolicy, tc.param, tc.notFound))
			results, final := evalMutating(t, set, Input{Resource: mpolPod(nil, float64(1)), Resources: store})
			if tc.want == "" {
				if len(results) != 0 {
					t.Fatalf("results = %+v, want none", results)
				}
				return
			}
			if len(results) != 1 || results[0].Status != tc.want || !strings.Contains(results[0].Message, tc.msg) ||
				results[0].PolicyKind != KindMutatingAdmissionPolicy || results[0].Rule != "team-binding" {
				t.Fatalf("results = %+v, want %s %q", results, tc.want, tc.msg)
			}
			labels, _ := final["metadata"].(map[string]any)["labels"].(map[string]any)
			if got, _ := labels["team"].(string); got != tc.team {
				t.Errorf("team label = %q, want %q", got, tc.team)
			}
		})
	}
}

func TestMutatingPoliciesHandler(t *testing.T) {
	t.Parallel()
	set := mustLoad(t, fmt.Sprintf(mpolChain, "Fail"))
	in := Input{Resource: mpolPod(nil, float64(1)), Operation: "CREATE"}
	ev := &evaluation{set: set, in: &in, req: newRequest(in.Resource, &in)}
	out, err := mutatingPolicies{}.evaluate(context.Background(), New(), ev)
	if err != nil || len(out) != 2 {
		t.Fatalf("results %+v, err %v", out, err)
	}
	// Nothing to mutate on DELETE.
	in = Input{OldResource: mpolPod(nil, float64(1)), Operation: "DELETE"}
	ev = &evaluation{set: set, in: &in, req: newRequest(in.OldResource, &in)}
	if out, _ := (mutatingPolicies{}).evaluate(context.Background(), New(), ev); len(out) != 0 {
		t.Fatalf("DELETE results %+v", out)
	}
}
