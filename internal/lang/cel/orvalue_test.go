package cel

import (
	"strings"
	"testing"
)

// TestLenientOrValue checks Kyverno's orValue semantics: optional receivers
// behave as in cel-go, a present non-optional receiver is returned as is,
// and errors of the receiver propagate.
func TestLenientOrValue(t *testing.T) {
	t.Parallel()
	obj := mustYAML(t, `
spec:
  containers:
  - name: a
    volumeMounts:
    - name: data
      readOnly: true
    securityContext:
      capabilities:
        add: [NET_BIND_SERVICE]
    resources:
      requests:
        cpu: 100m
  - name: b
`)
	tests := []struct {
		name   string
		expr   string
		want   Status
		substr string // of the message, when want is Error
	}{
		{"present list", "object.spec.containers.all(container, container.name != 'a' || container.volumeMounts.orValue([]).all(m, m.readOnly))", Pass, ""},
		{"present nested list size", "object.spec.containers[0].securityContext.capabilities.add.orValue([]).size() == 1", Pass, ""},
		{"present map field", "object.spec.containers[0].resources.requests.orValue({}).cpu == '100m'", Pass, ""},
		{"present value is not replaced", "object.spec.containers[0].name.orValue('x') == 'a'", Pass, ""},
		{"optional map index absent", "{'a':1}[?'b'].orValue(2) == 2", Pass, ""},
		{"optional map index present", "{'a':1}[?'a'].orValue(2) == 1", Pass, ""},
		{"optional select absent", "object.?spec.?x.orValue(3) == 3", Pass, ""},
		{"optional select present", "object.?spec.?containers.orValue([]).size() == 2", Pass, ""},
		{"absent non-optional field is an error", "object.spec.containers[1].volumeMounts.orValue([]).size() == 0", Error, "no such key"},
		{"default not evaluated for present optional", "{'a':1}[?'a'].orValue(1 / 0) == 1", Pass, ""},
		{"default not evaluated for non-optional", "object.spec.containers.orValue(object.missing).size() == 2", Pass, ""},
		{"default evaluated for absent optional", "{'a':1}[?'b'].orValue(1 / 0) == 1", Error, "division by zero"},
		{"or unchanged", "{'a':1}[?'b'].or(optional.of(4)).value() == 4", Pass, ""},
		{"or on non-optional still fails", "object.spec.or(optional.of(4)).hasValue()", Error, "no such overload"},
	}
	c := testCompiler(t)
	t.Run("Kyverno/plain list from resource.List (check-hpa-exists)", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, c, Spec{Dialect: Kyverno,
			Variables:   []Variable{{Name: "hpas", Expression: "resource.List('autoscaling/v1', 'horizontalpodautoscalers', 'default').items.orValue([])"}},
			Validations: []Validation{{Expression: "variables.hpas.size() == 0"}}})
		if out := validateOne(t, p, Input{Resources: &MemoryResources{}}); out.Status != Pass {
			t.Fatalf("status %v (%s), want Pass", out.Status, out.Message)
		}
	})
	for _, d := range []Dialect{Kubernetes, Kyverno} {
		for _, tc := range tests {
			t.Run(d.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				p := mustCompile(t, c, Spec{Dialect: d, Validations: []Validation{{Expression: tc.expr}}})
				out := validateOne(t, p, Input{Object: obj})
				if out.Status != tc.want {
					t.Fatalf("status %v (%s), want %v", out.Status, out.Message, tc.want)
				}
				if tc.substr != "" && !strings.Contains(out.Message, tc.substr) {
					t.Fatalf("message %q does not contain %q", out.Message, tc.substr)
				}
			})
		}
	}
}

// TestLenientOrValueCost checks the runtime cost of the receiver is still
// tracked through a rewritten orValue call.
func TestLenientOrValueCost(t *testing.T) {
	t.Parallel()
	obj := mustYAML(t, `
spec:
  containers: [{name: a}, {name: b}, {name: c}]
`)
	c := testCompiler(t)
	cost := func(expr string) int64 {
		t.Helper()
		p := mustCompile(t, c, Spec{Validations: []Validation{{Expression: expr}}})
		out := validateOne(t, p, Input{Object: obj})
		if out.Status != Pass {
			t.Fatalf("%s: status %v (%s)", expr, out.Status, out.Message)
		}
		return out.Cost
	}
	plain := cost("object.spec.containers.all(x, x.name != '')")
	lenient := cost("object.spec.containers.orValue([]).all(x, x.name != '')")
	optional := cost("object.?spec.?containers.orValue([]).all(x, x.name != '')")
	if lenient < plain || optional < plain {
		t.Fatalf("costs: plain %d, lenient %d, optional %d", plain, lenient, optional)
	}
	t.Logf("costs: plain %d, lenient %d, optional %d", plain, lenient, optional)
}
