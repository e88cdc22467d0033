package policy

import (
	"reflect"
	"testing"
)

func mutateRule(body string) string {
	return badRule(`  - name: m
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
` + body)
}

// Mutate rules that Kyverno's policy validation refuses are refused at
// load, with the field named.
func TestLoadMutateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       wantErr
	}{
		{"no patch", "      targets: []\n",
			wantErr{field: "spec.rules[0].mutate", policy: "bad", rule: "m", msg: "exactly one of patchStrategicMerge, patchesJson6902 and foreach"}},
		{"two patches", "      patchStrategicMerge: {metadata: {labels: {a: b}}}\n      patchesJson6902: '[]'\n",
			wantErr{field: "spec.rules[0].mutate", policy: "bad", rule: "m", msg: "exactly one of"}},
		{"strategic merge not a mapping", "      patchStrategicMerge: [a]\n",
			wantErr{field: "spec.rules[0].mutate.patchStrategicMerge", policy: "bad", rule: "m", msg: "must be a mapping"}},
		{"bad json patch", "      patchesJson6902: '[{\"op\": \"frobnicate\", \"path\": \"/a\"}]'\n",
			wantErr{field: "spec.rules[0].mutate.patchesJson6902", policy: "bad", rule: "m", msg: "invalid JSON patch", err: "unsupported operation"}},
		{"bad variable", "      patchStrategicMerge: {metadata: {labels: {a: '{{ request.object.( }}'}}}\n",
			wantErr{field: "spec.rules[0].mutate.patchStrategicMerge.metadata.labels.a", policy: "bad", rule: "m", msg: "invalid JMESPath", err: "SyntaxError"}},
		{"foreach order", "      foreach:\n      - list: request.object.spec.containers\n        order: Sideways\n        patchStrategicMerge: {metadata: {labels: {a: b}}}\n",
			wantErr{field: "spec.rules[0].mutate.foreach[0].order", policy: "bad", rule: "m", msg: "unknown order"}},
		{"foreach without patch", "      foreach:\n      - list: request.object.spec.containers\n",
			wantErr{field: "spec.rules[0].mutate.foreach[0]", policy: "bad", rule: "m", msg: "exactly one of patchStrategicMerge, patchesJson6902 and foreach"}},
		{"unknown field", "      patchStrategicMerge: {metadata: {labels: {a: b}}}\n      patchJson6902: x\n",
			wantErr{field: "spec.rules[0].mutate.patchJson6902", policy: "bad", msg: "unknown field"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := loadErrors(t, "bad.yaml", mutateRule(tc.body), Options{})
			found := false
			for _, e := range errs {
				if tc.want.matches(e) || (tc.want.rule == "" && e.Field == tc.want.field) {
					found = true
				}
			}
			if !found {
				t.Fatalf("errors %s\nwant %+v", formatErrs(errs), tc.want)
			}
		})
	}
}

// Kyverno's autogen moves a mutate rule's strategic merge patches (also
// those of foreach) under the pod template, and generates no rule for
// JSON patches.
func TestAutogenMutate(t *testing.T) {
	p := loadPolicy(t, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: m}
spec:
  rules:
  - name: label
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {a: b}}}
  - name: each
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
        patchStrategicMerge: {spec: {containers: [{name: "{{ element.name }}", imagePullPolicy: Always}]}}
`)
	byName := map[string]*Rule{}
	for _, r := range p.Rules {
		byName[r.Name()] = r
	}
	dep := byName["autogen-label"]
	if dep == nil {
		t.Fatalf("rules %v, want autogen-label", ruleNames(p.Rules))
	}
	want := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}}}}}
	if got := dep.Spec.Mutation.PatchStrategicMerge; !reflect.DeepEqual(got, want) {
		t.Fatalf("autogen patch = %v", got)
	}
	cron := byName["autogen-cronjob-each"]
	if cron == nil {
		t.Fatalf("rules %v, want autogen-cronjob-each", ruleNames(p.Rules))
	}
	fe := cron.Spec.Mutation.ForEach[0]
	if fe.List != "request.object.spec.jobTemplate.spec.template.spec.containers" {
		t.Fatalf("list = %s", fe.List)
	}
	if _, ok := fe.PatchStrategicMerge.(map[string]any)["spec"].(map[string]any)["jobTemplate"]; !ok {
		t.Fatalf("foreach patch = %v", fe.PatchStrategicMerge)
	}
	if byName["label"].Spec.Mutation.PatchStrategicMerge.(map[string]any)["spec"] != nil {
		t.Fatal("the written rule was modified")
	}

	jp := loadPolicy(t, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: j}
spec:
  rules:
  - name: j
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      foreach:
      - list: request.object.spec.containers
        patchesJson6902: "- {op: add, path: /metadata/labels/a, value: b}"
`)
	if len(jp.Rules) != 1 {
		t.Fatalf("rules %v, want only j (no autogen for JSON patches)", ruleNames(jp.Rules))
	}
}
