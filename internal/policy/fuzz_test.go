package policy

import (
	"errors"
	"testing"
)

// FuzzLoadBytes compiles arbitrary policy documents of every kind
// (ClusterPolicy, Policy, ValidatingPolicy, ValidatingAdmissionPolicy and
// bindings, ClusterImagePolicy): no panic, every refusal a located
// *Error / Errors, and a compiled set consistent with itself.
//
//	go test -run '^$' -fuzz '^FuzzLoadBytes$' -fuzztime 5m ./internal/policy/
func FuzzLoadBytes(f *testing.F) {
	f.Add([]byte(goodPolicy("p")))
	f.Add([]byte(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p, annotations: {pod-policies.kyverno.io/autogen-controllers: "Deployment,CronJob"}}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod], selector: {matchLabels: {"a": "{{b}}"}}}}]}
    context: [{name: c, variable: {jmesPath: "request.object.metadata.labels | keys(@)", default: []}}]
    preconditions: {all: [{key: "{{ length(c) }}", operator: GreaterThan, value: 0}]}
    validate:
      foreach: [{list: "request.object.spec.containers", deny: {conditions: {any: [{key: "{{element.image}}", operator: AnyIn, value: ["*:latest"]}]}}}]
  - name: pss
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {podSecurity: {level: restricted, version: latest, exclude: [{controlName: Capabilities, images: ["*"]}]}}
`))
	f.Add([]byte(`apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: v}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
  variables: [{name: x, expression: "object.spec.containers.map(c, c.image)"}]
  validations: [{expression: "variables.x.all(i, !i.endsWith(':latest'))", messageExpression: "'bad ' + string(variables.x)"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: a}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints: {resourceRules: [{apiGroups: [apps], apiVersions: [v1], operations: ["*"], resources: ["*/scale"]}]}
  validations: [{expression: "object.spec.replicas <= params.data.max"}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec: {policyName: a, validationActions: [Deny, Audit], paramRef: {selector: {matchExpressions: [{key: k, operator: In, values: []}]}}}
`))
	f.Add([]byte("kind: ClusterPolicy\nspec: {rules: [{name: \"\", validate: {pattern: {spec: {=(x): \"<{{y}}\"}}}}]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := LoadBytes("fuzz.yaml", data, Options{})
		if err != nil {
			var es Errors
			var e *Error
			if !errors.As(err, &es) && !errors.As(err, &e) {
				// Unreadable YAML is reported by the manifest reader.
				if set != nil && set.Len() > 0 {
					t.Fatalf("error %T %v returned with %d policies", err, err, set.Len())
				}
			}
			return
		}
		if set == nil {
			t.Fatal("nil set without an error")
		}
		n := 0
		for _, p := range set.Policies {
			n += len(p.Rules)
		}
		if n > set.NumRules() {
			t.Fatalf("%d rules in policies, NumRules %d", n, set.NumRules())
		}
	})
}
