package cel

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// TestKubernetesLibraries checks the API server libraries are present and
// behave on a decoded-JSON Pod.
func TestKubernetesLibraries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		want Status
	}{
		{"whole JSON numbers are ints", "object.spec.replicas > 1 && object.spec.securityContext.runAsUser == 0", Pass},
		{"int compares with double", "object.spec.replicas == 3.0", Pass},
		{"int type", "type(object.spec.replicas) == int", Pass},
		{"quantity", "quantity('1Gi').isGreaterThan(quantity('512Mi'))", Pass},
		{"quantity from object", "quantity(object.spec.containers[0].resources.limits.memory).compareTo(quantity(object.spec.containers[0].resources.requests.memory)) > 0", Pass},
		{"url", "url('https://example.com:8443/path?x=1').getPort() == '8443' && isURL('https://example.com')", Pass},
		{"ip", "isIP('10.0.0.1') && ip('10.0.0.1').family() == 4 && !isIP('10.0.0.300')", Pass},
		{"cidr", "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))", Pass},
		{"regex matches", "object.metadata.name.matches('^[a-z]+$')", Pass},
		{"regex find", "object.metadata.annotations.owner.find('[a-z]+@') == 'alice@'", Pass},
		{"regex findAll", "'a1b22c333'.findAll('[0-9]+').size() == 3", Pass},
		{"lists sum and isSorted", "[1, 2, 3].sum() == 6 && [1, 2, 3].isSorted() && [3, 1].min() == 1", Pass},
		{"ext lists", "[[1], [2, 3]].flatten() == [1, 2, 3] && lists.range(3) == [0, 1, 2]", Pass},
		{"strings", "'  Hello '.trim().lowerAscii() == 'hello' && 'a,b'.split(',').size() == 2 && ['a', 'b'].join('-') == 'a-b'", Pass},
		{"format", "'%s has %d containers'.format([object.metadata.name, object.spec.containers.size()]) == 'web has 2 containers'", Pass},
		{"semver", "isSemver('1.2.3') && semver('1.2.3').isLessThan(semver('1.10.0'))", Pass},
		{"sets", "sets.contains(['a', 'b', 'c'], ['a', 'c'])", Pass},
		{"optional field", "object.spec.?hostNetwork.orValue(false) == false && object.spec.?containers[?5].hasValue() == false", Pass},
		{"optional map index", "object.metadata.labels[?'missing'].orValue('none') == 'none'", Pass},
		{"two variable comprehension", "object.metadata.labels.all(k, v, k != '' && v != '')", Pass},
		{"has", "has(object.metadata.labels) && !has(object.metadata.ownerReferences)", Pass},
		{"exists_one", "object.spec.containers.exists_one(c, c.name == 'nginx')", Pass},
		{"timestamps", "timestamp('2024-01-01T00:00:00Z') + duration('24h') == timestamp('2024-01-02T00:00:00Z')", Pass},
		{"failing expression", "object.spec.replicas > 5", Fail},
		{"no such key is an error", "object.spec.nodeName == 'x'", Error},
		{"division by zero", "1 / (object.spec.replicas - 3) == 1", Error},
		{"bad quantity at runtime", "quantity(object.metadata.name).isInteger()", Error},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, Spec{Validations: []Validation{{Expression: tc.expr}}})
			out := validateOne(t, p, Input{Object: podObject(t), Request: podRequest()})
			if out.Status != tc.want {
				t.Fatalf("status %v (%s), want %v", out.Status, out.Message, tc.want)
			}
		})
	}
}

func TestRuntimeErrors(t *testing.T) {
	t.Parallel()
	items := make([]any, 3000)
	for i := range items {
		items[i] = float64(i)
	}
	big := "[" + strings.Repeat("1,", 2999) + "1]"
	tests := []struct {
		name   string
		spec   Spec
		in     Input
		substr string
	}{
		{
			name:   "no such key",
			spec:   Spec{Validations: []Validation{{Expression: "object.spec.missing.deeper == 1"}}},
			in:     Input{Object: map[string]any{"spec": map[string]any{}}},
			substr: "expression 'object.spec.missing.deeper == 1' resulted in error: no such key: missing",
		},
		{
			name:   "missing param",
			spec:   Spec{HasParams: true, Validations: []Validation{{Expression: "object.spec.replicas <= params.maxReplicas"}}},
			in:     Input{Object: map[string]any{"spec": map[string]any{"replicas": 1.0}}},
			substr: "params is null: no parameter object was provided",
		},
		{
			name:   "null object",
			spec:   Spec{Validations: []Validation{{Expression: "oldObject.metadata.name == 'a'"}}},
			in:     Input{},
			substr: "resulted in error",
		},
		{
			name:   "per-expression cost limit over input data",
			spec:   Spec{Validations: []Validation{{Expression: "object.items.all(x, object.items.all(y, x != y || x == y))"}}},
			in:     Input{Object: map[string]any{"items": items}},
			substr: "cost limit exceeded",
		},
		{
			name:   "per-expression cost limit over literals",
			spec:   Spec{Validations: []Validation{{Expression: big + ".all(x, " + big + ".all(y, x == y))"}}},
			substr: "cost limit exceeded",
		},
		{
			name:   "authorizer without an authorizer",
			spec:   Spec{Validations: []Validation{{Expression: "authorizer.group('').resource('pods').check('get').allowed()"}}},
			substr: "no authorizer is available",
		},
		{
			name:   "resource store missing",
			spec:   Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "resource.Get('v1', 'configmaps', 'default', 'x').data.a == 'b'"}}},
			substr: "no resource store is configured",
		},
		{
			name:   "resource not found",
			spec:   Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "resource.Get('v1', 'configmaps', 'default', 'x').data.a == 'b'"}}},
			in:     Input{Resources: &MemoryResources{}},
			substr: `failed to get resource: configmaps "x" in namespace "default" not found`,
		},
		{
			name:   "image not found",
			spec:   Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "image.GetMetadata('nginx:1').config.created != ''"}}},
			in:     Input{Images: &MemoryImages{}},
			substr: "failed to get image data: image data for nginx:1 not found in the context",
		},
		{
			name:   "bad image reference",
			spec:   Spec{Dialect: Kyverno, Validations: []Validation{{Expression: "parseImageReference('UPPER/Case').registry() == ''"}}},
			substr: "could not parse reference: UPPER/Case",
		},
		{
			name:   "failing variable",
			spec:   Spec{Variables: []Variable{{Name: "v", Expression: "object.nope"}}, Validations: []Validation{{Expression: "variables.v == 1"}}},
			in:     Input{Object: map[string]any{}},
			substr: `composited variable "v" fails to evaluate: no such key: nope`,
		},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, tc.spec)
			out := validateOne(t, p, tc.in)
			if out.Status != Error {
				t.Fatalf("status %v, want error", out.Status)
			}
			if !strings.Contains(out.Message, tc.substr) {
				t.Fatalf("message %q does not contain %q", out.Message, tc.substr)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		validation Validation
		wantMsg    string
		wantReason string
	}{
		{"default message", Validation{Expression: " object.spec.replicas > 5 "}, "failed expression: object.spec.replicas > 5", "Invalid"},
		{"message", Validation{Expression: "false", Message: " too many replicas ", Reason: "Forbidden"}, "too many replicas", "Forbidden"},
		{"messageExpression wins", Validation{Expression: "false", Message: "static", MessageExpression: "'pod ' + object.metadata.name + ' has ' + string(object.spec.replicas)"}, "pod web has 3", "Invalid"},
		{"messageExpression error falls back", Validation{Expression: "false", Message: "static", MessageExpression: "string(object.nope)"}, "static", "Invalid"},
		{"empty messageExpression falls back", Validation{Expression: "false", MessageExpression: "'  '"}, "failed expression: false", "Invalid"},
		{"multi-line messageExpression falls back", Validation{Expression: "false", Message: "m", MessageExpression: "'a\\nb'"}, "m", "Invalid"},
		{"long messageExpression falls back", Validation{Expression: "false", Message: "m", MessageExpression: "lists.range(2000).map(i, 'abcd').join('')"}, "m", "Invalid"},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, Spec{Validations: []Validation{tc.validation}})
			out := validateOne(t, p, Input{Object: podObject(t)})
			if out.Status != Fail || out.Message != tc.wantMsg || out.Reason != tc.wantReason {
				t.Fatalf("got %v %q %q, want fail %q %q", out.Status, out.Message, out.Reason, tc.wantMsg, tc.wantReason)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		conditions []MatchCondition
		matches    bool
		failed     string
		errSubstr  string
	}{
		{"no conditions", nil, true, "", ""},
		{"all true", []MatchCondition{{"a", "true"}, {"b", "request.operation == 'CREATE'"}}, true, "", ""},
		{"false", []MatchCondition{{"a", "true"}, {"not-delete", "request.operation == 'DELETE'"}}, false, "not-delete", ""},
		{"false wins over error", []MatchCondition{{"err", "object.nope == 1"}, {"no", "false"}}, false, "no", ""},
		{"error", []MatchCondition{{"ok", "true"}, {"err", "object.nope == 1"}}, false, "", `matchCondition "err": expression 'object.nope == 1' resulted in error: no such key: nope`},
		{"uses variables", []MatchCondition{{"v", "variables.isWeb"}}, true, "", ""},
	}
	c := testCompiler(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustCompile(t, c, Spec{
				Variables:       []Variable{{Name: "isWeb", Expression: "object.metadata.name == 'web'"}},
				MatchConditions: tc.conditions,
			})
			got, err := p.Match(context.Background(), Input{Object: podObject(t), Request: podRequest()})
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("error %v, want %q", err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Matches != tc.matches || got.FailedCondition != tc.failed {
				t.Fatalf("got %+v, want matches=%v failed=%q", got, tc.matches, tc.failed)
			}
		})
	}
}

func TestAuditAnnotations(t *testing.T) {
	t.Parallel()
	c := testCompiler(t)
	p := mustCompile(t, c, Spec{AuditAnnotations: []AuditAnnotation{
		{Key: "replicas", ValueExpression: "' ' + string(object.spec.replicas) + ' '"},
		{Key: "none", ValueExpression: "null"},
		{Key: "empty", ValueExpression: "''"},
		{Key: "broken", ValueExpression: "string(object.nope)"},
	}})
	res, err := p.Validate(context.Background(), Input{Object: podObject(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := res.AuditAnnotations
	if len(got) != 4 || got[0].Value != "3" || !got[0].Publish || got[1].Publish || got[2].Publish || got[3].Error == "" {
		t.Fatalf("unexpected annotations %+v", got)
	}
}

// countingResources counts store calls.
type countingResources struct {
	*MemoryResources
	gets atomic.Int64
}

func (c *countingResources) Get(ctx context.Context, apiVersion, resource, namespace, name string) (map[string]any, error) {
	c.gets.Add(1)
	return c.MemoryResources.Get(ctx, apiVersion, resource, namespace, name)
}

func TestVariablesLazyAndOnce(t *testing.T) {
	t.Parallel()
	c := testCompiler(t)
	p := mustCompile(t, c, Spec{
		Dialect: Kyverno,
		Variables: []Variable{
			{Name: "cm", Expression: "resource.Get('v1', 'configmaps', 'default', 'settings')"},
			{Name: "max", Expression: "int(variables.cm.data.maxReplicas)"},
			{Name: "unused", Expression: "object.does.not.exist"},
		},
		Validations: []Validation{
			{Expression: "object.spec.replicas <= variables.max"},
			{Expression: "variables.cm.data.maxReplicas == '5'"},
			{Expression: "variables.max > 1", MessageExpression: "'max is ' + string(variables.max)"},
		},
	})
	mem, err := NewMemoryResources(mustYAML(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: default}, data: {maxReplicas: "5"}}`))
	if err != nil {
		t.Fatal(err)
	}
	store := &countingResources{MemoryResources: mem}
	res, err := p.Validate(context.Background(), Input{Object: podObject(t), Resources: store})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Validations {
		if o.Status != Pass {
			t.Fatalf("validation %d: %v %s", o.Index, o.Status, o.Message)
		}
	}
	if n := store.gets.Load(); n != 1 {
		t.Fatalf("resource.Get called %d times, want 1", n)
	}
	// A second evaluation evaluates the variables again.
	if _, err := p.Validate(context.Background(), Input{Object: podObject(t), Resources: store}); err != nil {
		t.Fatal(err)
	}
	if n := store.gets.Load(); n != 2 {
		t.Fatalf("resource.Get called %d times after two evaluations, want 2", n)
	}
}

func TestBudgetAndCancellation(t *testing.T) {
	t.Parallel()
	spec := Spec{Validations: []Validation{
		{Expression: "object.spec.containers.all(c, c.name != '')"},
		{Expression: "object.spec.containers.all(c, c.name != '')"},
	}}
	t.Run("total budget", func(t *testing.T) {
		t.Parallel()
		c, err := NewCompiler(Options{RuntimeBudget: 12})
		if err != nil {
			t.Fatal(err)
		}
		p := mustCompile(t, c, spec)
		_, err = p.Validate(context.Background(), Input{Object: podObject(t)})
		if !errors.Is(err, ErrOutOfBudget) {
			t.Fatalf("error %v, want ErrOutOfBudget", err)
		}
	})
	t.Run("per-call limit option", func(t *testing.T) {
		t.Parallel()
		c, err := NewCompiler(Options{PerCallLimit: 5})
		if err != nil {
			t.Fatal(err)
		}
		p := mustCompile(t, c, spec)
		out, err := p.Validate(context.Background(), Input{Object: podObject(t)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Validations[0].Status != Error || !strings.Contains(out.Validations[0].Message, "cost limit exceeded") {
			t.Fatalf("got %+v", out.Validations[0])
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, testCompiler(t), spec)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Validate(ctx, Input{Object: podObject(t)})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("match budget", func(t *testing.T) {
		t.Parallel()
		c, err := NewCompiler(Options{MatchConditionsBudget: 3})
		if err != nil {
			t.Fatal(err)
		}
		p := mustCompile(t, c, Spec{MatchConditions: []MatchCondition{{"a", "object.spec.containers.all(c, c.name != '')"}}})
		if _, err := p.Match(context.Background(), Input{Object: podObject(t)}); !errors.Is(err, ErrOutOfBudget) {
			t.Fatalf("error %v, want ErrOutOfBudget", err)
		}
	})
}

// allowAll is an authorizer allowing everything but deletes.
type allowAll struct{}

func (allowAll) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetVerb() == "delete" {
		return authorizer.DecisionDeny, "no deletes", nil
	}
	return authorizer.DecisionAllow, "", nil
}

func TestAuthorizer(t *testing.T) {
	t.Parallel()
	p := mustCompile(t, testCompiler(t), Spec{Validations: []Validation{
		{Expression: "authorizer.group('').resource('pods').namespace('default').check('get').allowed()"},
		{Expression: "!authorizer.requestResource.check('delete').allowed()"},
		{Expression: "authorizer.serviceAccount('another-namespace', 'another-developer').group('').resource('pods').check('list').allowed()"},
	}})
	res, err := p.Validate(context.Background(), Input{Object: podObject(t), Request: podRequest(), Authorizer: allowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Validations {
		if o.Status != Pass {
			t.Fatalf("validation %d: %v %s", o.Index, o.Status, o.Message)
		}
	}
}

func TestConcurrentEvaluation(t *testing.T) {
	t.Parallel()
	p := mustCompile(t, testCompiler(t), Spec{
		Variables:   []Variable{{Name: "names", Expression: "object.spec.containers.map(c, c.name)"}},
		Validations: []Validation{{Expression: "'nginx' in variables.names"}, {Expression: "variables.names.size() == 3"}},
	})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				res, err := p.Validate(context.Background(), Input{Object: podObject(t)})
				if err != nil {
					errs <- err.Error()
					return
				}
				if res.Validations[0].Status != Pass || res.Validations[1].Status != Fail {
					errs <- "unexpected outcome"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
