package kyvernotest

import (
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

// A test of a MutatingPolicy (or MutatingAdmissionPolicy) is counted in
// its own class now that the kind loads, not as "validate".
func TestClassifyMutatingPolicies(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		`apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: m}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  mutations: [{patchType: JSONPatch, jsonPatch: {expression: "[JSONPatch{op: 'add', path: '/metadata/labels', value: {}}]"}}]
`: "MutatingPolicy",
		`apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: m}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  reinvocationPolicy: Never
  mutations: [{patchType: JSONPatch, jsonPatch: {expression: "[JSONPatch{op: 'add', path: '/metadata/labels', value: {}}]"}}]
`: "MutatingAdmissionPolicy",
	} {
		set, err := policy.LoadBytes("p.yaml", []byte(doc), policy.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := classify(set); got != want {
			t.Errorf("classify = %q, want %q", got, want)
		}
	}
}
