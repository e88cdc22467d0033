package admission

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/mutate"
	"github.com/portcullis/portcullis/internal/policy"
	"sigs.k8s.io/yaml"
)

const defaultsPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: pod-defaults}
spec:
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata: {labels: {+(team): platform}}
  - name: pull-policy
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        spec:
          containers:
          - (image): "*:latest"
            imagePullPolicy: Always
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: team label required
      pattern: {metadata: {labels: {team: "?*"}}}
`

// As Kyverno's webhook does, /mutate returns the JSON patch of every
// matching mutate rule in policy order, and /validate judges the object
// the API server sends it, which is the mutated one.
func TestMutateRulesAtAdmission(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(defaultsPolicy), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(set)})
	srv := newTLSServer(t, h)
	resp := admit(t, srv, PathMutate, reviewReq{uid: "m-2", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	if !resp.Allowed || resp.Patch == nil || resp.PatchType == nil || *resp.PatchType != "JSONPatch" {
		t.Fatalf("mutate response = %+v", resp)
	}
	var pod map[string]any
	if err := yaml.Unmarshal([]byte(privilegedPod), &pod); err != nil {
		t.Fatal(err)
	}
	mutated, err := mutate.ApplyJSONPatch(pod, resp.Patch)
	if err != nil {
		t.Fatalf("patch %s: %v", resp.Patch, err)
	}
	if got := mutated["metadata"].(map[string]any)["labels"].(map[string]any)["team"]; got != "platform" {
		t.Fatalf("mutated labels: %v (patch %s)", mutated["metadata"], resp.Patch)
	}
	// The pod as written is denied by the validate rule; the mutated pod
	// is admitted.
	if resp := admit(t, srv, PathValidate, reviewReq{uid: "v-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod}); resp.Allowed {
		t.Fatalf("unmutated pod admitted: %+v", resp)
	}
	obj, err := json.Marshal(mutated)
	if err != nil {
		t.Fatal(err)
	}
	if resp := admit(t, srv, PathValidate, reviewReq{uid: "v-2", kind: "Pod", namespace: "ops", name: "debugger", object: string(obj)}); !resp.Allowed {
		t.Fatalf("mutated pod denied: %+v", resp.Result)
	}
}

// Kyverno blocks a request whose mutate rule errors, unless the policy's
// failurePolicy is Ignore (then it warns).
func TestMutateErrorFollowsFailurePolicy(t *testing.T) {
	t.Parallel()
	const broken = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken-defaults}
spec:
  failurePolicy: FAILURE
  rules:
  - name: from-missing
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge:
        metadata: {labels: {team: "{{ missing.value }}"}}
`
	for _, tc := range []struct {
		failure string
		allowed bool
	}{{"Fail", false}, {"Ignore", true}} {
		set, err := policy.LoadBytes("p.yaml", []byte(strings.ReplaceAll(broken, "FAILURE", tc.failure)), policy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := newTLSServer(t, newHandler(t, HandlerOptions{Policies: NewAtomicSource(set)}))
		resp := admit(t, srv, PathMutate, reviewReq{uid: "m-3", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
		if resp.Allowed != tc.allowed || resp.Patch != nil {
			t.Errorf("failurePolicy %s: mutate response = %+v", tc.failure, resp)
		}
		if tc.allowed && len(resp.Warnings) == 0 {
			t.Errorf("failurePolicy Ignore: no warning for the error")
		}
	}
}
