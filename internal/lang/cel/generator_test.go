package cel

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestGenerateApply checks Kyverno's generator.Apply: every object passed
// to it is returned, in order, with metadata.namespace set to the
// namespace argument, converted to decoded JSON (numbers as float64,
// bytes as base64, timestamps as RFC 3339 strings); an expression that
// fails stops Generate with an error naming it.
func TestGenerateApply(t *testing.T) {
	c, err := NewCompiler(Options{})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := c.Compile(Spec{Dialect: Kyverno,
		Variables: []Variable{{Name: "ns", Expression: "object.metadata.name"}},
		Generations: []Generation{
			{Expression: `generator.Apply(variables.ns, [{"kind": dyn("ConfigMap"), "metadata": dyn({"name": "a"}),
				"data": dyn({"n": dyn(3), "b": dyn(b"hi"), "t": dyn(timestamp("2026-01-02T03:04:05Z"))})}])`},
			{Expression: `generator.Apply("", [{"kind": dyn("Namespace"), "metadata": dyn({"name": "b"})}])`},
		}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := prog.Generate(context.Background(), Input{Object: map[string]any{"metadata": map[string]any{"name": "team"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"kind": "ConfigMap", "metadata": map[string]any{"name": "a", "namespace": "team"},
			"data": map[string]any{"n": float64(3), "b": "aGk=", "t": "2026-01-02T03:04:05Z"}},
		{"kind": "Namespace", "metadata": map[string]any{"name": "b"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Generate = %v\nwant %v", got, want)
	}

	bad, err := c.Compile(Spec{Dialect: Kyverno, Generations: []Generation{{Expression: `generator.Apply("x", [object.missing])`}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Generate(context.Background(), Input{Object: map[string]any{}}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Generate with a failing expression: %v, want an error naming the missing field", err)
	}
	if _, err := c.Compile(Spec{Dialect: Kubernetes, Generations: []Generation{{Expression: "true"}}}); err == nil {
		t.Error("generate expressions compiled in the Kubernetes dialect")
	}
}
