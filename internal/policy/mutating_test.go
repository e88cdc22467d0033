package policy

import (
	"strings"
	"testing"
)

const mpolDoc = `apiVersion: policies.kyverno.io/%s
kind: MutatingPolicy
metadata:
  name: add-labels
  annotations: {policies.kyverno.io/severity: medium}
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  matchConditions:
  - name: has-containers
    expression: size(object.spec.containers) > 0
  reinvocationPolicy: IfNeeded
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >-
        Object{spec: Object.spec{securityContext: Object.spec.securityContext{runAsNonRoot: true}}}
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "add", path: "/metadata/labels", value: {"a": "b"}}]'
`

func TestLoadMutatingPolicyVersionsAndAutogen(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"v1alpha1", "v1beta1", "v1"} {
		set, err := LoadBytes("mpol.yaml", []byte(strings.Replace(mpolDoc, "%s", v, 1)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		p := set.MutatingPolicy("add-labels")
		if p == nil || set.Len() != 1 || !set.UsesCEL() {
			t.Fatalf("%s: policy not loaded: %+v", v, set)
		}
		if p.Severity != "medium" || p.ReinvocationPolicy() != "IfNeeded" || p.FailOpen() || !p.Admission() || !p.Background() {
			t.Errorf("%s: policy fields = %+v", v, p)
		}
		// A Pod policy gets Kyverno's two autogen variants.
		var names []string
		for _, vr := range p.Variants {
			names = append(names, vr.Name)
		}
		if got := strings.Join(names, ","); got != ",autogen,autogen-cronjobs" {
			t.Errorf("%s: variants = %q", v, got)
		}
	}
	if _, err := LoadBytes("mpol.yaml", []byte(strings.Replace(mpolDoc, "%s", "v2", 1)), Options{}); err == nil || !strings.Contains(err.Error(), `unsupported apiVersion "policies.kyverno.io/v2"`) {
		t.Errorf("v2: err = %v", err)
	}
}

func TestMutatingPolicyAutogenRewritesLikeKyverno(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		cronjob bool
		want    string
	}{
		{`Object{spec: Object.spec{runtimeClassName: "x"}}`, false,
			`Object{spec: Object.spec{template: Object.spec.template{spec: Object.spec.template.spec{runtimeClassName: "x"}}}}`},
		{`Object{spec: Object.spec{runtimeClassName: "x"}}`, true,
			`Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec{template: Object.spec.jobTemplate.spec.template{spec: Object.spec.jobTemplate.spec.template.spec{runtimeClassName: "x"}}}}}}`},
		{`has(object.metadata.labels) && object.spec.hostNetwork`, false,
			`has(object.spec.template.metadata.labels) && object.spec.template.spec.hostNetwork`},
		{`Object{}`, false, `Object{}`},
	} {
		if got := podToTemplateExpression(tc.in, tc.cronjob); got != tc.want {
			t.Errorf("podToTemplateExpression(%q, %v)\n got  %s\n want %s", tc.in, tc.cronjob, got, tc.want)
		}
	}
	// An empty controllers list disables autogen; a list narrows it.
	doc := strings.Replace(mpolDoc, "%s", "v1alpha1", 1)
	for controllers, want := range map[string]int{"[]": 1, "[cronjobs]": 2, "[Deployment, jobs]": 2} {
		set, err := LoadBytes("mpol.yaml", []byte(strings.Replace(doc, "spec:\n  matchConstraints:", "spec:\n  autogen: {podControllers: {controllers: "+controllers+"}}\n  matchConstraints:", 1)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", controllers, err)
		}
		if got := len(set.Mutating[0].Variants); got != want {
			t.Errorf("controllers %s: %d variants, want %d", controllers, got, want)
		}
	}
}

func TestLoadMutatingPolicyRejects(t *testing.T) {
	t.Parallel()
	base := strings.Replace(mpolDoc, "%s", "v1alpha1", 1)
	for _, tc := range []struct {
		name, from, to string
		want           wantErr
	}{
		{"unknown field", "reinvocationPolicy: IfNeeded", "reinvocationPolicies: IfNeeded",
			wantErr{field: "spec.reinvocationPolicies", policy: "add-labels", msg: "unknown field"}},
		{"bad reinvocation", "reinvocationPolicy: IfNeeded", "reinvocationPolicy: Always",
			wantErr{field: "spec.reinvocationPolicy", policy: "add-labels", msg: `unknown reinvocation policy "Always"`}},
		{"bad failurePolicy", "reinvocationPolicy: IfNeeded", "failurePolicy: Maybe",
			wantErr{field: "spec.failurePolicy", policy: "add-labels", msg: `unknown failure policy "Maybe"`}},
		{"bad patch type", "- patchType: JSONPatch", "- patchType: StrategicMerge",
			wantErr{field: "spec.mutations[1].patchType", policy: "add-labels", msg: `unknown patch type "StrategicMerge"`}},
		{"mismatched body", "- patchType: JSONPatch", "- patchType: ApplyConfiguration",
			wantErr{field: "spec.mutations[1].applyConfiguration", policy: "add-labels", msg: "needs applyConfiguration"}},
		{"wrong result type", `'[JSONPatch{op: "add", path: "/metadata/labels", value: {"a": "b"}}]'`, `'Object{}'`,
			wantErr{field: "spec.mutations[1].jsonPatch.expression", policy: "add-labels", msg: "invalid CEL", err: "must evaluate to list(JSONPatch)"}},
		{"JSON mode", "reinvocationPolicy: IfNeeded", "evaluation: {mode: JSON}",
			wantErr{field: "spec.evaluation.mode", policy: "add-labels", msg: "evaluation mode JSON is not supported yet"}},
		{"no matchConstraints", "  matchConstraints:\n    resourceRules:", "  matchConstraintz:\n    resourceRules:",
			wantErr{field: "spec.matchConstraintz", policy: "add-labels", msg: "unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(base, tc.from, tc.to, 1)
			if doc == base {
				t.Fatal("replacement did not apply")
			}
			set, es := loadErrors(t, "mpol.yaml", doc, Options{})
			if len(es) == 0 || !tc.want.matches(es[0]) {
				t.Fatalf("errors:%s\nwant %+v", formatErrs(es), tc.want)
			}
			if es[0].Line == 0 {
				t.Errorf("error has no line: %v", es[0])
			}
			if len(set.Mutating) != 0 {
				t.Error("a rejected policy was loaded")
			}
		})
	}
	_, es := loadErrors(t, "mpol.yaml", `apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: empty}
spec:
  matchConstraints: {resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]}
`, Options{})
	if len(es) != 1 || !(wantErr{field: "spec.mutations", policy: "empty", msg: "at least one mutation"}).matches(es[0]) {
		t.Errorf("no mutations: %s", formatErrs(es))
	}
}

const mapDoc = `apiVersion: admissionregistration.k8s.io/%s
kind: MutatingAdmissionPolicy
metadata: {name: sidecar}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [pods]
  failurePolicy: Ignore
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"team": params.data.team}}}'
---
apiVersion: admissionregistration.k8s.io/%s
kind: MutatingAdmissionPolicyBinding
metadata: {name: sidecar-binding}
spec:
  policyName: sidecar
  paramRef: {name: teams, parameterNotFoundAction: Deny}
  matchResources: {namespaceSelector: {matchLabels: {env: prod}}}
`

func TestLoadMutatingAdmissionPolicy(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"v1alpha1", "v1beta1", "v1"} {
		set, err := LoadBytes("map.yaml", []byte(strings.ReplaceAll(mapDoc, "%s", v)), Options{})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		p := set.MutatingAdmissionPolicy("sidecar")
		if p == nil || len(p.Bindings) != 1 || p.Bindings[0].Match == nil || !p.FailOpen() || p.ReinvocationPolicy() != "Never" || p.APIVersion != "admissionregistration.k8s.io/"+v {
			t.Fatalf("%s: loaded %+v", v, p)
		}
		if got := set.Select(func(kind, _ string) bool { return kind == KindMutatingAdmissionPolicy }).Len(); got != 1 {
			t.Errorf("Select kept %d policies", got)
		}
	}
	base := strings.ReplaceAll(mapDoc, "%s", "v1")
	for _, tc := range []struct {
		name, from, to string
		want           wantErr
	}{
		{"reinvocation required", "  reinvocationPolicy: Never\n", "",
			wantErr{field: "spec.reinvocationPolicy", policy: "sidecar", msg: "reinvocationPolicy is required"}},
		{"params undeclared", "  paramKind: {apiVersion: v1, kind: ConfigMap}\n", "",
			wantErr{field: "spec.mutations[0].applyConfiguration.expression", policy: "sidecar", msg: "invalid CEL", err: "undeclared reference to 'params'"}},
		{"binding to nothing", "policyName: sidecar", "policyName: other",
			wantErr{field: "spec.policyName", policy: "sidecar-binding", msg: `MutatingAdmissionPolicy "other", which is not loaded`}},
		{"binding without policy name", "policyName: sidecar", "policyName: ''",
			wantErr{field: "spec.policyName", policy: "sidecar-binding", msg: "binding names no policy"}},
		{"paramRef name and selector", "paramRef: {name: teams,", "paramRef: {name: teams, selector: {matchLabels: {x: z}},",
			wantErr{field: "spec.paramRef", policy: "sidecar-binding", msg: "paramRef takes name or selector, not both"}},
		{"paramRef unknown action", "parameterNotFoundAction: Deny", "parameterNotFoundAction: Maybe",
			wantErr{field: "spec.paramRef.parameterNotFoundAction", policy: "sidecar-binding", msg: `unknown action "Maybe"`}},
		{"binding selector invalid", "matchLabels: {env: prod}", "matchLabels: {'bad key!': prod}",
			wantErr{field: "spec.matchResources", policy: "sidecar-binding", msg: "invalid matchResources", err: "bad key!"}},
		{"unknown binding field", "policyName: sidecar", "policyName: sidecar\n  validationActions: [Deny]",
			wantErr{field: "spec.validationActions", policy: "sidecar-binding", msg: "unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(base, tc.from, tc.to, 1)
			if doc == base {
				t.Fatal("replacement did not apply")
			}
			_, es := loadErrors(t, "map.yaml", doc, Options{})
			found := false
			for _, e := range es {
				found = found || tc.want.matches(e)
			}
			if !found {
				t.Fatalf("errors:%s\nwant %+v", formatErrs(es), tc.want)
			}
		})
	}
	if _, err := LoadBytes("map.yaml", []byte(strings.ReplaceAll(mapDoc, "%s", "v2")), Options{}); err == nil || !strings.Contains(err.Error(), "unsupported apiVersion") {
		t.Errorf("v2: err = %v", err)
	}
}

// TestHasMutateMutatingPolicy: a set holding only a MutatingPolicy has
// mutations at admission, so the /mutate webhook evaluates it (before,
// HasMutate counted Kyverno mutate rules only and /mutate skipped it).
func TestHasMutateMutatingPolicy(t *testing.T) {
	t.Parallel()
	set, err := LoadBytes("mpol.yaml", []byte(strings.Replace(mpolDoc, "%s", "v1", 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !set.HasMutate() {
		t.Error("HasMutate() = false for a set with a MutatingPolicy")
	}
	if (&Set{}).HasMutate() {
		t.Error("HasMutate() = true for an empty set")
	}
}
