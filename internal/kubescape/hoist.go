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
	globals := map[ast.Var]bool{
		ast.InputRootDocument.Value.(ast.Var):   true,
		ast.DefaultRootDocument.Value.(ast.Var): true,
	}
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
