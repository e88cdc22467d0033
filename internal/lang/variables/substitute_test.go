package variables

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jmespath "github.com/kyverno/go-jmespath"
)

func TestSubstituteValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string // JSON document
		want string // JSON of the expected result
	}{
		{"typed number", `"{{request.object.spec.containers[0].ports[0].containerPort}}"`, `80`},
		{"typed map", `"{{request.object.metadata.labels}}"`, `{"app":"nginx","app.kubernetes.io/name":"web-app"}`},
		{"typed list", `"{{cfg.list}}"`, `["a","b"]`},
		{"typed bool", `"{{request.object.spec.hostNetwork}}"`, `false`},
		{"typed null", `"{{cfg.nil}}"`, `null`},
		{"typed string", `"{{request.object.metadata.name}}"`, `"web"`},
		{"whitespace inside braces", `"{{   request.object.metadata.name   }}"`, `"web"`},
		{"no variables", `"plain {text} $ {{"`, `"plain {text} $ {{"`},
		{"concatenation", `"pod-{{request.object.metadata.name}}-{{ request.namespace }}"`, `"pod-web-prod"`},
		{"adjacent variables", `"{{request.namespace}}{{request.object.metadata.name}}"`, `"prodweb"`},
		{"integer in string", `"n={{cfg.n}}"`, `"n=5"`},
		{"float in string", `"f={{cfg.f}}"`, `"f=1.5"`},
		{"negative in string", `"v={{cfg.neg}}"`, `"v=-2"`},
		{"large float in string", `"v={{cfg.big}}"`, `"v=1e+21"`},
		{"bool in string", `"v={{cfg.yes}}"`, `"v=true"`},
		{"null in string", `"v={{cfg.nil}}"`, `"v=null"`},
		{"list in string", `"v={{cfg.list}}"`, `"v=[\"a\",\"b\"]"`},
		{"map in string is sorted JSON", `"v={{request.object.metadata.labels}}"`, `"v={\"app\":\"nginx\",\"app.kubernetes.io/name\":\"web-app\"}"`},
		{"html escaped like encoding/json", `"v={{cfg.html}}"`, `"v={\"h\":\"\\u003cb\\u003e\\u0026\"}"`},
		{"escaped variable", `"\\{{request.object.metadata.name}}"`, `"{{request.object.metadata.name}}"`},
		{"escaped and real", `"\\{{a}} and {{request.namespace}}"`, `"{{a}} and prod"`},
		{"nested variable", `"{{request.object.metadata.labels.{{cfg.labelKey}}}}"`, `"nginx"`},
		{"nested variable in text", `"app={{ request.object.metadata.labels.{{ cfg.labelKey }} }}!"`, `"app=nginx!"`},
		{"whole variable result is not re-expanded", `"{{cfg.indirect}}"`, `"{{cfg.n}}"`},
		{"partial result is re-expanded", `"x-{{cfg.indirect}}"`, `"x-5"`},
		{"typed map result is traversed", `"{{request.object.metadata.annotations}}"`, `{"template":5}`},
		{"map JSON in string is re-expanded", `"a={{request.object.metadata.annotations}}"`, `"a={\"template\":\"5\"}"`},
		{"jmespath default with ||", `"{{ request.object.metadata.labels.missing || 'none' }}"`, `"none"`},
		{"jmespath function", `"{{ length(request.object.spec.containers) }}"`, `2`},
		{"multiselect hash with single braces", `"{{ {n: request.object.metadata.name} }}"`, `{"n":"web"}`},
		{"service account", `"{{serviceAccountName}}/{{serviceAccountNamespace}}"`, `"builder/kube-system"`},
		{"operation default", `"{{request.operation}}"`, `"CREATE"`},
		{"map key", `{"{{request.object.metadata.name}}-key": "v", "plain": "{{request.namespace}}"}`, `{"plain":"prod","web-key":"v"}`},
		{"map key resolving to null keeps key", `{"{{cfg.nil}}": 1}`, `{"{{cfg.nil}}":1}`},
		{"nested documents", `{"a": [{"b": "{{cfg.n}}"}, "x{{cfg.f}}", 3, true, null]}`, `{"a":[{"b":5},"x1.5",3,true,null]}`},
		{"images variable", `"{{images.containers.side.registry}} {{images.initContainers.init.reference}}"`, `"localhost:5000 docker.io/library/busybox:latest"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestContext(t)
			doc := mustJSON(t, tt.doc)
			before := toJSON(t, doc)
			got, err := Substitute(c, doc)
			if err != nil {
				t.Fatalf("Substitute(%s) error: %v", tt.doc, err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("Substitute(%s) = %s, want %s", tt.doc, g, tt.want)
			}
			if after := toJSON(t, doc); after != before {
				t.Errorf("input was modified: %s -> %s", before, after)
			}
		})
	}
}

func TestSubstituteErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		doc      string
		want     string // fragment of the error message
		notFound bool   // IsNotFound(err) expected
		path     string // expected SubstitutionError.Path, "-" to skip
	}{
		{"missing key", `{"key": "{{request.object.metadata.labels.missing}}"}`,
			`failed to resolve request.object.metadata.labels.missing at path /key: JMESPath query failed: Unknown key "missing" in path`, true, "/key"},
		{"missing key in text", `["x", "a-{{nope}}"]`, `failed to resolve nope at path /1`, true, "/1"},
		{"missing nested inner", `"{{request.object.metadata.{{cfg.absent}}}}"`, `failed to resolve cfg.absent at path :`, true, ""},
		{"missing key at root", `"{{request.object.spec.missing.deeper}}"`, `Unknown key "missing"`, true, ""},
		{"syntax error", `{"a": {"b": "{{ request.object.[ }}"}}`, `incorrect query request.object.[`, false, "/a/b"},
		{"empty variable", `"{{ }}"`, `invalid query (nil)`, false, ""},
		{"key to number", `{"m": {"{{cfg.keyNum}}": 1}}`, `expected string after substituting variables in key "{{cfg.keyNum}}" at path /m`, false, "-"},
		{"missing variable in key", `{"{{nope}}": 1}`, `failed to resolve nope`, true, ""},
		{"self reference does not converge", `"{{cfg.self}}-"`, `does not converge`, false, ""},
		{"multi-byte character before a variable breaks it, as in Kyverno", `"«{{request.namespace}}"`, "failed to resolve \xabrequest.namespace at path : incorrect query", false, ""},
		{"slash in key is escaped in path", `{"a/b": "{{nope}}"}`, `at path /a\/b`, true, `/a\/b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestContext(t)
			got, err := Substitute(c, mustJSON(t, tt.doc))
			if err == nil {
				t.Fatalf("Substitute(%s) = %v, want error", tt.doc, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if IsNotFound(err) != tt.notFound {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if tt.path != "-" {
				var se *SubstitutionError
				if !errors.As(err, &se) {
					t.Fatalf("error %v is not a *SubstitutionError", err)
				}
				if se.Path != tt.path {
					t.Errorf("Path = %q, want %q", se.Path, tt.path)
				}
			}
		})
	}
}

func TestSubstituteConditions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		want    string
		wantErr string
	}{
		{"resolved key keeps type", `{"key": "{{request.object.spec.containers[0].ports[0].containerPort}}", "operator": "GreaterThan", "value": 10}`,
			`{"key":80,"operator":"GreaterThan","value":10}`, ""},
		{"default operand", `{"key": "{{request.object.metadata.labels.x || ''}}", "operator": "Equals", "value": ""}`,
			`{"key":"","operator":"Equals","value":""}`, ""},
		{"unresolved variable is an error as in current Kyverno", `{"key": "{{request.object.metadata.labels.x}}"}`,
			"", `failed to resolve request.object.metadata.labels.x at path /key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := SubstituteConditions(newTestContext(t), mustJSON(t, tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("got %s, want %s", g, tt.want)
			}
		})
	}
}

func TestSubstituteAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		base   string
		doc    string
		target string // JSON for "target", empty for none
		want   string
	}{
		{"validate pattern base", "/validate/pattern", `{"spec": {"containers": [{"image": "{{@}}"}, {"name": "{{ @ }}"}]}}`, "",
			`{"spec":{"containers":[{"image":"nginx:1.25"},{"name":"side"}]}}`},
		{"kyverno quirk without base drops two segments", "", `{"x": {"y": {"metadata": {"name": "{{@}}"}}}}`, "",
			`{"x":{"y":{"metadata":{"name":"web"}}}}`},
		{"short path resolves to the whole object kind", "/validate/pattern", `{"kind": "{{@}}"}`, "", `{"kind":"Pod"}`},
		{"foreach segments skipped", "/mutate/foreach/0/patchStrategicMerge", `{"metadata": {"labels": {"app": "{{@}}"}}}`, "",
			`{"metadata":{"labels":{"app":"nginx"}}}`},
		{"target preferred when present", "/mutate/patchStrategicMerge", `{"metadata": {"name": "{{@}}"}}`, `{"metadata": {"name": "tgt"}}`,
			`{"metadata":{"name":"tgt"}}`},
		{"@ used inside a nested variable", "/validate/pattern", `{"metadata": {"name": "{{ to_string(length('{{@}}')) }}"}}`, "",
			`{"metadata":{"name":"3"}}`},
		{"quoted segment", "/validate/pattern", `{"metadata": {"labels": {"app.kubernetes.io/name": "{{@}}"}}}`, "",
			`{"metadata":{"labels":{"app.kubernetes.io/name":"web-app"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestContext(t)
			if tt.target != "" {
				if err := c.Replace("target", mustMap(t, tt.target)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := SubstituteAt(c, mustJSON(t, tt.doc), tt.base)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("got %s, want %s", g, tt.want)
			}
		})
	}
}

func TestSubstituteDelete(t *testing.T) {
	t.Parallel()
	c := NewContext(forkSearcher{})
	c.SetRequest(Request{Operation: "DELETE", OldObject: mustMap(t, `{"kind": "Pod", "metadata": {"name": "old", "namespace": "ns1"}}`)})
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"object read from oldObject", `"{{request.object.metadata.name}}"`, `"old"`},
		{"nested rewrite", `"{{request.object.metadata.{{'name'}}}}"`, `"old"`},
		{"namespace from old object", `"{{request.namespace}}/{{request.operation}}"`, `"ns1/DELETE"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Substitute(c, mustJSON(t, tt.doc))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("got %s, want %s", g, tt.want)
			}
		})
	}
}

func TestSubstituteReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		want    string
		wantErr string
	}{
		{"relative sibling", `{"spec": {"name": "x", "image": "$(../name)"}}`, `{"spec":{"image":"x","name":"x"}}`, ""},
		{"absolute path", `{"a": {"b": "v"}, "c": "ref-$(/a/b)"}`, `{"a":{"b":"v"},"c":"ref-v"}`, ""},
		{"anchors ignored", `{"spec": {"(name)": "x", "=(image)": "$(../name)"}}`, `{"spec":{"(name)":"x","=(image)":"x"}}`, ""},
		{"operator with number", `{"spec": {"min": 3, "max": "$(<=../min)"}}`, `{"spec":{"max":"\u003c=3.000000","min":3}}`, ""},
		{"escaped reference", `{"a": "\\$(../b)", "b": "x"}`, `{"a":"$(../b)","b":"x"}`, ""},
		{"references before variables", `{"a": "{{request.namespace}}", "b": "$(../a)"}`, `{"a":"prod","b":"prod"}`, ""},
		{"missing reference", `{"a": "$(../nope)"}`, "", `failed to resolve $(../nope) at path /a: reference not found`},
		{"non-string reference", `{"a": "$(../b)", "b": 5}`, "", `reference resolved to float64, not a string`},
		{"empty reference", `{"a": "$(>=)"}`, "", `expected path, found empty reference`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Substitute(newTestContext(t), mustJSON(t, tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if g := toJSON(t, got); g != tt.want {
				t.Errorf("got %s, want %s", g, tt.want)
			}
		})
	}
}

func TestSubstituteResultIsIndependentOfContext(t *testing.T) {
	t.Parallel()
	c := newTestContext(t)
	got, err := Substitute(c, map[string]any{"m": "{{request.object.metadata.labels}}"})
	if err != nil {
		t.Fatal(err)
	}
	got.(map[string]any)["m"].(map[string]any)["app"] = "changed"
	v, err := c.Query("request.object.metadata.labels.app")
	if err != nil || v != "nginx" {
		t.Fatalf("context changed through substituted result: %v, %v", v, err)
	}
}

func TestSubstituteUnchangedSharesInput(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"a": []any{"x", map[string]any{"b": 1.0}}, "c": "{{request.namespace}}"}
	got, err := Substitute(newTestContext(t), doc)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if reflect.ValueOf(m["a"]).Pointer() != reflect.ValueOf(doc["a"]).Pointer() {
		t.Errorf("unchanged subtree was copied")
	}
	if m["c"] != "prod" || doc["c"] != "{{request.namespace}}" {
		t.Errorf("got %v, input %v", m["c"], doc["c"])
	}
}

func TestHasVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  any
		want bool
	}{
		{"plain string", "abc", false},
		{"variable", "a{{b}}", true},
		{"escaped variable", `\{{b}}`, true},
		{"reference", "$(../a)", true},
		{"single braces", "{a}", false},
		{"in key", map[string]any{"{{k}}": 1.0}, true},
		{"deep in list", []any{1.0, map[string]any{"a": []any{"x", "{{y}}"}}}, true},
		{"no variables deep", []any{1.0, true, nil, map[string]any{"a": []any{"x"}}}, false},
		{"number", 5.0, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HasVariables(tt.doc); got != tt.want {
				t.Errorf("HasVariables(%v) = %v, want %v", tt.doc, got, tt.want)
			}
		})
	}
}

func TestJMESPathOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		segs []string
		want string
	}{
		{"identifiers", []string{"request", "object", "spec"}, "request.object.spec"},
		{"index", []string{"request", "object", "containers", "0", "image"}, "request.object.containers[0].image"},
		{"quoted", []string{"a", "app.kubernetes.io/name"}, `a."app.kubernetes.io\/name"`},
		{"anchor bare", []string{"a", "(name)"}, "a.(name)"},
		{"quote escaped", []string{"a", `x"y`}, `a."x\"y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := jmesPathOf(tt.segs); got != tt.want {
				t.Errorf("jmesPathOf(%q) = %s, want %s", tt.segs, got, tt.want)
			}
		})
	}
}

// notFoundSearcher reports a missing key for any expression containing
// "missing" and delegates everything else to the fork.
type notFoundSearcher struct{}

func (notFoundSearcher) Search(expr string, data any) (any, error) {
	if strings.Contains(expr, "missing") {
		return nil, jmespath.NotFoundError{}
	}
	return jmespath.Search(expr, data)
}

func TestQueryOrFallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		expr    string
		want    any
		wantErr string
	}{
		{"first missing second literal", "missing.a || 'x'", "x", ""},
		{"parenthesised", "(missing.a || `3`)", 3.0, ""},
		{"nested fallback", "missing.a || (missing.b || 'y')", "y", ""},
		{"all missing yields null", "missing.a || missing.b", nil, ""},
		{"falsy last operand returned", "missing.a || ''", "", ""},
		{"quoted pipes not split", "missing.a || '||'", "||", ""},
		{"no or is an error", "missing.a", nil, "JMESPath query failed"},
		{"syntax error in operand", "missing.a || [", nil, "fallback JMESPath query"},
	}
	c := NewContext(notFoundSearcher{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Query(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Query(%q) error = %v, want %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Query(%q): %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Query(%q) = %#v, want %#v", tt.expr, got, tt.want)
			}
		})
	}
}

func FuzzSubstitute(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "{{request.object.metadata.name}}", "a{{cfg.n}}b{{cfg.list}}",
		`\{{x}}`, "{{ {a: b} }}", "{{a.{{b}}}}", "{{@}}", "$(../a)", `\$(x)`, "{{{{}}}}",
		"{{cfg.self}}x", "{{ request.object.[ }}", "$(", "{{", "}}", "$()", "x$(>=/a)",
	} {
		f.Add(seed)
	}
	c := newTestContext(f)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Substitute(c, s)
		_, _ = Substitute(c, map[string]any{s: []any{s, map[string]any{"k": s}}})
		_, _ = SubstituteAt(c, map[string]any{"a": map[string]any{"b": s}}, "/validate/pattern")
		_ = HasVariables(s)
	})
}

func BenchmarkSubstituteDenyBlock(b *testing.B) {
	c := newTestContextWith(b, &cachingSearcher{})
	deny := mustJSON(b, `{
	  "message": "Container {{ request.object.metadata.name }} in {{request.namespace}} uses a forbidden image",
	  "deny": {"conditions": {"any": [
	    {"key": "{{ request.object.spec.containers[].name }}", "operator": "AnyIn", "value": ["a", "b"]},
	    {"key": "{{ request.object.metadata.labels.app || '' }}", "operator": "Equals", "value": "nginx-{{ request.namespace }}"},
	    {"key": "{{ images.containers.c1.registry }}", "operator": "NotEquals", "value": "docker.io"}
	  ]}}
	}`)
	// Every variable is substituted: checked once before timing.
	out, err := Substitute(c, deny)
	if err != nil {
		b.Fatal(err)
	}
	if js, err := json.Marshal(out); err != nil || bytes.Contains(js, []byte("{{")) {
		b.Fatalf("Substitute left variables: %s (%v)", js, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Substitute(c, deny); err != nil {
			b.Fatal(err)
		}
	}
}
