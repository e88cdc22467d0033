package cel

import (
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	bigList := "[" + strings.Repeat("1,", 2999) + "1]"
	tests := []struct {
		name string
		spec Spec
		// want are substrings that must all appear in the error.
		want []string
	}{
		{
			name: "type error",
			spec: Spec{Validations: []Validation{{Expression: "1 + 'a' == 2"}}},
			want: []string{"validations[0].expression: 1:3: found no matching overload for '_+_'"},
		},
		{
			name: "unknown variable",
			spec: Spec{Validations: []Validation{{Expression: "objekt.spec.replicas > 1"}}},
			want: []string{"validations[0].expression: 1:1: undeclared reference to 'objekt'"},
		},
		{
			name: "syntax error with position on second line",
			spec: Spec{Validations: []Validation{{Expression: "object.spec.replicas > 1 &&\n  object.spec.(x"}}},
			want: []string{"validations[0].expression: 2:"},
		},
		{
			name: "validation must return bool",
			spec: Spec{Validations: []Validation{{Expression: "object.metadata.name"}}},
			want: []string{"validations[0].expression: must evaluate to bool but got dyn"},
		},
		{
			name: "validation string result",
			spec: Spec{Validations: []Validation{{Expression: "'yes'"}}},
			want: []string{"must evaluate to bool but got string"},
		},
		{
			name: "messageExpression must return string",
			spec: Spec{Validations: []Validation{{Expression: "true", MessageExpression: "1 + 1"}}},
			want: []string{"validations[0].messageExpression: must evaluate to string but got int"},
		},
		{
			name: "blank messageExpression",
			spec: Spec{Validations: []Validation{{Expression: "true", MessageExpression: "   "}}},
			want: []string{"validations[0].messageExpression: must be non-empty if specified"},
		},
		{
			name: "matchCondition must return bool",
			spec: Spec{MatchConditions: []MatchCondition{{Name: "a", Expression: "1"}}},
			want: []string{"matchConditions[0].expression: must evaluate to bool but got int"},
		},
		{
			name: "auditAnnotation must return string or null",
			spec: Spec{AuditAnnotations: []AuditAnnotation{{Key: "k", ValueExpression: "1"}}},
			want: []string{"auditAnnotations[0].valueExpression: must evaluate to string or null_type but got int"},
		},
		{
			name: "empty expression",
			spec: Spec{Validations: []Validation{{Expression: "  "}}},
			want: []string{"validations[0].expression: expression is empty"},
		},
		{
			name: "multi-line message",
			spec: Spec{Validations: []Validation{{Expression: "true", Message: "a\nb"}}},
			want: []string{"validations[0].message: message must not contain line breaks"},
		},
		{
			name: "undeclared variables field",
			spec: Spec{
				Variables:   []Variable{{Name: "a", Expression: "1"}},
				Validations: []Validation{{Expression: "variables.b == 1"}},
			},
			want: []string{"validations[0].expression: 1:10: undefined field 'b'"},
		},
		{
			name: "variable refers to a later variable",
			spec: Spec{Variables: []Variable{
				{Name: "a", Expression: "variables.b + 1"},
				{Name: "b", Expression: "1"},
			}},
			want: []string{"variables[0].expression: 1:10: undefined field 'b'"},
		},
		{
			name: "variables typed by their output",
			spec: Spec{
				Variables:   []Variable{{Name: "n", Expression: "'x'"}},
				Validations: []Validation{{Expression: "variables.n > 1"}},
			},
			want: []string{"validations[0].expression: 1:13: found no matching overload for '_>_' applied to '(string, int)'"},
		},
		{
			name: "duplicate and invalid variable names",
			spec: Spec{Variables: []Variable{
				{Name: "a", Expression: "1"},
				{Name: "a", Expression: "2"},
				{Name: "not-valid", Expression: "3"},
			}},
			want: []string{"variables[1].name: duplicate variable name \"a\"", "variables[2].name: \"not-valid\" is not a valid CEL identifier"},
		},
		{
			name: "params without paramKind",
			spec: Spec{Validations: []Validation{{Expression: "params.max > 1"}}},
			want: []string{"undeclared reference to 'params'"},
		},
		{
			name: "params in a Kyverno policy",
			spec: Spec{Dialect: Kyverno, HasParams: true, Validations: []Validation{{Expression: "true"}}},
			want: []string{"paramKind: params are not available to Kyverno policies"},
		},
		{
			name: "Kyverno library outside Kyverno",
			spec: Spec{Validations: []Validation{{Expression: "resource.Get('v1', 'configmaps', 'ns', 'n').data.a == 'b'"}}},
			want: []string{"undeclared reference to 'resource'"},
		},
		{
			name: "authorizer not in Kyverno",
			spec: Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "authorizer.group('').resource('pods').check('get').allowed()"}}},
			want: []string{"undeclared reference to 'authorizer'"},
		},
		{
			name: "wrong argument type for a Kyverno function",
			spec: Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "image.GetMetadata(1).config.created != ''"}}},
			want: []string{"found no matching overload for 'GetMetadata'"},
		},
		{
			name: "bad regex literal",
			spec: Spec{Validations: []Validation{{Expression: "'a'.matches('[')"}}},
			want: []string{"validations[0].expression"},
		},
		{
			name: "estimated cost over the per-call limit",
			spec: Spec{Validations: []Validation{{Expression: bigList + ".map(x, " + bigList + ".map(y, x + y)).size() > 0"}}},
			want: []string{"validations[0].expression: estimated cost exceeds the per-expression cost limit by factor of"},
		},
		{
			name: "every problem is reported with its field",
			spec: Spec{
				FieldPrefix: "spec.",
				Validations: []Validation{
					{Expression: "true"},
					{Expression: "object.spec.replicas > 1"},
					{Expression: "objekt.spec"},
				},
				MatchConditions: []MatchCondition{{Name: "m", Expression: "'x'"}},
			},
			want: []string{"spec.validations[2].expression: 1:1: undeclared reference to 'objekt'", "spec.matchConditions[0].expression: must evaluate to bool"},
		},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Compile(tc.spec)
			if err == nil {
				t.Fatalf("expected a compile error")
			}
			if _, ok := err.(*CompileError); !ok {
				t.Fatalf("error is %T, want *CompileError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec Spec
	}{
		{"params with paramKind", Spec{HasParams: true, Validations: []Validation{{Expression: "object.spec.replicas <= params.maxReplicas"}}}},
		{"request is typed", Spec{Validations: []Validation{{Expression: "request.operation == 'CREATE' && request.userInfo.username != ''"}}}},
		{"namespaceObject is typed", Spec{Validations: []Validation{{Expression: "namespaceObject.metadata.name == 'default'"}}}},
		{"authorizer", Spec{Validations: []Validation{{Expression: "authorizer.requestResource.check('update').allowed()"}}}},
		{"string or null annotation", Spec{AuditAnnotations: []AuditAnnotation{{Key: "k", ValueExpression: "null"}}}},
		{"Kyverno libraries", Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "cel.bind(x, parseImageReference('nginx'), x.tag() == 'latest') && math.greatest(1, 2) == 2 && base64.encode(b'a') == 'YQ=='"}}}},
		{"big literal with a cheap body", Spec{Validations: []Validation{{Expression: "[" + strings.Repeat("1,", 999) + "1].all(x, x == 1)"}}}},
		{"new expressions env", Spec{Validations: []Validation{{Expression: "semver('1.2.3').isLessThan(semver('1.3.0'))"}}}},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := c.Compile(tc.spec); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}
}

func TestNewExpressionsCompiler(t *testing.T) {
	t.Parallel()
	c, err := NewCompiler(Options{NewExpressions: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile(Spec{Validations: []Validation{{Expression: "[1, 2].sum() == 3 && object.metadata.name.format([]) != ''"}}}); err != nil {
		t.Fatalf("compile: %v", err)
	}
}
