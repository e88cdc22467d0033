package engine

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

// benchVPol is a corpus-style ValidatingPolicy (requests/limits with a
// variable), compiled once by policy.LoadBytes outside the timed loop.
const benchVPol = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: require-requests-limits}
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  variables:
  - name: allContainers
    expression: "object.spec.containers + object.spec.?initContainers.orValue([]) + object.spec.?ephemeralContainers.orValue([])"
  validations:
  - expression: >-
      variables.allContainers.all(c, has(c.resources) && has(c.resources.requests) &&
      has(c.resources.requests.memory) && has(c.resources.requests.cpu) &&
      has(c.resources.limits) && has(c.resources.limits.memory))
    message: CPU and memory requests and memory limits are required.
  - expression: "object.spec.containers.all(c, !c.image.endsWith(':latest'))"
    message: the latest tag is not allowed.
`

// BenchmarkValidatingPolicyPod evaluates a loaded ValidatingPolicy (and,
// for comparison, the same policy as a validate.cel ClusterPolicy rule) on
// one Pod through Engine.Evaluate. No CEL compilation happens in the loop:
// compare with BenchmarkValidatingPolicyLoad, which loads and compiles.
func BenchmarkValidatingPolicyPod(b *testing.B) {
	set, err := policy.LoadBytes("bench.yaml", []byte(benchVPol), policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pod := celPod("p", "default", map[string]any{"app": "x"}, "ghcr.io/org/app:1.2", "ghcr.io/org/sidecar:3")
	for _, c := range pod["spec"].(map[string]any)["containers"].([]any) {
		c.(map[string]any)["resources"] = map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "64Mi"},
			"limits":   map[string]any{"memory": "128Mi"},
		}
	}
	eng := New()
	ctx := context.Background()
	results, err := eng.Evaluate(ctx, set, Input{Resource: pod})
	if err != nil || len(results) != 1 || results[0].Status != StatusPass {
		b.Fatalf("setup: results %+v, err %v", results, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eng.Evaluate(ctx, set, Input{Resource: pod}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidatingPolicyLoad loads and compiles the same policy (the
// work done once per policy change, never per request).
func BenchmarkValidatingPolicyLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.LoadBytes("bench.yaml", []byte(benchVPol), policy.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
