package attest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

const (
	regoPackage = "sigstore"
	regoRule    = "isCompliant"
	regoQuery   = "data." + regoPackage + "." + regoRule
	regoFile    = "policy.rego"
)

// regoUnsafeBuiltins are refused at compile time: they do I/O or expose
// the process environment, which has no place in an admission decision.
var regoUnsafeBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

type regoPolicy struct {
	query rego.PreparedEvalQuery
}

func compileRego(ctx context.Context, src string) (Policy, error) {
	mod, version, err := parseRego(src)
	if err != nil {
		return nil, err
	}
	if got := mod.Package.Path.String(); got != "data."+regoPackage {
		return nil, regoCompileError(fmt.Sprintf("package is %s, want %s", strings.TrimPrefix(got, "data."), regoPackage), mod.Package.Location, nil)
	}
	if !slices.ContainsFunc(mod.Rules, func(r *ast.Rule) bool {
		ref := r.Head.Ref()
		return len(ref) > 0 && ref[0].Equal(ast.VarTerm(regoRule))
	}) {
		return nil, regoCompileError(fmt.Sprintf("package %s has no %s rule", regoPackage, regoRule), mod.Package.Location, nil)
	}
	unsafe := make(map[string]struct{}, len(regoUnsafeBuiltins))
	for _, b := range regoUnsafeBuiltins {
		unsafe[b] = struct{}{}
	}
	pq, err := rego.New(
		rego.Query(regoQuery),
		rego.ParsedModule(mod),
		rego.SetRegoVersion(version),
		rego.UnsafeBuiltins(unsafe),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, regoError(err)
	}
	return &regoPolicy{query: pq}, nil
}

// parseRego parses src as Rego v1 and, failing that, as v0; when both
// fail the v1 error is returned.
func parseRego(src string) (*ast.Module, ast.RegoVersion, error) {
	mod, err := ast.ParseModuleWithOpts(regoFile, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err == nil {
		return mod, ast.RegoV1, nil
	}
	mod0, err0 := ast.ParseModuleWithOpts(regoFile, src, ast.ParserOptions{RegoVersion: ast.RegoV0})
	if err0 == nil {
		return mod0, ast.RegoV0, nil
	}
	return nil, 0, regoError(err)
}

// regoError turns an OPA error into a CompileError located at its first
// problem.
func regoError(err error) error {
	var errs ast.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		return &CompileError{Kind: KindRego, Msg: err.Error(), Err: err}
	}
	msgs := make([]string, 0, len(errs))
	for i, e := range errs {
		m := e.Code + ": " + e.Message
		if i > 0 && e.Location != nil {
			m = fmt.Sprintf("%d:%d: %s", e.Location.Row, e.Location.Col, m)
		}
		msgs = append(msgs, m)
	}
	return regoCompileError(strings.Join(msgs, "; "), errs[0].Location, err)
}

func regoCompileError(msg string, loc *ast.Location, err error) *CompileError {
	ce := &CompileError{Kind: KindRego, Msg: msg, Err: err}
	if loc != nil {
		ce.Line, ce.Col = loc.Row, loc.Col
	}
	return ce
}

// Evaluate implements Policy: isCompliant true, or a result object with
// "result": true, passes. Undefined, false or an empty set fails.
func (p *regoPolicy) Evaluate(ctx context.Context, st *Statement) (Verdict, error) {
	if err := checkEval(ctx, KindRego, st); err != nil {
		return Verdict{}, err
	}
	input, err := st.regoValue()
	if err != nil {
		return Verdict{}, &EvalError{Kind: KindRego, Msg: "convert statement to input", Err: err}
	}
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return Verdict{}, &EvalError{Kind: KindRego, Msg: regoQuery, Err: err}
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Verdict{Message: regoRule + " is undefined"}, nil
	}
	return regoVerdict(rs[0].Expressions[0].Value)
}

// regoVerdict interprets the value of isCompliant: a boolean, a result
// object, or a set (array) of result objects, which passes when any
// object's result is true.
func regoVerdict(v any) (Verdict, error) {
	var objs []any
	switch t := v.(type) {
	case bool:
		if t {
			return Verdict{Passed: true}, nil
		}
		return Verdict{Message: regoRule + " is false"}, nil
	case map[string]any:
		objs = []any{t}
	case []any:
		if len(t) == 0 {
			return Verdict{Message: regoRule + " has no results"}, nil
		}
		objs = t
	default:
		return Verdict{}, &EvalError{Kind: KindRego, Msg: fmt.Sprintf("%s is a %s, want a boolean or result objects", regoRule, jsonKind(v))}
	}
	var vd Verdict
	var errs []string
	for i, o := range objs {
		m, ok := o.(map[string]any)
		if !ok {
			return Verdict{}, &EvalError{Kind: KindRego, Msg: fmt.Sprintf("%s result %d is a %s, want an object", regoRule, i, jsonKind(o))}
		}
		res, err := resultField[bool](m, "result", i)
		if err != nil {
			return Verdict{}, err
		}
		msg, err := resultField[string](m, "error", i)
		if err != nil {
			return Verdict{}, err
		}
		warn, err := resultField[string](m, "warning", i)
		if err != nil {
			return Verdict{}, err
		}
		vd.Passed = vd.Passed || res
		if warn != "" && !slices.Contains(vd.Warnings, warn) {
			vd.Warnings = append(vd.Warnings, warn)
		}
		if !res && msg != "" && !slices.Contains(errs, msg) {
			errs = append(errs, msg)
		}
	}
	if !vd.Passed {
		vd.Message = regoRule + " is false"
		if len(errs) > 0 {
			vd.Message = strings.Join(errs, "; ")
		}
	}
	return vd, nil
}

// resultField returns m[key] as a T, the zero value when absent.
func resultField[T any](m map[string]any, key string, i int) (T, error) {
	var zero T
	v, ok := m[key]
	if !ok {
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return zero, &EvalError{Kind: KindRego, Msg: fmt.Sprintf("%s result %d: %q is a %s, want a %T", regoRule, i, key, jsonKind(v), zero)}
	}
	return t, nil
}

// regoValue converts the statement to a Rego value once.
func (s *Statement) regoValue() (ast.Value, error) {
	s.regoOnce.Do(func() {
		s.regoInput, s.regoErr = ast.InterfaceToValue(s.doc)
	})
	return s.regoInput, s.regoErr
}
