package policy

import (
	"errors"
	"strings"
	"testing"
)

const goodVPol = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: good-vpol}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  variables:
  - {name: containers, expression: "object.spec.containers"}
  validations:
  - expression: "variables.containers.all(c, c.image.contains(':'))"
    message: image tag required
`

func TestLoadCELErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		doc    string
		field  string
		msgHas string
	}{
		{
			name: "type error in validate.cel",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-type}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "object.spec.replicas + 'x'"
`,
			field: "spec.rules[0].validate.cel.expressions[0].expression", msgHas: "must evaluate to bool",
		},
		{
			name: "unknown variable in validate.cel",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-unknown}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "objekt.spec.containers.size() > 0"
`,
			field: "spec.rules[0].validate.cel.expressions[0].expression", msgHas: "undeclared reference to 'objekt'",
		},
		{
			name: "paramKind without paramRef",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-params}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        expressions:
        - expression: "params.data.x == 'y'"
`,
			field: "spec.rules[0].validate.cel.paramRef", msgHas: "paramRef is missing",
		},
		{
			name: "ValidatingPolicy validation not boolean",
			doc: `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vpol-type}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.metadata.name"
`,
			field: "spec.validations[0].expression", msgHas: "must evaluate to bool",
		},
		{
			name: "ValidatingPolicy malformed matchConstraints",
			doc: `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vpol-match}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATEE], resources: [pods]}
  validations:
  - expression: "true"
`,
			field: "spec.matchConstraints", msgHas: "unknown operation",
		},
		{
			name: "ValidatingPolicy unknown action",
			doc: `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vpol-action}
spec:
  validationActions: [Block]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "true"
`,
			field: "spec.validationActions[0]", msgHas: "unknown action",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := LoadBytes("p.yaml", []byte(tc.doc+"---\n"+goodVPol), Options{})
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("want one *Error, got %v", err)
			}
			if es[0].Field != tc.field || !strings.Contains(es[0].Error(), tc.msgHas) {
				t.Fatalf("error = %q (field %q), want field %q containing %q", es[0].Error(), es[0].Field, tc.field, tc.msgHas)
			}
			if set == nil || set.ValidatingPolicy("good-vpol") == nil {
				t.Fatal("the valid ValidatingPolicy in the same input was not loaded")
			}
		})
	}
}

func TestValidatingPolicyAutogen(t *testing.T) {
	t.Parallel()
	set, err := LoadBytes("p.yaml", []byte(goodVPol), Options{})
	if err != nil {
		t.Fatal(err)
	}
	vp := set.ValidatingPolicy("good-vpol")
	var names []string
	for _, v := range vp.Variants {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, ","); got != ",autogen,autogen-cronjobs" {
		t.Fatalf("variants = %q, want the policy, autogen and autogen-cronjobs", got)
	}
	if !vp.Enforce() {
		t.Fatal("validationActions [Deny] should enforce")
	}
}

func TestRewriteObjectPaths(t *testing.T) {
	t.Parallel()
	in := `object.spec.containers + oldObject.spec.x; object.metadata.labels; object.metadata.name; object.metadata.namespace; myobject.spec`
	got := string(rewriteObjectPaths(rewriteObjectPaths([]byte(in), "spec", "spec.template.spec"), "metadata", "spec.template.metadata"))
	want := `object.spec.template.spec.containers + oldObject.spec.template.spec.x; object.spec.template.metadata.labels; object.metadata.name; object.metadata.namespace; myobject.spec`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestLoadAdmissionPolicyErrors(t *testing.T) {
	t.Parallel()
	const vap = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: vap}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "params.data.x == 'y'"
---
`
	binding := func(spec string) string {
		return "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: bad-binding}\nspec:\n" + spec
	}
	cases := []struct {
		name, doc, field, msgHas string
	}{
		{"no policy name", binding("  validationActions: [Deny]\n"), "spec.policyName", "names no policy"},
		{"no actions", binding("  policyName: vap\n"), "spec.validationActions", "at least one"},
		{"unknown action", binding("  policyName: vap\n  validationActions: [Block]\n"), "spec.validationActions[0]", "unknown action"},
		{"deny and warn", binding("  policyName: vap\n  validationActions: [Deny, Warn]\n"), "spec.validationActions", "may not be used together"},
		{"paramRef name and selector", binding("  policyName: vap\n  validationActions: [Deny]\n  paramRef: {name: a, selector: {matchLabels: {x: z}}, parameterNotFoundAction: Deny}\n"), "spec.paramRef", "not both"},
		{"unknown policy", binding("  policyName: nope\n  validationActions: [Deny]\n"), "spec.policyName", "not loaded"},
		{"type error in policy", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: typed}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  validations:\n  - expression: \"1 + 'a'\"\n", "spec.validations[0].expression", "no matching overload"},
		{"multi-line message refused", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: ml}\nspec:\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [\"\"], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  validations:\n  - expression: \"true\"\n    message: \"a\\nb\"\n", "spec.validations[0].message", "line breaks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set, err := LoadBytes("vap.yaml", []byte(vap+tc.doc), Options{})
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("want one *Error, got %v", err)
			}
			if es[0].Field != tc.field || !strings.Contains(es[0].Error(), tc.msgHas) {
				t.Fatalf("error = %q (field %q), want field %q containing %q", es[0].Error(), es[0].Field, tc.field, tc.msgHas)
			}
			if set == nil || set.AdmissionPolicy("vap") == nil {
				t.Fatal("the valid ValidatingAdmissionPolicy in the same input was not loaded")
			}
		})
	}
}
