package kubescape

import (
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// hoistPrefix starts the names of the rules hoistClosedComprehensions
// adds to a rule module; the package's rules so named hold no responses.
const hoistPrefix = "__portcullis_closed_"

// hoisted reports whether name is a rule hoistClosedComprehensions added.
func hoisted(name string) bool { return strings.HasPrefix(name, hoistPrefix) }

// hoistClosedComprehensions returns a copy of m in which every closed
// comprehension of a rule body (one that shares no variable with the rest
// of its rule, function arguments included: it reads only input, data,
// the package's rules and constants) is the value of a new rule of the package, and the body
// refers to that rule. The value is the same, but OPA evaluates a rule
// once per query, where it evaluates a comprehension each time the body
// reaches it: a closed comprehension after an iteration over input (the
// list of every NetworkPolicy, built again for each workload) makes a rule
// quadratic in its input. OPA's own comprehension index only caches
// comprehensions that close over a variable of the body. Expressions with
// a with modifier are left as they are. m is not changed.
func hoistClosedComprehensions(m *ast.Module) *ast.Module {
	m = m.Copy()
	// Only input and data are taken as global: a rule name or an import
	// may be shadowed by a variable of the body, so a comprehension that
	// names one the rest of its rule names too is left as it is.
	globals := rootVars()
	var added []*ast.Rule
	rules := m.Rules
	for _, r := range rules {
		for rule := r; rule != nil; rule = rule.Else {
			outer := localVars(rule.Head, globals, true)
			for v := range localVars(rule.Body, globals, true) {
				outer[v] = true
			}
			for _, t := range bodyComprehensions(rule.Body) {
				closed := true
				for v := range localVars(t.Value, globals, false) {
					if outer[v] {
						closed = false
						break
					}
				}
				if !closed {
					continue
				}
				name := fmt.Sprintf("%s%d", hoistPrefix, len(added))
				h, err := ast.ParseRuleWithOpts(name+" := true { true }", ast.ParserOptions{RegoVersion: ast.RegoV0})
				if err != nil {
					continue // cannot happen: the text is fixed
				}
				h.Head.Value = ast.NewTerm(t.Value).SetLocation(t.Location)
				h.Location, h.Head.Location, h.Module = t.Location, t.Location, m
				added = append(added, h)
				t.Value = ast.Var(name)
			}
		}
	}
	m.Rules = append(m.Rules, added...)
	return m
}

// bodyComprehensions returns the comprehension terms of body that are not
// inside another comprehension, leaving out expressions with a with
// modifier.
func bodyComprehensions(body ast.Body) []*ast.Term {
	var out []*ast.Term
	ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Expr:
			return len(x.With) > 0
		case *ast.Term:
			if ast.IsComprehension(x.Value) {
				out = append(out, x)
				return true
			}
		}
		return false
	}).Walk(body)
	return out
}

// localVars returns the variables of x other than globals and the names of
// called functions; with skipComprehensions, not those inside
// comprehensions (they are local to the comprehension unless they also
// occur outside it).
func localVars(x any, globals map[ast.Var]bool, skipComprehensions bool) map[ast.Var]bool {
	out := map[ast.Var]bool{}
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Expr:
			if x.IsCall() {
				for _, op := range x.Operands() {
					vis.Walk(op)
				}
				for _, w := range x.With {
					vis.Walk(w)
				}
				return true
			}
		case ast.Call:
			for _, t := range x[1:] {
				vis.Walk(t)
			}
			return true
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension:
			return skipComprehensions
		case ast.Var:
			if !globals[x] && !x.IsWildcard() { // each _ is its own variable
				out[x] = true
			}
		}
		return false
	})
	vis.Walk(x)
	return out
}

// kindListPrefix starts the names of the rules indexKindIterations adds
// (hoisted: they hold no responses).
const kindListPrefix = hoistPrefix + "kind_"

// indexKindIterations rewrites, in every body of m's rules (comprehension
// bodies included), an iteration over input immediately followed by a
// test of the object's kind,
//
//	x := input[_]      (or x = input[_])
//	x.kind == "K"      (or "K" == x.kind; or s[x.kind], s bound earlier
//	                   in the body by s := S, S a set of strings)
//
// to iterate over a new rule of the package holding the objects of kind
// K, in input order: [o | o := input[_]; o.kind == "K"] (or
// [o | o := input[_]; s := S; s[o.kind]]). The test is kept.
// x takes the same values in the same order, so the body's results are the
// same, but the list is built once per query: a body that looks up
// objects of one kind for each workload (a workload's ServiceAccount)
// costs the number of objects of that kind, not of every object. Only
// this exact shape is rewritten (the index a wildcard, the test the next
// expression, neither negated nor with a with modifier; OPA rejects a
// function argument named input). m is changed in place; the added rules
// are appended to m.Rules.
func indexKindIterations(m *ast.Module) {
	lists := map[string]ast.Var{}
	var added []*ast.Rule
	// listOf returns the rule of the objects that pass test, the text of
	// a body testing o (the iterated object), adding it on first use.
	listOf := func(test string) ast.Var {
		if v, ok := lists[test]; ok {
			return v
		}
		name := ast.Var(fmt.Sprintf("%s%d", kindListPrefix, len(lists)))
		r, err := ast.ParseRuleWithOpts(fmt.Sprintf("%s := [o | o := input[_]; %s] { true }", name, test),
			ast.ParserOptions{RegoVersion: ast.RegoV0})
		if err != nil {
			return "" // cannot happen: the text is fixed, the kinds quoted
		}
		r.Module = m
		lists[test] = name
		added = append(added, r)
		return name
	}
	for _, r := range m.Rules {
		ast.NewGenericVisitor(func(x any) bool {
			switch x := x.(type) {
			case *ast.Expr:
				return len(x.With) > 0
			case ast.Body:
				for i := 0; i+1 < len(x); i++ {
					v, it := inputIteration(x[i])
					if it == nil {
						continue
					}
					var test string
					if kind, ok := kindTest(x[i+1], v); ok {
						test = "o.kind == " + ast.StringTerm(kind).String()
					} else if set, ok := kindSetTest(x[i+1], v, x[:i]); ok {
						test = "s := " + set.String() + "; s[o.kind]"
					} else {
						continue
					}
					if name := listOf(test); name != "" {
						it.Value = ast.Ref{ast.NewTerm(name).SetLocation(it.Location), it.Value.(ast.Ref)[1]}
					}
				}
			}
			return false
		}).Walk(r)
	}
	m.Rules = append(m.Rules, added...)
}

// inputIteration returns x and the term input[_] of an expression
// x := input[_] or x = input[_] (nil when e is not one).
func inputIteration(e *ast.Expr) (ast.Var, *ast.Term) {
	if e.Negated || len(e.With) > 0 || !(e.IsAssignment() || e.IsEquality()) {
		return "", nil
	}
	ops := e.Operands()
	v, ok := ops[0].Value.(ast.Var)
	if !ok || v.IsWildcard() {
		return "", nil
	}
	ref, ok := ops[1].Value.(ast.Ref)
	if !ok || len(ref) != 2 || !ref[0].Equal(ast.InputRootDocument) {
		return "", nil
	}
	if k, ok := ref[1].Value.(ast.Var); !ok || !k.IsWildcard() {
		return "", nil
	}
	return v, ops[1]
}

// kindSetTest returns the set S of an expression s[v.kind] where s is
// bound, in an expression of earlier, by s := S or s = S to a set of
// strings S (a test of v's kind against several).
func kindSetTest(e *ast.Expr, v ast.Var, earlier ast.Body) (*ast.Term, bool) {
	if e.Negated || len(e.With) > 0 || e.IsCall() {
		return nil, false
	}
	t, ok := e.Terms.(*ast.Term)
	if !ok {
		return nil, false
	}
	ref, ok := t.Value.(ast.Ref)
	if !ok || len(ref) != 2 {
		return nil, false
	}
	s, ok := ref[0].Value.(ast.Var)
	key, isRef := ref[1].Value.(ast.Ref)
	if !ok || !isRef || len(key) != 2 || key[0].Value.Compare(v) != 0 || !key[1].Equal(ast.StringTerm("kind")) {
		return nil, false
	}
	for _, b := range earlier {
		if x, ok := assignedVar(b); ok && x == s {
			set, isSet := b.Operand(1).Value.(ast.Set)
			if !isSet || !ast.IsConstant(set) {
				return nil, false
			}
			strs := true
			set.Foreach(func(t *ast.Term) {
				_, isStr := t.Value.(ast.String)
				strs = strs && isStr
			})
			return b.Operand(1), strs
		}
	}
	return nil, false
}

// kindTest returns K of an expression v.kind == "K" or "K" == v.kind.
func kindTest(e *ast.Expr, v ast.Var) (string, bool) {
	if e.Negated || len(e.With) > 0 || !e.IsCall() || !e.Operator().Equal(ast.Equal.Ref()) || len(e.Operands()) != 2 {
		return "", false
	}
	ops := e.Operands()
	for _, pair := range [][2]*ast.Term{{ops[0], ops[1]}, {ops[1], ops[0]}} {
		ref, ok := pair[0].Value.(ast.Ref)
		kind, isString := pair[1].Value.(ast.String)
		if ok && isString && len(ref) == 2 && ref[0].Value.Compare(v) == 0 && ref[1].Equal(ast.StringTerm("kind")) {
			return string(kind), true
		}
	}
	return "", false
}

// deferIterations moves, in every rule body of m (function bodies and
// else branches included; comprehension bodies, whose order can be that of
// an array, are left alone), an iteration
//
//	x := c[k]      (or x = c[k]; k a variable, c anything)
//
// down to just before the first later expression that shares a variable
// with it, when expressions that share none stand in between. Those
// expressions neither bind nor read what the iteration binds or reads, so
// the body has the same solutions; a rule's value does not depend on the
// order they are found in (sets and objects are ordered by value). But the
// expressions in between are evaluated once, not once per element of c:
//
//	key := keys[_]                      container := wl.spec.containers[i]
//	container := wl.spec.containers[i]  env := container.env[j]
//	env := container.env[j]         ->  key := keys[_]
//	contains(env.name, key)             contains(env.name, key)
//
// walks the containers and their environment once per workload instead of
// once per key. An iteration is not moved past an expression with a with
// modifier, a some or every declaration, nor is a negated one, one
// with a with modifier or one whose x or k an earlier expression names
// (a test, not an iteration) moved. m is changed in place; the number of
// iterations moved is returned.
func deferIterations(m *ast.Module) int {
	globals := rootVars()
	moved := 0
	for _, r := range m.Rules {
		for rule := r; rule != nil; rule = rule.Else {
			moved += deferBody(rule.Body, globals)
		}
	}
	return moved
}

// deferBody moves the iterations of body (see deferIterations) and
// returns how many it moved.
func deferBody(body ast.Body, globals map[ast.Var]bool) int {
	moved := 0
	// From the last expression up: the expressions an iteration moves
	// past have been looked at, and each is looked at once.
	for p := len(body) - 1; p >= 0; p-- {
		e := body[p]
		if !isIteration(e) || bindsEarlier(e, body[:p], globals) {
			continue
		}
		if sink(body, p, globals) {
			moved++
		}
	}
	for i, e := range body {
		e.Index = i
	}
	return moved
}

// sink moves body[p] down past the expressions after it that share no
// variable with it, up to the first that does (or a barrier), and reports
// whether it moved. Expression indexes are left to the caller.
func sink(body ast.Body, p int, globals map[ast.Var]bool) bool {
	e := body[p]
	vars := localVars(e, globals, false)
	q := p + 1
	for q < len(body) && !barrier(body[q]) && !sharesVar(body[q], vars, globals) {
		q++
	}
	if q == p+1 {
		return false
	}
	// body[p+1:q] share no variable with e: e goes after them.
	copy(body[p:q-1], body[p+1:q])
	body[q-1] = e
	return true
}

// isIteration reports whether e is x := c[k] or x = c[k], k a variable
// (an iteration over c), neither negated nor with a with modifier.
func isIteration(e *ast.Expr) bool {
	if e.Negated || len(e.With) > 0 || !(e.IsAssignment() || e.IsEquality()) {
		return false
	}
	ops := e.Operands()
	if len(ops) != 2 {
		return false
	}
	if _, ok := ops[0].Value.(ast.Var); !ok {
		return false
	}
	ref, ok := ops[1].Value.(ast.Ref)
	if !ok || len(ref) < 2 {
		return false
	}
	_, ok = ref[len(ref)-1].Value.(ast.Var)
	return ok
}

// bindsEarlier reports whether the variable e assigns or its index
// (x and k of x := c[k]) is named before it, in earlier: e then tests
// values, it does not iterate, and is left where it is.
func bindsEarlier(e *ast.Expr, earlier ast.Body, globals map[ast.Var]bool) bool {
	ops := e.Operands()
	ref := ops[1].Value.(ast.Ref)
	own := map[ast.Var]bool{ops[0].Value.(ast.Var): true}
	if k := ref[len(ref)-1].Value.(ast.Var); !k.IsWildcard() {
		own[k] = true
	}
	for _, x := range earlier {
		if sharesVar(x, own, globals) {
			return true
		}
	}
	return false
}

// barrier reports whether e is an expression no iteration is moved past:
// one with a with modifier, a some or every declaration.
func barrier(e *ast.Expr) bool {
	if len(e.With) > 0 {
		return true
	}
	switch e.Terms.(type) {
	case *ast.SomeDecl, *ast.Every:
		return true
	}
	return false
}

// sharesVar reports whether e names one of vars (in any comprehension
// or call of it too).
func sharesVar(e *ast.Expr, vars map[ast.Var]bool, globals map[ast.Var]bool) bool {
	for v := range localVars(e, globals, false) {
		if vars[v] {
			return true
		}
	}
	return false
}

// callVarPrefix starts the names of the variables splitCalls adds.
const callVarPrefix = "__portcullis_call_"

// splitCalls rewrites, in every rule body of m (as deferIterations:
// function bodies and else branches included, comprehension bodies left
// alone), each call that is an argument of another expression's call
//
//	contains(lower(env.name), lower(key))
//
// into an assignment of its own just before that expression:
//
//	__portcullis_call_0 := lower(env.name)
//	__portcullis_call_1 := lower(key)
//	contains(__portcullis_call_0, __portcullis_call_1)
//
// That is what OPA's compiler makes of nested calls anyway (each into an
// expression of its own, in the same order), so the body means the same;
// but deferIterations, which runs next, sees each call apart and moves an
// iteration past those that do not use it: lower(env.name) is then
// evaluated once per variable, not once per key. Negated expressions,
// expressions with a with modifier, assignments and unifications (whose
// calls are already expressions of their own once compiled) are left as
// they are. m is changed in place; the number of calls split out is
// returned.
func splitCalls(m *ast.Module) int {
	n := 0
	for _, r := range m.Rules {
		for rule := r; rule != nil; rule = rule.Else {
			var body ast.Body
			for _, e := range rule.Body {
				terms, ok := e.Terms.([]*ast.Term)
				if !ok || !e.IsCall() || e.Negated || len(e.With) > 0 || e.IsAssignment() || e.IsEquality() {
					body = append(body, e)
					continue
				}
				for i := 1; i < len(terms); i++ {
					if _, ok := terms[i].Value.(ast.Call); !ok {
						continue
					}
					v := ast.VarTerm(fmt.Sprintf("%s%d", callVarPrefix, n)).SetLocation(terms[i].Location)
					n++
					a := ast.Assign.Expr(v, terms[i]).SetLocation(e.Location)
					body = append(body, a)
					terms[i] = v.Copy()
				}
				body = append(body, e)
			}
			for i, e := range body {
				e.Index = i
			}
			rule.Body = body
		}
	}
	return n
}
