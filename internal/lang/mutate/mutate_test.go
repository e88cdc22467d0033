package mutate

import (
	"encoding/json"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const pod = `
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: web}}
spec:
  securityContext: {runAsUser: 5}
  containers:
  - {name: a, image: "nginx:latest"}
  - {name: b, image: "redis:1.0", imagePullPolicy: Always}
`

// apply preprocesses patch against pod and merges it.
func apply(t *testing.T, resource, patch string) (map[string]any, error) {
	t.Helper()
	r := obj(t, resource)
	p, err := Preprocess(obj(t, patch), r)
	if err != nil {
		return nil, err
	}
	return StrategicMerge(r, p)
}

func at(m map[string]any, path ...any) any {
	var v any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

// Kyverno's add-if-not-present anchor "+(key)" adds a field only when the
// resource does not have it.
func TestAddIfNotPresentAnchor(t *testing.T) {
	out, err := apply(t, pod, `{spec: {securityContext: {+(runAsUser): 1000, +(runAsNonRoot): true}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "spec", "securityContext"); !reflect.DeepEqual(got, map[string]any{"runAsUser": 5.0, "runAsNonRoot": true}) {
		t.Fatalf("securityContext = %v", got)
	}
}

// Kyverno's conditional anchor in a list: the patch applies to the
// elements (with a name) the condition holds on, and only to them.
func TestConditionalAnchorInList(t *testing.T) {
	out, err := apply(t, pod, `{spec: {containers: [{(image): "*:latest", imagePullPolicy: IfNotPresent}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "spec", "containers", 0, "imagePullPolicy"); got != "IfNotPresent" {
		t.Errorf("container a imagePullPolicy = %v, want IfNotPresent", got)
	}
	if got := at(out, "spec", "containers", 1, "imagePullPolicy"); got != "Always" {
		t.Errorf("container b imagePullPolicy = %v, want Always (condition does not hold)", got)
	}
	if n := len(at(out, "spec", "containers").([]any)); n != 2 {
		t.Errorf("%d containers, want 2 (no element added)", n)
	}
}

// Kyverno skips the rule when a conditional anchor outside a list does
// not hold.
func TestConditionalAnchorInMapSkips(t *testing.T) {
	_, err := apply(t, pod, `{metadata: {labels: {(app): db, tier: x}}}`)
	if !IsSkip(err) {
		t.Fatalf("err = %v, want a condition error", err)
	}
	out, err := apply(t, pod, `{metadata: {labels: {(app): web, tier: x}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "metadata", "labels"); !reflect.DeepEqual(got, map[string]any{"app": "web", "tier": "x"}) {
		t.Fatalf("labels = %v", got)
	}
}

// Kyverno's global anchor "<(key)" skips the whole rule when no element
// satisfies it, and lets the rest of the patch apply when one does.
func TestGlobalAnchor(t *testing.T) {
	_, err := apply(t, pod, `{metadata: {labels: {x: z}}, spec: {containers: [{<(image): "busybox*"}]}}`)
	if !IsSkip(err) {
		t.Fatalf("err = %v, want a global condition error", err)
	}
	out, err := apply(t, pod, `{metadata: {labels: {x: z}}, spec: {containers: [{<(image): "redis*"}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "metadata", "labels", "x"); got != "z" {
		t.Fatalf("label x = %v", got)
	}
	if n := len(at(out, "spec", "containers").([]any)); n != 2 {
		t.Errorf("%d containers, want 2", n)
	}
}

// A built-in kind merges lists by their patch merge key (containers by
// name); another kind gets a JSON merge patch that replaces lists.
func TestStrategicMergeSchema(t *testing.T) {
	out, err := apply(t, pod, `{spec: {containers: [{name: b, image: "redis:2"}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(at(out, "spec", "containers").([]any)); n != 2 {
		t.Fatalf("%d containers, want 2 (merged by name)", n)
	}
	cr := `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {items: [{name: a}, {name: b}], keep: 1}}`
	out, err = apply(t, cr, `{spec: {items: [{name: c}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "spec"); !reflect.DeepEqual(got, map[string]any{"items": []any{map[string]any{"name": "c"}}, "keep": 1.0}) {
		t.Fatalf("spec = %v", got)
	}
}

// A custom resource is merged as Kyverno merges it (kustomize's kyaml
// merge2, no schema): a list of named maps is replaced, not merged by
// name; null clears a field; the strategic-merge directives act on maps:
// $patch: delete removes the map, $patch: replace swaps it whole (a JSON
// merge patch would have kept "$patch" as data).
func TestStrategicMergeCustomResource(t *testing.T) {
	cr := `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, labels: {a: x, b: y}},
spec: {items: [{name: a, size: 1}, {name: b}], drop: {x: 1}, swap: {old: 1, both: 1}, gone: 2, keep: "yes"}}`
	out, err := apply(t, cr, `{metadata: {labels: {b: null, c: z}}, spec: {items: [{name: a, size: 2}],
drop: {$patch: delete}, swap: {$patch: replace, new: 1, both: 2}, gone: null}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := obj(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, labels: {a: x, c: z}},
spec: {items: [{name: a, size: 2}], swap: {new: 1, both: 2}, keep: "yes"}}`)
	if !reflect.DeepEqual(out, want) {
		a, _ := json.Marshal(out)
		b, _ := json.Marshal(want)
		t.Fatalf("merged\n %s\nwant\n %s", a, b)
	}
}

// Kyverno applies patchesJson6902 with missing paths tolerated on remove
// and created on add.
func TestApplyJSONPatchOptions(t *testing.T) {
	r := obj(t, pod)
	out, err := ApplyJSONPatch(r, []byte(`[{"op":"remove","path":"/spec/volumes"},{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"1"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := at(out, "spec", "containers", 0, "env", 0, "name"); got != "A" {
		t.Fatalf("env = %v", at(out, "spec", "containers", 0))
	}
	if _, ok := at(r, "spec", "containers", 0).(map[string]any)["env"]; ok {
		t.Fatal("the input was modified")
	}
}

func TestDiff(t *testing.T) {
	a := obj(t, pod)
	if d, err := Diff(a, a); err != nil || d != "" {
		t.Fatalf("Diff(a, a) = %q, %v", d, err)
	}
	b, err := apply(t, pod, `{metadata: {labels: {x: z}}}`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var ops []map[string]any
	if err := json.Unmarshal([]byte(d), &ops); err != nil || len(ops) != 1 || ops[0]["path"] != "/metadata/labels/x" {
		t.Fatalf("Diff = %s", d)
	}
	back, err := ApplyJSONPatch(a, []byte(d))
	if err != nil || !reflect.DeepEqual(back, b) {
		t.Fatalf("applying the diff gives %v, %v", back, err)
	}
}
