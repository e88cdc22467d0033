package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
)

const vapPolicy = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas}
spec:
  failurePolicy: %s
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: "object.spec.replicas <= int(params.data.max)"
    message: too many replicas
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: b}
spec:
  policyName: replicas
  validationActions: [%s]
  paramRef: {name: %s, namespace: default, parameterNotFoundAction: %s}
`

func TestValidatingAdmissionPolicy(t *testing.T) {
	t.Parallel()
	store, err := cel.NewMemoryResources(
		map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "limits", "namespace": "default"}, "data": map[string]any{"max": "3"}},
		map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "broken", "namespace": "default"}, "data": map[string]any{"max": "three"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	deploy := func(replicas float64) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "d", "namespace": "default"}, "spec": map[string]any{"replicas": replicas}}
	}
	cases := []struct {
		name, failurePolicy, actions, param, notFound string
		replicas                                      float64
		want                                          Status // "" means no result
		msg                                           string
	}{
		{"within limit", "Fail", "Deny", "limits", "Deny", 2, StatusPass, "passed"},
		{"over limit denies", "Fail", "Deny", "limits", "Deny", 5, StatusFail, "too many replicas"},
		{"warn-only binding warns", "Fail", "Warn", "limits", "Deny", 5, StatusWarn, "too many replicas"},
		{"audit binding fails", "Fail", "Audit", "limits", "Deny", 5, StatusFail, "too many replicas"},
		{"missing params denied", "Fail", "Deny", "absent", "Deny", 2, StatusFail, "no params found"},
		{"missing params allowed", "Fail", "Deny", "absent", "Allow", 2, "", ""},
		{"evaluation error fails closed", "Fail", "Deny", "broken", "Deny", 2, StatusFail, ""},
		{"evaluation error ignored", "Ignore", "Deny", "broken", "Deny", 2, StatusSkip, "failurePolicy Ignore"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := fmt.Sprintf(vapPolicy, tc.failurePolicy, tc.actions, tc.param, tc.notFound)
			set, err := policy.LoadBytes("vap.yaml", []byte(doc), policy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			results, err := New().Evaluate(context.Background(), set, Input{Resource: deploy(tc.replicas), Resources: store})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(results) != 0 {
					t.Fatalf("results = %+v, want none", results)
				}
				return
			}
			if len(results) != 1 {
				t.Fatalf("results = %+v, want one", results)
			}
			r := results[0]
			if r.Status != tc.want || !strings.Contains(r.Message, tc.msg) || r.Policy != "replicas" || r.Rule != "b" {
				t.Fatalf("result = %+v, want %s containing %q", r, tc.want, tc.msg)
			}
		})
	}
}

func TestUnboundAdmissionPolicyDoesNothing(t *testing.T) {
	t.Parallel()
	doc := fmt.Sprintf(vapPolicy, "Fail", "Deny", "limits", "Deny")
	doc = doc[:strings.Index(doc, "---")]
	set, err := policy.LoadBytes("vap.yaml", []byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := New().Evaluate(context.Background(), set, Input{Resource: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "namespace": "default"}, "spec": map[string]any{"replicas": 50.0}}})
	if err != nil || len(results) != 0 {
		t.Fatalf("results = %+v, err = %v; an unbound policy must not apply", results, err)
	}
}

func TestAdmissionPolicyAuditAnnotations(t *testing.T) {
	t.Parallel()
	const doc = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
  - expression: "true"
  - expression: "object.spec.replicas <= 3"
    message: too many replicas
  auditAnnotations:
  - key: replicas
    valueExpression: "string(object.spec.replicas)"
  - key: empty
    valueExpression: "null"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: audit}
spec:
  policyName: replicas
  validationActions: [Audit, Warn]
`
	set, err := policy.LoadBytes("vap.yaml", []byte(doc), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(replicas float64) Decision {
		t.Helper()
		in := Input{Resource: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "d", "namespace": "default"}, "spec": map[string]any{"replicas": replicas}}}
		results, err := New().Evaluate(context.Background(), set, in)
		if err != nil || len(results) != 1 {
			t.Fatalf("results = %+v, %v", results, err)
		}
		return Decide(set, results)
	}
	d := eval(2)
	if !d.Allowed || d.AuditAnnotations["replicas/replicas"] != "2" || len(d.AuditAnnotations) != 1 {
		t.Fatalf("passing: allowed %v, audit annotations %v; want only replicas/replicas=2", d.Allowed, d.AuditAnnotations)
	}
	d = eval(5)
	if !d.Allowed {
		t.Fatalf("an Audit/Warn binding denied: %s", d.Message)
	}
	want := `[{"message":"too many replicas","policy":"replicas","binding":"audit","expressionIndex":1,"validationActions":["Audit","Warn"]}]`
	if got := d.AuditAnnotations[ValidationFailureAnnotation]; got != want {
		t.Fatalf("validation failure annotation = %s\nwant %s", got, want)
	}
	if d.AuditAnnotations["replicas/replicas"] != "5" {
		t.Errorf("audit annotations = %v", d.AuditAnnotations)
	}
}
