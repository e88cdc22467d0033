package kubescape

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// dataIterPrefix starts the names of the rules hoistDataIterations adds
// (hoisted: they hold no responses).
const dataIterPrefix = hoistPrefix + "data_"

// dataIterVarPrefix starts the names of the variables hoistDataIterations
// adds to a body.
const dataIterVarPrefix = "__portcullis_data_"

// hoistDataIterations rewrites, in every rule body of m (function bodies
// and else branches included; comprehension bodies left alone), an
// iteration over data and the pure calls and tests that follow it and
// read nothing but data, constants and what that iteration binds:
//
//	names := data.postureControlInputs.names
//	...
//	env := container.env[j]
//	name := names[_]                         (deferIterations put it here)
//	__portcullis_call_1 := lower(name)       (splitCalls made it an expression)
//	contains(__portcullis_call_0, __portcullis_call_1)
//
// becomes an iteration over a new rule of the package that holds, in
// order, the values of those variables the rest of the rule reads:
//
//	__portcullis_closed_data_0 := [c | names := data.postureControlInputs.names
//	                                   name := names[_]; c := lower(name)]
//	...
//	__portcullis_call_1 := __portcullis_closed_data_0[_]
//
// and that iteration then moves down to its first use, as deferIterations
// moves one (the iteration over data may stand before the workload's own
// when a call uses it:
// sprintf("(?i)%s", [value]) in regex.match(sprintf(...), env.value)).
// When the next expression is a test of that value and nothing else reads
// it, the iteration and the test become one call (see anyTest), which is
// also done for an iteration over data with nothing to precompute after it.
//
// (an array of arrays when the rest reads more than one variable). The
// rule is evaluated once per query, the first time a body reaches it, where
// the calls were evaluated once per element each time the body reached
// them: lower(name) ran for every configured name for every environment
// variable of every workload. The body's solutions are the same and come
// in the same order: the list holds one entry per solution of the
// expressions it replaces, in the order they were found, and those
// expressions depend on nothing bound elsewhere in the body. A call that
// is undefined or fails (OPA's builtin errors are not strict here: an
// error makes the call undefined) drops the same element from the list as
// it dropped the solution from the body.
//
// Only these expressions are taken in, none negated or with a with
// modifier: x := c[k] (or =, x and k not named earlier) where c is data
// or a variable bound from data, optionally with constant keys; v := t
// (or =, v not named earlier) and tests f(a, ...), where the terms read
// only data, constants and variables so bound, and call only OPA's own
// builtins that are deterministic and do not read the evaluation's context
// (print, trace, rego.*, opa.*, internal.* and relations are left out; so
// are Kubescape's builtins, which may reach a registry), with no
// comprehension. A body with a some or every declaration is left as it is,
// as is an iteration with nothing after it to precompute. Identical lists
// share one rule. m is changed in place; the added rules are appended to
// m.Rules; the number of iterations rewritten is returned.
func hoistDataIterations(m *ast.Module) int {
	h := &dataHoister{m: m}
	for _, r := range m.Rules {
		for rule := r; rule != nil; rule = rule.Else {
			h.body(rule, r.Head.Args)
		}
	}
	m.Rules = append(m.Rules, h.added...)
	return h.rewritten
}

// dataHoister holds the rules hoistDataIterations adds to a module.
type dataHoister struct {
	m         *ast.Module
	added     []*ast.Rule
	rewritten int
}

// body rewrites rule's body (see hoistDataIterations).
func (h *dataHoister) body(rule *ast.Rule, args ast.Args) {
	body := rule.Body
	for _, e := range body {
		switch e.Terms.(type) {
		case *ast.SomeDecl, *ast.Every:
			return
		}
	}
	none := map[ast.Var]bool{}
	// seen: every variable named so far (a function's arguments are bound
	// before its body); closed: those bound from data and constants only,
	// with the expression that binds each.
	seen := map[ast.Var]bool{}
	for _, a := range args {
		for v := range localVars(a, none, false) {
			seen[v] = true
		}
	}
	closed := map[ast.Var]*ast.Expr{}
	var out ast.Body
	var added []int        // positions in out of the iterations over added rules
	var direct []*ast.Expr // iterations over data left as they are
	for p := 0; p < len(body); p++ {
		e := body[p]
		if v, ok := closedAssignment(e, closed, seen); ok {
			closed[v] = e
		}
		q, binds := h.group(body, p, closed, seen)
		if q > p+1 {
			if x := h.replace(rule, body, p, q, binds, closed); x != nil {
				added = append(added, len(out))
				out = append(out, x)
				for v := range binds {
					seen[v] = true
				}
				p = q - 1
				continue
			}
		}
		if q == p+1 {
			// An iteration over data with nothing to precompute after
			// it: anyTest may still make it one call.
			direct = append(direct, e)
		}
		for v := range localVars(e, none, false) {
			seen[v] = true
		}
		out = append(out, e)
	}
	// As deferIterations does, each new iteration goes down to its first
	// use (the last first: an earlier one may be used by it). It binds
	// only new variables, read nowhere before it.
	iters := make([]*ast.Expr, len(added))
	for i := len(added) - 1; i >= 0; i-- {
		iters[i] = out[added[i]]
		sink(out, added[i], rootVars())
	}
	for _, x := range append(iters, direct...) {
		out = anyTest(out, slices.Index(out, x), args, rule.Head)
	}
	for i, e := range out {
		e.Index = i
	}
	rule.Body = out
}

// anyTest returns body with its expression i, an iteration v := H[k] over
// a rule hoistDataIterations added or over data (or a variable bound from
// it), and the next, a test f(..., v, ...) of a pure builtin (see
// pureBuiltin), replaced by one test
//
//	portcullis.any_test("f", n, H, [a1, ..., null, ..., am])
//
// (n the position of v, null standing for it): true when f holds for some
// element of H, the element in that position (portcullis.any_test,
// builtins.go). The body's solutions were one per element for which f
// held, each with the same bindings but v and k; when nothing after
// the test nor the rule's head reads v or k, they are the same solution
// repeated, and a rule's value is the same with that solution found once
// (a set holds it once; a complete rule, function or object key takes the
// same value; an else branch is taken when there is none either way). It
// is one builtin call in place of an evaluation step, a binding and a call
// per element. The test's other arguments must read only variables named
// before it (or the function's arguments), and v appear in it once, as an
// argument of its own. Otherwise body is returned as it is.
func anyTest(body ast.Body, i int, args ast.Args, head *ast.Head) ast.Body {
	if i < 0 || i+1 >= len(body) {
		return body
	}
	it, test := body[i], body[i+1]
	v, ok := it.Operand(0).Value.(ast.Var)
	if !ok {
		return body
	}
	ref := it.Operand(1).Value.(ast.Ref)
	k := ref[len(ref)-1].Value.(ast.Var)
	if test.Negated || len(test.With) > 0 || !test.IsCall() || test.IsAssignment() || test.IsEquality() {
		return body
	}
	call := ast.Call(test.Terms.([]*ast.Term))
	if b := pureBuiltin(call[0]); b == nil || len(call)-1 != len(b.Decl.FuncArgs().Args) {
		return body
	}
	bound := localVars(body[:i], rootVars(), false)
	for _, a := range args {
		for x := range localVars(a, rootVars(), false) {
			bound[x] = true
		}
	}
	pos := -1
	rest := make([]*ast.Term, 0, len(call)-1)
	for n, a := range call[1:] {
		if a.Equal(it.Operand(0)) && pos < 0 {
			pos = n
			rest = append(rest, ast.NullTerm())
			continue
		}
		for x := range localVars(a, rootVars(), false) {
			if !bound[x] {
				return body // v a second time, or a variable bound later or here
			}
		}
		if !ast.IsConstant(a.Value) && !closedVarsOnly(a) {
			return body
		}
		rest = append(rest, a)
	}
	if pos < 0 {
		return body
	}
	later := localVars(head, rootVars(), false)
	for _, e := range body[i+2:] {
		for x := range localVars(e, rootVars(), false) {
			later[x] = true
		}
	}
	if later[v] || later[k] {
		return body
	}
	x := ast.NewExpr([]*ast.Term{
		ast.RefTerm(ast.VarTerm("portcullis"), ast.StringTerm("any_test")),
		ast.StringTerm(call[0].String()),
		ast.IntNumberTerm(pos),
		listTerm(ref[:len(ref)-1]),
		ast.ArrayTerm(rest...),
	}).SetLocation(test.Location)
	out := append(ast.Body{}, body[:i]...)
	out = append(out, x)
	return append(out, body[i+2:]...)
}

// listTerm is the term of r: its variable when r is one.
func listTerm(r ast.Ref) *ast.Term {
	if len(r) == 1 {
		return r[0].Copy()
	}
	return ast.RefTerm(r.Copy()...)
}

// closedVarsOnly reports whether t is made of variables, scalars, refs
// with constant paths and arrays, sets and objects of those: terms whose
// value is looked up, without a call, a comprehension or an iteration.
func closedVarsOnly(t *ast.Term) bool {
	ok := true
	ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case ast.Call, *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			ok = false
		case ast.Ref:
			if !groundPath(x) {
				ok = false
			}
		case ast.Var:
			if x.IsWildcard() {
				ok = false
			}
		}
		return !ok
	}).Walk(t)
	return ok
}

// group returns the end q of the expressions body[p:q] hoistDataIterations
// takes in from body[p] (q = p+1 or less when there are none after it, or
// body[p] is not an iteration over data) and the variables they bind.
func (h *dataHoister) group(body ast.Body, p int, closed map[ast.Var]*ast.Expr, seen map[ast.Var]bool) (int, map[ast.Var]bool) {
	binds := map[ast.Var]bool{}
	if !closedIteration(body[p], closed, binds, seen) {
		return p, nil
	}
	q := p + 1
	for ; q < len(body); q++ {
		e := body[q]
		if closedIteration(e, closed, binds, seen) {
			continue
		}
		if v, ok := closedAssignmentWith(e, closed, binds, seen); ok {
			binds[v] = true
			continue
		}
		if !closedTest(e, closed, binds) {
			break
		}
	}
	return q, binds
}

// replace returns the expression that iterates over the rule holding the
// solutions of body[p:q] (adding that rule), or nil when the rest of the
// rule reads none of binds and body[p:q] holds only the iteration.
func (h *dataHoister) replace(rule *ast.Rule, body ast.Body, p, q int, binds map[ast.Var]bool, closed map[ast.Var]*ast.Expr) *ast.Expr {
	none := map[ast.Var]bool{}
	read := localVars(rule.Head, none, false)
	for _, e := range body[q:] {
		for v := range localVars(e, none, false) {
			read[v] = true
		}
	}
	var outs []*ast.Term
	for _, v := range varsInOrder(body[p:q]) {
		if binds[v] && read[v] && !v.IsWildcard() {
			outs = append(outs, ast.VarTerm(string(v)))
		}
	}
	// The comprehension's body: the assignments of data the expressions
	// read (in the body's order, each once), then the expressions.
	need := map[ast.Var]bool{}
	var mark func(x any)
	mark = func(x any) {
		for v := range localVars(x, none, false) {
			if d, ok := closed[v]; ok && !need[v] {
				need[v] = true
				mark(d.Operand(1))
			}
		}
	}
	for _, e := range body[p:q] {
		mark(e)
	}
	var cb ast.Body
	for _, e := range body[:p] {
		if v, ok := assignedVar(e); ok && need[v] && closed[v] == e {
			cb = append(cb, e.Copy())
		}
	}
	for _, e := range body[p:q] {
		cb = append(cb, e.Copy())
	}
	for i, e := range cb {
		e.Index = i
	}
	var head *ast.Term
	switch len(outs) {
	case 0:
		head = ast.BooleanTerm(true)
	case 1:
		head = outs[0]
	default:
		head = ast.ArrayTerm(outs...)
	}
	loc := body[p].Location
	// The comprehension's variables are renamed in the order they occur,
	// so that the same expressions in two bodies make one rule.
	renamed := map[ast.Var]ast.Var{}
	for _, v := range varsInOrder(cb) {
		renamed[v] = ast.Var(fmt.Sprintf("%sv%d", dataIterVarPrefix, len(renamed)))
	}
	rename := func(v ast.Var) (ast.Value, error) {
		if n, ok := renamed[v]; ok {
			return n, nil
		}
		return v, nil
	}
	v, err := ast.TransformVars(&ast.ArrayComprehension{Term: head.Copy(), Body: cb}, rename)
	if err != nil {
		return nil // cannot happen: rename returns no error
	}
	comp := ast.NewTerm(v.(ast.Value)).SetLocation(loc)
	name := h.rule(comp)
	if name == "" {
		return nil
	}
	// A variable of its own for the index and, with nothing read, the
	// value (a wildcard's name is shared by every expression naming it).
	idx := ast.VarTerm(fmt.Sprintf("%s%d", dataIterVarPrefix, 2*h.rewritten))
	lhs := head.Copy()
	if len(outs) == 0 {
		lhs = ast.VarTerm(fmt.Sprintf("%s%d", dataIterVarPrefix, 2*h.rewritten+1))
	}
	x := ast.Assign.Expr(lhs, ast.RefTerm(ast.VarTerm(string(name)), idx)).SetLocation(loc)
	h.rewritten++
	return x
}

// rule returns the name of the package's rule whose value is comp,
// adding it unless an identical one was added.
func (h *dataHoister) rule(comp *ast.Term) ast.Var {
	for _, r := range h.added {
		if r.Head.Value.Equal(comp) {
			return ast.Var(r.Head.Ref().String())
		}
	}
	name := fmt.Sprintf("%s%d", dataIterPrefix, len(h.added))
	r, err := ast.ParseRuleWithOpts(name+" := true { true }", ast.ParserOptions{RegoVersion: ast.RegoV0})
	if err != nil {
		return "" // cannot happen: the text is fixed
	}
	r.Head.Value = comp
	r.Location, r.Head.Location, r.Module = comp.Location, comp.Location, h.m
	h.added = append(h.added, r)
	return ast.Var(name)
}

// varsInOrder returns the variables of body in the order they first
// occur: those localVars finds, wildcards too.
func varsInOrder(body ast.Body) []ast.Var {
	local := localVars(body, rootVars(), false)
	var out []ast.Var
	seen := map[ast.Var]bool{}
	ast.WalkVars(body, func(v ast.Var) bool {
		if (local[v] || v.IsWildcard()) && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
		return false
	})
	return out
}

// rootVars are the variables that name documents, not values: input and
// data.
func rootVars() map[ast.Var]bool {
	return map[ast.Var]bool{
		ast.InputRootDocument.Value.(ast.Var):   true,
		ast.DefaultRootDocument.Value.(ast.Var): true,
	}
}

// assignedVar returns v of an expression v := t or v = t.
func assignedVar(e *ast.Expr) (ast.Var, bool) {
	if e.Negated || len(e.With) > 0 || !(e.IsAssignment() || e.IsEquality()) {
		return "", false
	}
	v, ok := e.Operand(0).Value.(ast.Var)
	return v, ok && !v.IsWildcard()
}

// closedAssignment reports whether e is v := t (or v = t) binding a
// variable not named earlier (not in seen) to a term that reads only data,
// constants and the variables of closed, and returns v.
func closedAssignment(e *ast.Expr, closed map[ast.Var]*ast.Expr, seen map[ast.Var]bool) (ast.Var, bool) {
	return closedAssignmentWith(e, closed, nil, seen)
}

// closedAssignmentWith is closedAssignment where the variables of binds
// are closed too.
func closedAssignmentWith(e *ast.Expr, closed map[ast.Var]*ast.Expr, binds, seen map[ast.Var]bool) (ast.Var, bool) {
	v, ok := assignedVar(e)
	if !ok || seen[v] || binds[v] || closed[v] != nil || !closedTerm(e.Operand(1), closed, binds) {
		return "", false
	}
	if r, ok := e.Operand(1).Value.(ast.Ref); ok && !groundPath(r) {
		return "", false // an iteration or a lookup by a variable
	}
	return v, true
}

// closedIteration reports whether e is x := c[k] (or x = c[k]) over a
// collection c that reads only data, constants and the variables of closed
// and binds, with x and k not named earlier; x and k are then added to
// binds.
func closedIteration(e *ast.Expr, closed map[ast.Var]*ast.Expr, binds, seen map[ast.Var]bool) bool {
	if !isIteration(e) {
		return false
	}
	x := e.Operand(0).Value.(ast.Var)
	ref := e.Operand(1).Value.(ast.Ref)
	k := ref[len(ref)-1].Value.(ast.Var)
	fresh := func(v ast.Var) bool { return !seen[v] && !binds[v] && closed[v] == nil }
	if x.IsWildcard() || !fresh(x) || (!k.IsWildcard() && (!fresh(k) || k == x)) {
		return false
	}
	c := ref[:len(ref)-1]
	if !groundPath(c) || !closedTerm(ast.NewTerm(c), closed, binds) {
		return false
	}
	binds[x] = true
	if !k.IsWildcard() {
		binds[k] = true
	}
	return true
}

// closedTest reports whether e is a call f(a, ...) of a pure builtin (see
// pureBuiltin) on terms that read only data, constants and the variables
// of closed and binds, with no output argument.
func closedTest(e *ast.Expr, closed map[ast.Var]*ast.Expr, binds map[ast.Var]bool) bool {
	if e.Negated || len(e.With) > 0 || !e.IsCall() || e.IsAssignment() || e.IsEquality() {
		return false
	}
	call := ast.Call(e.Terms.([]*ast.Term))
	return closedTerm(ast.CallTerm(call...), closed, binds)
}

// groundPath reports whether every term of r after its head is a
// constant (a path, not an iteration or a lookup by a variable).
func groundPath(r ast.Ref) bool {
	for _, t := range r[1:] {
		if !ast.IsScalar(t.Value) {
			return false
		}
	}
	return true
}

// closedTerm reports whether t reads only data, constants and the
// variables of closed and binds, calling only pure builtins with their
// declared arguments, and holds no comprehension.
func closedTerm(t *ast.Term, closed map[ast.Var]*ast.Expr, binds map[ast.Var]bool) bool {
	ok := true
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		if !ok {
			return true
		}
		switch x := x.(type) {
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			ok = false
		case ast.Call:
			b := pureBuiltin(x[0])
			if b == nil || len(x)-1 != len(b.Decl.FuncArgs().Args) {
				ok = false
				return true
			}
			for _, a := range x[1:] {
				vis.Walk(a)
			}
			return true
		case ast.Ref:
			if v, isVar := x[0].Value.(ast.Var); isVar && v.Equal(ast.DefaultRootDocument.Value) {
				for _, p := range x[1:] {
					vis.Walk(p)
				}
				return true
			}
		case ast.Var:
			if x.IsWildcard() || (closed[x] == nil && !binds[x]) {
				ok = false
			}
		}
		return false
	})
	vis.Walk(t)
	return ok
}

// pureBuiltin returns the declaration of the OPA builtin op names when
// its result depends on its arguments only: deterministic, not a
// relation, not one that prints, traces or reads the evaluation (print,
// trace, rego.*, opa.*, internal.*). Kubescape's builtins are not OPA's.
func pureBuiltin(op *ast.Term) *ast.Builtin {
	ref, ok := op.Value.(ast.Ref)
	if !ok {
		return nil
	}
	name := ref.String()
	b, ok := ast.BuiltinMap[name]
	if !ok || b.Nondeterministic || b.Relation || b.Decl == nil || b.Decl.FuncArgs().Variadic != nil {
		return nil
	}
	if name == ast.Print.Name || name == ast.Trace.Name || name == ast.Assign.Name || name == ast.Equality.Name {
		return nil
	}
	for _, p := range []string{"rego.", "opa.", "internal."} {
		if strings.HasPrefix(name, p) {
			return nil
		}
	}
	return b
}
