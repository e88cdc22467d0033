package cel

import (
	"context"
	"testing"
)

// FuzzCompile compiles and evaluates arbitrary expressions in both
// dialects: neither may panic.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"object.spec.replicas > 1",
		"object.spec.containers.all(c, c.image.contains(':'))",
		"variables.a + 1 == 2",
		"quantity('1Gi').isGreaterThan(quantity('512Mi'))",
		"resource.Get('v1', 'configmaps', 'ns', 'n').data.a == 'b'",
		"image.GetMetadata(object.spec.containers[0].image).config.?created.orValue('') != ''",
		"parseImageReference('nginx').tag() == 'latest'",
		"params.x == 1",
		"[1, 2, 3].map(x, x * 2).sum() == 12",
		"'%s'.format([1])",
		"object.?a.?b[?0].orValue(null) == null",
		"{",
		"1 +",
	} {
		f.Add(s)
	}
	c, err := NewCompiler(Options{PerCallLimit: 100000})
	if err != nil {
		f.Fatal(err)
	}
	obj := map[string]any{"spec": map[string]any{"replicas": 2.0, "containers": []any{map[string]any{"name": "a", "image": "nginx"}}}}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, d := range []Dialect{Kubernetes, Kyverno} {
			p, err := c.Compile(Spec{
				Dialect:          d,
				HasParams:        d == Kubernetes,
				Variables:        []Variable{{Name: "a", Expression: "1"}, {Name: "b", Expression: expr}},
				MatchConditions:  []MatchCondition{{Name: "m", Expression: expr}},
				Validations:      []Validation{{Expression: expr, MessageExpression: expr}},
				AuditAnnotations: []AuditAnnotation{{Key: "k", ValueExpression: expr}},
			})
			if err != nil {
				// Retry as a plain validation so evaluation is exercised
				// even when the expression is not a bool.
				p, err = c.Compile(Spec{Dialect: d, Variables: []Variable{{Name: "a", Expression: "1"}, {Name: "b", Expression: expr}},
					Validations: []Validation{{Expression: "variables.b == variables.b"}}})
				if err != nil {
					continue
				}
			}
			in := Input{Object: obj, Resources: &MemoryResources{}, Images: &MemoryImages{}}
			_, _ = p.Match(context.Background(), in)
			_, _ = p.Validate(context.Background(), in)
		}
	})
}
