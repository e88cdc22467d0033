package engine

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

const mutateExistingPolicies = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: label-existing
spec:
  rules:
  - name: label-secrets
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [trigger-*]
    preconditions:
      all:
      - key: "{{request.object.data.enabled || ''}}"
        operator: Equals
        value: "yes"
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        namespace: "{{request.object.metadata.namespace}}"
        name: "app-*"
        context:
        - name: suffix
          variable:
            value: "-seen"
        preconditions:
          all:
          - key: "{{target.metadata.labels.skip || ''}}"
            operator: NotEquals
            value: "yes"
      patchStrategicMerge:
        metadata:
          labels:
            triggered-by: "{{request.object.metadata.name}}"
            self: "{{target.metadata.name}}{{suffix}}"
  - name: on-delete
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [gone-*]
          operations: [DELETE]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        namespace: "{{request.object.metadata.namespace}}"
        selector:
          matchLabels: {watch: "true"}
      patchesJson6902: |-
        - op: add
          path: /data/deleted
          value: "{{request.object.metadata.name}}"
  - name: not-on-delete
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          names: [gone-*]
    mutate:
      targets:
      - apiVersion: v1
        kind: ConfigMap
        namespace: "{{request.object.metadata.namespace}}"
      patchStrategicMerge:
        metadata:
          labels:
            touched: "yes"
`

// TestMutateExisting checks Kyverno's mutate-existing semantics
// (mutate.targets): the rule's preconditions on the trigger, target
// fields with variables and a wildcard name, the target's own context and
// preconditions reading the `target` variable, one result per patched
// target with the patched object, targets the patch does not change
// dropped; on DELETE the trigger is the deleted object and only a rule
// whose match names DELETE applies (Kyverno's MatchDeleteOperation),
// with targets selected by a label selector.
func TestMutateExisting(t *testing.T) {
	set := loadSet(t, mutateExistingPolicies)
	store := generateStore(t, `
apiVersion: v1
kind: Secret
metadata: {name: app-one, namespace: team, resourceVersion: "5"}
`, `
apiVersion: v1
kind: Secret
metadata: {name: app-two, namespace: team, labels: {skip: "yes"}}
`, `
apiVersion: v1
kind: Secret
metadata: {name: app-three, namespace: team, labels: {triggered-by: trigger-a, self: app-three-seen}}
`, `
apiVersion: v1
kind: Secret
metadata: {name: app-one, namespace: other}
`, `
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: team}
`, `
apiVersion: v1
kind: ConfigMap
metadata: {name: watched, namespace: team, labels: {watch: "true"}}
data: {a: b}
`)
	trigger := resource(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: trigger-a, namespace: team}
data: {enabled: "yes"}
`)
	results := evaluate(t, set, Input{Resource: trigger, Phase: PhaseMutateExisting, Resources: store})
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1 (app-one): %+v", len(results), results)
	}
	r := results[0]
	if r.Status != StatusPass || r.Rule != "label-secrets" || r.Target.Name != "app-one" || r.Target.Namespace != "team" || r.Resource.Name != "trigger-a" {
		t.Fatalf("result = %+v", r)
	}
	var patched map[string]any
	if err := json.Unmarshal([]byte(r.Patched), &patched); err != nil {
		t.Fatal(err)
	}
	meta := patched["metadata"].(map[string]any)
	if got := meta["labels"]; !equalJSON(got, map[string]any{"triggered-by": "trigger-a", "self": "app-one-seen"}) {
		t.Errorf("patched labels = %v", got)
	}
	if meta["resourceVersion"] != "5" {
		t.Errorf("patched resourceVersion = %v, want the one read (5)", meta["resourceVersion"])
	}
	if !strings.Contains(r.JSONPatch, "/metadata/labels") {
		t.Errorf("JSONPatch = %s", r.JSONPatch)
	}

	// Rule preconditions on the trigger.
	off := resource(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: trigger-b, namespace: team}
data: {enabled: "no"}
`)
	results = evaluate(t, set, Input{Resource: off, Phase: PhaseMutateExisting, Resources: store})
	if len(results) != 1 || results[0].Status != StatusSkip || results[0].Target != (Resource{}) {
		t.Fatalf("preconditions not met: %+v", results)
	}

	// DELETE: only the rule matching DELETE explicitly.
	gone := resource(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: gone-1, namespace: team}
`)
	results = evaluate(t, set, Input{OldResource: gone, Operation: "DELETE", Phase: PhaseMutateExisting, Resources: store})
	if len(results) != 1 || results[0].Rule != "on-delete" || results[0].Target.Name != "watched" || results[0].Status != StatusPass {
		t.Fatalf("DELETE: %+v", results)
	}
	if !strings.Contains(results[0].Patched, `"deleted":"gone-1"`) {
		t.Errorf("DELETE patched = %s", results[0].Patched)
	}
	// CREATE of the same name: not-on-delete patches every ConfigMap of
	// the namespace (an empty name selects all), on-delete does not match.
	results = evaluate(t, set, Input{Resource: gone, Operation: "CREATE", Phase: PhaseMutateExisting, Resources: store})
	var names []string
	for _, r := range results {
		if r.Rule != "not-on-delete" || r.Status != StatusPass {
			t.Errorf("CREATE: unexpected %+v", r)
		}
		names = append(names, r.Target.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "watched" {
		t.Errorf("CREATE targets = %v, want [watched] (the store holds one ConfigMap in team)", names)
	}

	// Not in the admission phases.
	for _, ph := range []Phase{PhaseMutate, PhaseScan} {
		for _, r := range evaluate(t, set, Input{Resource: trigger, Phase: ph, Resources: store}) {
			if r.Target != (Resource{}) || r.Patched != "" {
				t.Errorf("phase %d: mutate-existing result %+v", ph, r)
			}
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
