package engine_test

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
)

func ExampleEngine_Evaluate() {
	set, err := policy.LoadBytes("policy.yaml", []byte(`
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team-label
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    validate:
      message: "ConfigMap {{ request.object.metadata.name }} needs a team label"
      pattern:
        metadata:
          labels:
            team: "?*"
`), policy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	configMap := func(name string, labels map[string]any) engine.Input {
		return engine.Input{Resource: map[string]any{
			"apiVersion": "v1",
			"kind":       "ConfigMap",
			"metadata":   map[string]any{"name": name, "namespace": "default", "labels": labels},
		}}
	}
	e := engine.New()
	for _, in := range []engine.Input{
		configMap("payments", map[string]any{"team": "payments"}),
		configMap("orphan", map[string]any{"app": "orphan"}),
	} {
		results, err := e.Evaluate(context.Background(), set, in)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range results {
			fmt.Printf("%s %s/%s on %s (enforce=%v): %s\n", r.Status, r.Policy, r.Rule, r.Resource, r.Enforce, r.Message)
		}
	}
	// Output:
	// pass require-team-label/check-team on ConfigMap/default/payments (enforce=true): validation rule 'check-team' passed.
	// fail require-team-label/check-team on ConfigMap/default/orphan (enforce=true): validation error: ConfigMap orphan needs a team label. rule check-team failed at path /metadata/labels/team/
}
