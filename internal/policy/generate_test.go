package policy

import (
	"testing"
)

// genRule is a generate rule on Namespaces with the given generate body
// (YAML indented by six spaces).
func genRule(body string) string {
	return badRule(`  - name: gen
    match:
      any:
      - resources:
          kinds: [Namespace]
    generate:
` + body)
}

// TestGenerateRuleErrors checks that invalid generate bodies are refused
// at load, as Kyverno's policy validation refuses them.
func TestGenerateRuleErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body string
		want wantErr
	}{
		{"data and clone", `      kind: ConfigMap
      name: x
      namespace: ns1
      data: {data: {a: b}}
      clone: {namespace: default, name: src}
`, wantErr{field: "spec.rules[0].generate", policy: "bad", rule: "gen", msg: "only one of data, clone and cloneList"}},
		{"neither", `      kind: ConfigMap
      name: x
`, wantErr{field: "spec.rules[0].generate", policy: "bad", rule: "gen", msg: "needs one of data, clone and cloneList"}},
		{"no kind", `      name: x
      data: {data: {a: b}}
`, wantErr{field: "spec.rules[0].generate.kind", policy: "bad", rule: "gen", msg: "needs the kind"}},
		{"no name", `      kind: ConfigMap
      data: {data: {a: b}}
`, wantErr{field: "spec.rules[0].generate.name", policy: "bad", rule: "gen", msg: "needs the name"}},
		{"clone without source name", `      kind: ConfigMap
      name: x
      clone: {namespace: default}
`, wantErr{field: "spec.rules[0].generate.clone.name", policy: "bad", rule: "gen", msg: "clone needs the name"}},
		{"cloneList without kinds", `      namespace: x
      cloneList: {namespace: default}
`, wantErr{field: "spec.rules[0].generate.cloneList.kinds", policy: "bad", rule: "gen", msg: "at least one kind"}},
		{"unknown field", `      kind: ConfigMap
      name: x
      synchronise: true
      data: {}
`, wantErr{field: "spec.rules[0].generate.synchronise", policy: "bad", rule: "gen", msg: "synchronize"}},
		{"bad JMESPath", `      kind: ConfigMap
      name: "{{request.object.metadata.name | }}"
      data: {}
`, wantErr{field: "spec.rules[0].generate.name", policy: "bad", rule: "gen", msg: "invalid JMESPath", err: "SyntaxError"}},
		{"foreach without list", `      foreach:
      - kind: ConfigMap
        name: x
        data: {}
`, wantErr{field: "spec.rules[0].generate.foreach[0].list", policy: "bad", rule: "gen", msg: "needs a list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, es := loadErrors(t, "gen.yaml", genRule(tc.body), Options{})
			found := false
			for _, e := range es {
				if tc.want.matches(e) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %+v among:%s", tc.want, formatErrs(es))
			}
		})
	}
}

// TestGenerateRuleLoads checks the compiled form of a valid rule: the
// body decoded, generateExisting from the policy, and Kyverno's deletion
// rules (a synchronized data rule goes with its policy unless
// orphanDownstreamOnPolicyDelete; a clone never does).
func TestGenerateRuleLoads(t *testing.T) {
	t.Parallel()
	set, err := LoadBytes("gen.yaml", []byte(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: gen}
spec:
  generateExisting: true
  rules:
  - name: data
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      apiVersion: v1
      kind: ConfigMap
      name: x
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data: {data: {a: b}}
  - name: orphan
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      kind: ConfigMap
      name: cm2
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      orphanDownstreamOnPolicyDelete: true
      generateExisting: false
      data: {data: {a: b}}
  - name: clone
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      kind: ConfigMap
      name: z
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      clone: {namespace: default, name: src}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !set.HasGenerate() {
		t.Fatal("HasGenerate is false")
	}
	rules := set.Policies[0].Rules
	type want struct {
		existing, sync, deleteWithPolicy bool
	}
	wants := []want{{true, true, true}, {false, true, false}, {true, true, false}}
	for i, w := range wants {
		g := rules[i].Generate
		if g == nil {
			t.Fatalf("rule %s: not compiled", rules[i].Name())
		}
		got := want{g.Existing, g.Synchronize(), g.DeleteOnPolicyDelete()}
		if got != w {
			t.Errorf("rule %s: %+v, want %+v", rules[i].Name(), got, w)
		}
	}
}

// TestNamespacedPolicyGeneratesInItsNamespace checks that a namespaced
// Policy cannot generate into (or clone from) another namespace.
func TestNamespacedPolicyGeneratesInItsNamespace(t *testing.T) {
	t.Parallel()
	_, es := loadErrors(t, "gen.yaml", `apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: gen, namespace: team-a}
spec:
  rules:
  - name: gen
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    generate:
      kind: ConfigMap
      name: copy
      namespace: team-b
      clone: {namespace: kube-system, name: src}
`, Options{})
	for _, field := range []string{"spec.rules[0].generate.namespace", "spec.rules[0].generate.clone.namespace"} {
		w := wantErr{field: field, policy: "gen", rule: "gen", msg: "own namespace"}
		found := false
		for _, e := range es {
			if w.matches(e) {
				found = true
			}
		}
		if !found {
			t.Errorf("want %+v among:%s", w, formatErrs(es))
		}
	}
}

// TestGeneratingPolicyLoads checks that a GeneratingPolicy compiles and
// that an expression that does not type-check is refused with its field.
func TestGeneratingPolicyLoads(t *testing.T) {
	t.Parallel()
	const head = `apiVersion: policies.kyverno.io/v1alpha1
kind: GeneratingPolicy
metadata: {name: gpol}
spec:
  evaluation:
    synchronize: {enabled: true}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}
  generate:
`
	set, err := LoadBytes("gpol.yaml", []byte(head+`  - expression: 'generator.Apply(object.metadata.name, [{"kind": "ConfigMap"}])'
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Generating) != 1 || !set.Generating[0].Synchronize() || !set.Generating[0].DeleteOnPolicyDelete() || set.Len() != 1 {
		t.Fatalf("Generating = %+v", set.Generating)
	}
	_, es := loadErrors(t, "gpol.yaml", head+`  - expression: generator.Apply(1, [])
`, Options{})
	w := wantErr{field: "spec.generate[0].expression", policy: "gpol", msg: "invalid CEL", err: "no matching overload"}
	if len(es) != 1 || !w.matches(es[0]) {
		t.Errorf("want %+v, got:%s", w, formatErrs(es))
	}
	// A ValidatingPolicy cannot call the generator.
	_, es = loadErrors(t, "vpol.yaml", `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: vpol}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}
  validations:
  - expression: 'generator.Apply("x", [])'
`, Options{})
	w = wantErr{field: "spec.validations[0].expression", policy: "vpol", msg: "invalid CEL", err: "undeclared reference to 'generator'"}
	if len(es) == 0 || !w.matches(es[0]) {
		t.Errorf("ValidatingPolicy using generator: want %+v, got:%s", w, formatErrs(es))
	}
}
