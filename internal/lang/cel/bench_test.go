package cel

import (
	"context"
	"testing"
)

// BenchmarkValidatePod evaluates a compiled ValidatingPolicy-like program
// (variables, a match condition, five validations with messages) on a Pod.
// Nothing is compiled inside the loop.
func BenchmarkValidatePod(b *testing.B) {
	c := testCompiler(b)
	p := mustCompile(b, c, Spec{
		Dialect: Kyverno,
		Variables: []Variable{
			{Name: "allContainers", Expression: allContainers},
			{Name: "names", Expression: "variables.allContainers.map(c, c.name)"},
		},
		MatchConditions: []MatchCondition{{Name: "not-kube-system", Expression: "request.namespace != 'kube-system'"}},
		Validations: []Validation{
			{Expression: "variables.allContainers.all(c, c.?securityContext.?capabilities.?drop.orValue([]).exists(x, x.upperAscii() == 'ALL'))", Message: "drop ALL"},
			{Expression: "object.spec.containers.all(c, c.image.contains(':'))"},
			{Expression: "object.spec.?securityContext.?runAsNonRoot.orValue(false) || object.spec.securityContext.runAsUser != 0",
				MessageExpression: "'pod ' + object.metadata.name + ' runs as root'"},
			{Expression: "has(object.metadata.labels) && 'app' in object.metadata.labels"},
			{Expression: "variables.names.size() <= 10 && object.spec.containers.all(c, !has(c.resources) || !has(c.resources.limits) || !('memory' in c.resources.limits) || quantity(c.resources.limits.memory).compareTo(quantity('4Gi')) <= 0)"},
		},
	})
	in := Input{Object: podObject(b), Request: podRequest(), NamespaceObject: namespaceObject()}
	ctx := context.Background()
	// The outcome of each validation on the test Pod, checked once before
	// timing: the sidecar does not drop ALL and the Pod runs as root.
	want := []Status{Fail, Pass, Fail, Pass, Pass}
	res, err := p.Validate(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	if len(res.Validations) != len(want) {
		b.Fatalf("%d outcomes, want %d: %+v", len(res.Validations), len(want), res.Validations)
	}
	for i, o := range res.Validations {
		if o.Status != want[i] {
			b.Fatalf("validation %d: %s (%s), want %s", i, o.Status, o.Message, want[i])
		}
	}
	if msg := res.Validations[2].Message; msg != "pod web runs as root" {
		b.Fatalf("message of validation 2 = %q, want the messageExpression's", msg)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := p.Match(ctx, in)
		if err != nil || !m.Matches {
			b.Fatal(m, err)
		}
		if _, err := p.Validate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile measures compiling the same kind of policy (load time).
func BenchmarkCompile(b *testing.B) {
	c := testCompiler(b)
	spec := Spec{
		Dialect:     Kyverno,
		Variables:   []Variable{{Name: "allContainers", Expression: allContainers}},
		Validations: []Validation{{Expression: "variables.allContainers.all(c, c.image.contains(':'))"}},
	}
	// The compiled program works on the test Pod (its init container's
	// image has no tag): checked once.
	p := mustCompile(b, c, spec)
	res, err := p.Validate(context.Background(), Input{Object: podObject(b), Request: podRequest()})
	if err != nil || len(res.Validations) != 1 || res.Validations[0].Status != Fail {
		b.Fatalf("Validate = %+v, %v; want one fail", res, err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Compile(spec); err != nil {
			b.Fatal(err)
		}
	}
}
