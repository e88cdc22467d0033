package mutating

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"sigs.k8s.io/yaml"
)

var testCompiler = sync.OnceValue(func() *cel.Compiler {
	c, err := cel.NewCompiler(cel.Options{})
	if err != nil {
		panic(err)
	}
	return c
})

func mustYAML(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return m
}

func mustCompile(t testing.TB, s Spec) *Program {
	t.Helper()
	p, err := Compile(testCompiler(), s)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

const podYAML = `
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: default
  labels: {app: web}
spec:
  containers:
  - name: app
    image: nginx
    ports: [{containerPort: 80}]
  - name: side
    image: busybox
`

func TestApplyConfigurationMergesByListKey(t *testing.T) {
	// containers is a list map keyed by name in the Pod schema: the apply
	// configuration's entry merges into the existing "side" container and
	// the other container and fields stay.
	p := mustCompile(t, Spec{Dialect: cel.Kubernetes, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration, Expression: `
Object{
  metadata: Object.metadata{labels: {"team": "a"}},
  spec: Object.spec{
    containers: [Object.spec.containers{name: "side", imagePullPolicy: "Always"}],
    securityContext: Object.spec.securityContext{runAsNonRoot: true, runAsUser: 1000}
  }
}`}}})
	obj := mustYAML(t, podYAML)
	got, err := p.Apply(context.Background(), cel.Input{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	want := mustYAML(t, podYAML)
	want["metadata"].(map[string]any)["labels"].(map[string]any)["team"] = "a"
	spec := want["spec"].(map[string]any)
	spec["containers"].([]any)[1].(map[string]any)["imagePullPolicy"] = "Always"
	spec["securityContext"] = map[string]any{"runAsNonRoot": true, "runAsUser": float64(1000)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if !reflect.DeepEqual(obj, mustYAML(t, podYAML)) {
		t.Error("Apply modified its input")
	}
}

func TestApplyConfigurationRefusesAtomic(t *testing.T) {
	// A container's args is an atomic list: the API server refuses to set
	// it with an apply configuration.
	p := mustCompile(t, Spec{Dialect: cel.Kubernetes, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration, Expression: `
Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", args: ["x"]}]}}`}}})
	_, err := p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)})
	if err == nil || !strings.Contains(err.Error(), "may not mutate atomic") {
		t.Fatalf("err = %v, want the atomic refusal", err)
	}
	// Kyverno's evaluation.useServerSideApply replaces the atomic value.
	p = mustCompile(t, Spec{Dialect: cel.Kyverno, ServerSideApply: true, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration, Expression: `
Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", args: ["x"]}]}}`}}})
	got, err := p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)})
	if err != nil {
		t.Fatal(err)
	}
	c := got["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(c["args"], []any{"x"}) || c["image"] != "nginx" {
		t.Errorf("container = %v", c)
	}
}

func TestJSONPatchInOrderAndTestOp(t *testing.T) {
	// Mutations run in order, each on the previous result; variables see
	// the object as it is at each mutation; a failing "test" op leaves the
	// object unchanged without an error.
	p := mustCompile(t, Spec{Dialect: cel.Kyverno,
		Variables: []cel.Variable{{Name: "n", Expression: `size(object.spec.containers)`}},
		Mutations: []cel.Mutation{
			{PatchType: cel.JSONPatch, Expression: `[JSONPatch{op: "add", path: "/spec/containers/-", value: {"name": "third", "image": "x"}}]`},
			{PatchType: cel.JSONPatch, Expression: `[JSONPatch{op: "add", path: "/metadata/annotations", value: {"count": string(variables.n)}},
			  JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("a/b"), value: "c"}]`},
			{PatchType: cel.JSONPatch, Expression: `[JSONPatch{op: "test", path: "/metadata/name", value: "other"}, JSONPatch{op: "remove", path: "/spec"}]`},
		}})
	got, err := p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)})
	if err != nil {
		t.Fatal(err)
	}
	meta := got["metadata"].(map[string]any)
	if a := meta["annotations"].(map[string]any)["count"]; a != "3" {
		t.Errorf("count annotation = %v, want 3 (variables evaluated after the first mutation)", a)
	}
	if l := meta["labels"].(map[string]any)["a/b"]; l != "c" {
		t.Errorf("escaped label = %v", l)
	}
	if _, ok := got["spec"]; !ok {
		t.Error("spec removed despite the failed test operation")
	}
}

func TestJSONPatchErrors(t *testing.T) {
	p := mustCompile(t, Spec{Dialect: cel.Kubernetes, Mutations: []cel.Mutation{
		{PatchType: cel.JSONPatch, Expression: `[JSONPatch{op: "replace", path: "/spec/missing/x", value: 1}]`}}})
	_, err := p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)})
	if err == nil || !strings.Contains(err.Error(), "mutations[0]") {
		t.Fatalf("err = %v, want a JSON patch error of mutations[0]", err)
	}
	p = mustCompile(t, Spec{Dialect: cel.Kubernetes, Mutations: []cel.Mutation{
		{PatchType: cel.JSONPatch, Expression: `object.spec.containers.map(c, JSONPatch{op: "add", path: "/x", value: c.nope})`}}})
	if _, err = p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)}); err == nil {
		t.Fatal("want a runtime error for a missing field")
	}
}

func TestCompileChecksResultTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    cel.Mutation
		want string
	}{
		{"json patch of object", cel.Mutation{PatchType: cel.JSONPatch, Expression: `Object{}`}, "mutations[0].jsonPatch.expression"},
		{"apply of list", cel.Mutation{PatchType: cel.ApplyConfiguration, Expression: `[JSONPatch{op: "add", path: "/a", value: 1}]`}, "mutations[0].applyConfiguration.expression"},
		{"dyn", cel.Mutation{PatchType: cel.ApplyConfiguration, Expression: `object`}, "must evaluate to Object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(testCompiler(), Spec{Dialect: cel.Kyverno, FieldPrefix: "spec.", Mutations: []cel.Mutation{tc.m}})
			var ce *cel.CompileError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a compile error with %q", err, tc.want)
			}
		})
	}
	if _, err := Compile(testCompiler(), Spec{Dialect: cel.Kyverno}); err == nil {
		t.Fatal("a spec without mutations compiled")
	}
}

func TestApplyCustomKindUsesDeducedSchema(t *testing.T) {
	p := mustCompile(t, Spec{Dialect: cel.Kubernetes, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration,
		Expression: `Object{spec: Object.spec{size: 3, nested: Object.spec.nested{b: "y"}}}`}}})
	obj := mustYAML(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {color: red, nested: {a: x}}}`)
	got, err := p.Apply(context.Background(), cel.Input{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	want := mustYAML(t, `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {color: red, size: 3, nested: {a: x, b: "y"}}}`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestApplyConfigurationEmptyListAddsNoNull(t *testing.T) {
	// Structured merge diff turns the empty initContainers list into null;
	// the API server's typed decoding drops it, and so does Apply (the
	// corpus' replace-image-registry expects no initContainers field).
	p := mustCompile(t, Spec{Dialect: cel.Kyverno, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration, Expression: `
Object{spec: Object.spec{
  containers: object.spec.containers.map(c, Object.spec.containers{name: c.name, image: "r/" + c.image}),
  initContainers: has(object.spec.initContainers) ? object.spec.initContainers.map(c, Object.spec.initContainers{name: c.name}) : []
}}`}}})
	got, err := p.Apply(context.Background(), cel.Input{Object: mustYAML(t, podYAML)})
	if err != nil {
		t.Fatal(err)
	}
	spec := got["spec"].(map[string]any)
	if v, ok := spec["initContainers"]; ok {
		t.Errorf("initContainers = %#v, want no field", v)
	}
	if img := spec["containers"].([]any)[0].(map[string]any)["image"]; img != "r/nginx" {
		t.Errorf("image = %v", img)
	}
	// A null the object already had stays.
	p = mustCompile(t, Spec{Dialect: cel.Kyverno, Mutations: []cel.Mutation{{PatchType: cel.ApplyConfiguration,
		Expression: `Object{spec: Object.spec{initContainers: []}}`}}})
	obj := mustYAML(t, podYAML)
	obj["spec"].(map[string]any)["initContainers"] = nil
	got, err = p.Apply(context.Background(), cel.Input{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got["spec"].(map[string]any)["initContainers"]; !ok || v != nil {
		t.Errorf("existing null initContainers = %#v, %v", v, ok)
	}
}
