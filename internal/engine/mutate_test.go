package engine

import (
	"strings"
	"testing"
)

const mutatePolicies = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: defaults}
spec:
  rules:
  - name: add-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata: {labels: {team: core}}
  - name: copy-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata: {annotations: {team: "{{ request.object.metadata.labels.team }}"}}
  - name: skip-when-db
    match: {any: [{resources: {kinds: [Pod]}}]}
    preconditions: {all: [{key: "{{ request.object.metadata.name }}", operator: Equals, value: db}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {db: "yes"}}}
  - name: env-per-container
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
        patchesJson6902: |-
          - op: add
            path: /spec/containers/{{elementIndex}}/env
            value: [{name: IMAGE, value: "{{ element.image }}"}]
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: check}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-label
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: team label required
      pattern: {metadata: {labels: {team: "?*"}}}
`

const mutatePod = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - {name: a, image: "nginx:1"}
  - {name: b, image: "redis:2"}
`

// Kyverno applies mutate rules in policy order, each to the resource as
// the rules before it left it (request.object included), and a rule whose
// preconditions do not hold is skipped.
func TestMutateRulesInOrder(t *testing.T) {
	set := loadSet(t, mutatePolicies)
	obj := resource(t, mutatePod)
	results := evaluate(t, set, Input{Resource: obj, Phase: PhaseMutate})
	if got := byRule(t, results, "add-label"); got.Status != StatusPass || got.JSONPatch == "" {
		t.Fatalf("add-label = %+v", got)
	}
	if got := byRule(t, results, "skip-when-db"); got.Status != StatusSkip {
		t.Fatalf("skip-when-db = %+v", got)
	}
	for _, r := range results {
		if r.Rule == "team-label" {
			t.Fatalf("validate rule evaluated in PhaseMutate: %+v", r)
		}
	}
	out, err := Mutated(obj, results)
	if err != nil {
		t.Fatal(err)
	}
	meta := out["metadata"].(map[string]any)
	if meta["annotations"].(map[string]any)["team"] != "core" {
		t.Fatalf("copy-label did not see add-label's change: %v", meta)
	}
	containers := out["spec"].(map[string]any)["containers"].([]any)
	for i, want := range []string{"nginx:1", "redis:2"} {
		env := containers[i].(map[string]any)["env"].([]any)[0].(map[string]any)
		if env["value"] != want {
			t.Errorf("container %d env = %v, want %s", i, env, want)
		}
	}
	if _, ok := obj["metadata"].(map[string]any)["labels"]; ok {
		t.Fatal("the input object was modified")
	}
	// Decide hands every operation to the webhook.
	d := Decide(set, results)
	if len(d.Patches) < 4 {
		t.Fatalf("Decide patches = %+v", d.Patches)
	}
}

// Offline (scan, test) Kyverno validates the mutated resource.
func TestPhaseScanValidatesMutatedObject(t *testing.T) {
	set := loadSet(t, mutatePolicies)
	results := evaluate(t, set, Input{Resource: resource(t, mutatePod), Phase: PhaseScan})
	if got := byRule(t, results, "team-label"); got.Status != StatusPass {
		t.Fatalf("team-label on the mutated pod = %+v", got)
	}
	results = evaluate(t, set, Input{Resource: resource(t, mutatePod), Phase: PhaseValidate})
	if got := byRule(t, results, "team-label"); got.Status != StatusFail {
		t.Fatalf("team-label on the pod as written = %+v", got)
	}
}

// Kyverno's foreach applies patchesJson6902 in list order by default and
// in reverse with order: Descending; elementIndex is the element's own
// index either way.
func TestForEachMutateOrder(t *testing.T) {
	policy := func(order string) string {
		return `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: order}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
` + order + `
        patchesJson6902: |-
          - op: add
            path: /metadata/finalizers/-
            value: "{{ element.name }}"
          - op: add
            path: /spec/containers/{{ elementIndex }}/args
            value: ["{{ element.name }}"]
`
	}
	for _, tc := range []struct{ order, want string }{{"", "a,b"}, {"        order: Ascending", "a,b"}, {"        order: Descending", "b,a"}} {
		set := loadSet(t, policy(tc.order))
		obj := resource(t, mutatePod)
		results := evaluate(t, set, Input{Resource: obj, Phase: PhaseMutate})
		if r := only(t, results); r.Status != StatusPass {
			t.Fatalf("%q: %+v", tc.order, r)
		}
		out, err := Mutated(obj, results)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range out["metadata"].(map[string]any)["finalizers"].([]any) {
			got = append(got, f.(string))
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%q: order %v, want %s", tc.order, got, tc.want)
		}
		for _, c := range out["spec"].(map[string]any)["containers"].([]any) {
			cm := c.(map[string]any)
			if cm["args"].([]any)[0] != cm["name"] {
				t.Errorf("%q: container %v got the args of another element", tc.order, cm)
			}
		}
	}
}

// A mutate rule is skipped when its anchor does not hold (Kyverno's
// conditional anchor), and it mutates nothing in background evaluation.
func TestMutateSkips(t *testing.T) {
	set := loadSet(t, `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: anchors}
spec:
  rules:
  - name: only-db
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata:
          labels:
            (app): db
            tier: data
`)
	r := only(t, evaluate(t, set, Input{Resource: resource(t, mutatePod), Phase: PhaseMutate}))
	if r.Status != StatusSkip || r.JSONPatch != "" {
		t.Fatalf("result = %+v", r)
	}
	if got := evaluate(t, set, Input{Resource: resource(t, mutatePod), Phase: PhaseMutate, Background: true}); len(got) != 0 {
		t.Fatalf("background results = %+v", got)
	}
}
