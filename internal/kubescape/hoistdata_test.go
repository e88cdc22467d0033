package kubescape

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// dataIterRego holds, as splitCalls and deferIterations leave them, the
// shape of rule-credentials-in-env-var (configured names iterated and
// lowered for each environment variable) in two rules with other variable
// names (the second's iteration before the environment's), a call that fails for some configured values, a function and an
// else branch that iterate over data, an iteration over data tested by the
// next expression only; and beside them shapes that must be
// left as they are: an iteration followed by nothing that reads data only,
// a nondeterministic builtin, a with modifier, a negated test, a call
// reading a variable of the body or a function's argument, a user
// function, a some declaration and a comprehension's body.
const dataIterRego = `package armo_builtins

resp(wl, m) = {"alertMessage": m, "packagename": "armo_builtins", "alertScore": 1,
	"failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}

deny[msga] {
	names := data.postureControlInputs.names
	wl := input[_]
	env := wl.spec.containers[i].env[j]
	name := names[k]
	l := lower(name)
	l != ""
	contains(lower(env.name), l)
	msga := resp(wl, sprintf("container %v %v %v %v %v", [i, env.name, name, k, l]))
}

deny[msga] {
	configured := data.postureControlInputs.names
	pod := input[_]
	n := configured[c]
	low := lower(n)
	low != ""
	e := pod.spec.containers[a].env[b]
	contains(lower(e.name), low)
	msga := resp(pod, sprintf("again %v %v %v %v %v", [a, e.name, n, c, low]))
}

deny[msga] {
	wl := input[_]
	env := wl.spec.containers[_].env[_]
	key := data.postureControlInputs.names[_]
	low := lower(key)
	contains(env.name, low)
	msga := resp(wl, sprintf("any %v", [env.name]))
}

deny[msga] {
	wl := input[_]
	key := data.postureControlInputs.names[_]
	up := upper(key)
	not startswith(wl.metadata.name, up)
	msga := resp(wl, sprintf("not %v", [wl.metadata.name]))
}

deny[msga] {
	names := data.postureControlInputs.names
	wl := input[_]
	name := names[_]
	contains(wl.metadata.name, name)
	msga := resp(wl, sprintf("direct %v", [wl.metadata.name]))
}

deny[msga] {
	prefixes := {"p", "x"}
	wl := input[_]
	pre := prefixes[_]
	startswith(wl.metadata.name, pre)
	msga := resp(wl, sprintf("prefixed %v", [wl.metadata.name]))
}

deny[msga] {
	wl := input[_]
	limit := data.postureControlInputs.limits[_]
	n := to_number(limit)
	count(wl.spec.containers) < n
	msga := resp(wl, sprintf("fewer than %v containers", [n]))
}

deny[msga] {
	wl := input[_]
	c := wl.spec.containers[_]
	matches(c.name)
	msga := resp(wl, sprintf("match %v, level %v, %v", [c.name, level(c.name), from_arg([c.name])]))
}

deny[msga] {
	names := data.postureControlInputs.names
	wl := input[_]
	name := names[_]
	contains(lower(wl.metadata.name), lower(name))
	other := names[_]
	t := time.now_ns()
	t > 0
	startswith(upper(wl.metadata.name), upper(other))
	third := names[_]
	u := upper(third) with input as []
	fourth := names[_]
	not startswith(fourth, "#")
	fifth := names[_]
	s := concat("/", [fifth, wl.metadata.name])
	sixth := names[_]
	f := from_arg([sixth])
	msga := resp(wl, sprintf("others %v %v %v %v %v %v %v", [name, other, u, fourth, s, f, t > 0]))
}

deny[msga] {
	some q
	wl := input[q]
	v := data.postureControlInputs.names[_]
	w := lower(v)
	endswith(lower(wl.metadata.name), w)
	ws := [x | y := data.postureControlInputs.names[_]; x := lower(y)]
	msga := resp(wl, sprintf("ends %v with %v of %v", [wl.metadata.name, w, ws]))
}

matches(s) {
	pat := data.postureControlInputs.names[_]
	p := lower(pat)
	p != ""
	contains(lower(s), p)
}

from_arg(xs) = out {
	x := xs[_]
	out := lower(x)
}

level(s) = "none" {
	s == ""
} else = l {
	lv := data.postureControlInputs.levels[_]
	l := upper(lv)
	startswith(upper(s), l)
}
`

// TestHoistDataIterations: the iterations over data and the pure calls
// after them become rules of the package (one for the same expressions in
// two bodies), the other shapes are left as they are, and the responses
// are those of the rules as written.
func TestHoistDataIterations(t *testing.T) {
	m, err := parseRule("raw.rego", dataIterRego)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Copy()
	if n := hoistDataIterations(h); n != 7 {
		t.Errorf("%d iterations rewritten, want 7 (two deny alike, any, not, to_number, matches, level's else):\n%v", n, h)
	}
	var lists []string
	for _, r := range h.Rules {
		if n := r.Head.Ref().String(); strings.HasPrefix(n, dataIterPrefix) {
			lists = append(lists, r.Head.Value.String())
			if !hoisted(n) {
				t.Errorf("rule %s is not taken for a hoisted one", n)
			}
		}
	}
	if len(lists) != 6 {
		t.Fatalf("%d rules added, want 6 (one for both deny alike):\n%s", len(lists), strings.Join(lists, "\n"))
	}
	if !strings.Contains(lists[0], "lower(") || !strings.Contains(lists[0], `neq(`) || !strings.Contains(lists[3], "to_number(") {
		t.Errorf("rules added:\n%s", strings.Join(lists, "\n"))
	}
	// Which bodies iterate over an added rule.
	reads := func(b ast.Body) bool {
		found := false
		ast.WalkVars(b, func(v ast.Var) bool {
			found = found || strings.HasPrefix(string(v), dataIterPrefix)
			return found
		})
		return found
	}
	var got []bool
	for _, r := range h.Rules {
		for rule := r; rule != nil; rule = rule.Else {
			if !strings.HasPrefix(r.Head.Ref().String(), hoistPrefix) {
				got = append(got, reads(rule.Body))
			}
		}
	}
	// resp, deny x10, matches, from_arg, level and its else.
	want := []bool{false, true, true, true, true, false, false, true, false, false, false, true, false, false, true}
	if !slices.Equal(got, want) {
		t.Errorf("bodies rewritten %v, want %v:\n%v", got, want, h)
	}
	// The first deny: its names kept (read by the message), the iteration
	// and the calls after it replaced by one expression.
	first := h.Rules[1].Body
	if s := first.String(); !strings.Contains(s, "assign([name, k, l], "+dataIterPrefix+"0[") ||
		strings.Contains(s, "lower(name)") || !strings.Contains(s, "contains(lower(env.name), l)") {
		t.Errorf("first deny rewritten to:\n%v", first)
	}
	checkExprIndexes(t, first)
	// The second: the iteration moved down to its first use, past the
	// environment's.
	second := h.Rules[2].Body
	at := func(s string) int {
		return slices.IndexFunc(second, func(e *ast.Expr) bool { return strings.HasPrefix(e.String(), s) })
	}
	if !(at("assign(e,") >= 0 && at("assign([n, c, low], "+dataIterPrefix+"0[") == at("assign(e,")+1) {
		t.Errorf("second deny rewritten to:\n%v", second)
	}
	checkExprIndexes(t, second)
	// The third: the iterated value only tested, one call for every
	// element; the fourth's test is negated: left an iteration.
	if s := h.Rules[3].Body.String(); !strings.Contains(s, `portcullis.any_test("contains", 1, `+dataIterPrefix) ||
		!strings.Contains(s, "[env.name, null])") || strings.Contains(s, "contains(env.name") {
		t.Errorf("third deny rewritten to:\n%s", s)
	}
	if s := h.Rules[4].Body.String(); strings.Contains(s, "any_test") || !strings.Contains(s, "not startswith(wl.metadata.name, up)") {
		t.Errorf("fourth deny rewritten to:\n%s", s)
	}
	// The fifth iterates over data with nothing to precompute: one call.
	if s := h.Rules[5].Body.String(); !strings.Contains(s, `portcullis.any_test("contains", 1, names, [wl.metadata.name, null])`) {
		t.Errorf("fifth deny rewritten to:\n%s", s)
	}
	// The sixth iterates over a set of constants, one call too.
	if s := h.Rules[6].Body.String(); !strings.Contains(s, `portcullis.any_test("startswith", 1, prefixes, [wl.metadata.name, null])`) {
		t.Errorf("sixth deny rewritten to:\n%s", s)
	}
	for _, r := range h.Rules[7:] {
		if strings.Contains(r.String(), "any_test") {
			t.Errorf("rule rewritten to an any_test, where a value is read after the test or the test has a call: %v", r)
		}
	}
	for _, r := range h.Rules {
		if strings.HasPrefix(r.Head.Ref().String(), dataIterPrefix) {
			checkExprIndexes(t, r.Head.Value.Value.(*ast.ArrayComprehension).Body)
		}
	}
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	objs := envPods(4, 3, "TOKEN_", "PLAIN", "hi_pass", "c1_key")
	d := Data{PostureControlInputs: map[string][]string{
		"names":  {"Token", "PASS", "", "c1", "Token"},
		"limits": {"2", "x", "4"}, // to_number("x") fails: that value is dropped
		"levels": {"hi", "c"},
	}}
	c, want2, got2 := asWrittenAndCompiledWith(t, m, helpers, objs, d)
	if !slices.ContainsFunc(c.Modules["raw.rego"].Rules, func(r *ast.Rule) bool {
		return strings.HasPrefix(r.Head.Ref().String(), dataIterPrefix)
	}) {
		t.Fatal("compileRule does not hoist iterations over data")
	}
	msgs := map[string]int{}
	for _, r := range want2 {
		msgs[strings.Fields(r.AlertMessage)[0]]++
	}
	// Per Pod: 3 containers x (TOKEN_i by Token at 0 and at 4, hi_pass by
	// PASS, c1_key by c1) for each of the two first
	// rules; fewer than 4 (2 is not more than 3 containers, x fails); c1
	// matches; each Pod's name ends with "" (and no other name); every
	// variable contains "" (one response per name: the containers are
	// alike); no Pod's name starts with 4 of the 5 names.
	if msgs["container"] != 4*3*4 || msgs["again"] != 4*3*4 || msgs["fewer"] != 4 || msgs["match"] != 4 || msgs["ends"] != 4 || msgs["others"] == 0 ||
		msgs["any"] != 4*4 || msgs["not"] != 4 || msgs["direct"] != 4 || msgs["prefixed"] != 4 {
		t.Fatalf("responses as written %v: %v", msgs, want2)
	}
	if fmt.Sprint(got2) != fmt.Sprint(want2) {
		t.Fatalf("rewritten responses differ:\n got %v\nwant %v", got2, want2)
	}
}

// TestAnyTestBuiltin: portcullis.any_test holds when the builtin gives a
// result other than false for some element, an error or false counting as
// no result.
func TestAnyTestBuiltin(t *testing.T) {
	strs := func(ss ...string) *ast.Term {
		var ts []*ast.Term
		for _, s := range ss {
			ts = append(ts, ast.StringTerm(s))
		}
		return ast.ArrayTerm(ts...)
	}
	for _, c := range []struct {
		f    string
		n    int
		list *ast.Term
		args *ast.Term
		want bool
	}{
		{"startswith", 1, strs("x", "b"), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), true},
		{"startswith", 1, strs("x", "c"), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), false},
		{"startswith", 0, strs("x", "bcd"), ast.ArrayTerm(ast.NullTerm(), ast.StringTerm("bc")), true},
		{"to_number", 0, strs("x", "2"), ast.ArrayTerm(ast.NullTerm()), true},  // 2 is not false
		{"to_number", 0, strs("x", "y"), ast.ArrayTerm(ast.NullTerm()), false}, // errors only
		{"startswith", 1, ast.ArrayTerm(), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), false},
		{"startswith", 1, ast.SetTerm(ast.StringTerm("x"), ast.StringTerm("b")), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), true},
		{"startswith", 1, ast.ObjectTerm(ast.Item(ast.StringTerm("b"), ast.StringTerm("x"))), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), false}, // values, not keys
		{"startswith", 1, ast.ObjectTerm(ast.Item(ast.StringTerm("x"), ast.StringTerm("b"))), ast.ArrayTerm(ast.StringTerm("bc"), ast.NullTerm()), true},
	} {
		got, err := anyTestBuiltin(rego.BuiltinContext{}, []*ast.Term{ast.StringTerm(c.f), ast.IntNumberTerm(c.n), c.list, c.args})
		if err != nil || !got.Equal(ast.BooleanTerm(c.want)) {
			t.Errorf("any_test(%s, %d, %v, %v) = %v, %v; want %v", c.f, c.n, c.list, c.args, got, err, c.want)
		}
	}
	for _, c := range [][]*ast.Term{
		{ast.StringTerm("no.such"), ast.IntNumberTerm(0), strs("a"), ast.ArrayTerm(ast.NullTerm())},
		{ast.StringTerm("startswith"), ast.IntNumberTerm(2), strs("a"), ast.ArrayTerm(ast.NullTerm(), ast.NullTerm())},
		{ast.StringTerm("startswith"), ast.IntNumberTerm(0), ast.StringTerm("ab"), ast.ArrayTerm(ast.NullTerm(), ast.StringTerm("a"))}, // not a collection
	} {
		if _, err := anyTestBuiltin(rego.BuiltinContext{}, c); err == nil {
			t.Errorf("any_test%v: no error", c)
		}
	}
}

// TestCompileRewrittenFallsBack: a rule whose rewritten form does not
// compile is compiled as written; when neither compiles, the error is the
// one of the rule as written.
func TestCompileRewrittenFallsBack(t *testing.T) {
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	// The rewrite under test adds a test of a variable bound nowhere.
	unsafe := func(m *ast.Module) *ast.Module {
		h := m.Copy()
		h.Rules[0].Body.Append(ast.MustParseExpr("rewritten_unbound == 1"))
		return h
	}
	m, err := parseRule("raw.rego", dataIterRego)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileModule("raw.rego", unsafe(m), helpers); err == nil || !strings.Contains(err.Error(), "rewritten_unbound") {
		t.Fatalf("the broken rewrite compiles: %v", err)
	}
	c, err := compileRewritten("raw.rego", m, helpers, unsafe)
	if err != nil {
		t.Fatalf("no fallback to the rule as written: %v", err)
	}
	if s := c.Modules["raw.rego"].String(); strings.Contains(s, "rewritten_unbound") {
		t.Fatalf("compiled the rewritten module:\n%s", s)
	}
	bad, err := parseRule("raw.rego", "package armo_builtins\n\ndeny[x] {\n\tx := written_unbound\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileRewritten("raw.rego", bad, helpers, unsafe); err == nil ||
		!strings.Contains(err.Error(), "written_unbound") || strings.Contains(err.Error(), "rewritten_unbound") {
		t.Fatalf("error of a rule that does not compile: %v", err)
	}
}

// TestCompileRewrittenKeepsTypeErrors: a rule whose builtin test has a
// type error is refused although anyTest would turn the test into a
// portcullis.any_test call the type checker cannot see through.
func TestCompileRewrittenKeepsTypeErrors(t *testing.T) {
	t.Parallel()
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseRule("raw.rego", `package armo_builtins

deny[msga] {
	wl := input[_]
	env := wl.spec.containers[_].env[_]
	key := data.postureControlInputs.names[_]
	n := count(env.name)
	contains(n, key)
	msga := {"alertMessage": env.name}
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rewriteRule(m).String(), declAnyTest.Name) {
		t.Fatalf("the test is not rewritten into %s: the case no longer tests anything:\n%s", declAnyTest.Name, rewriteRule(m))
	}
	_, err = compileRule("raw.rego", m, helpers)
	if err == nil || !strings.Contains(err.Error(), "rego_type_error: contains: invalid argument(s)") {
		t.Fatalf("compile = %v, want the type error of contains", err)
	}
}
