package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// celInterruptCheck is how many comprehension iterations run between
// checks of the context.
const celInterruptCheck = 100

// celMaxQuoted is how much of an expression a failure message quotes.
const celMaxQuoted = 200

type celPolicy struct {
	src string
	prg cel.Program
}

func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("statement", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("predicate", cel.DynType),
		cel.Variable("predicateType", cel.StringType),
		cel.Variable("subject", cel.ListType(cel.MapType(cel.StringType, cel.DynType))),
		cel.OptionalTypes(),
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
		ext.Lists(),
		ext.Sets(),
		ext.Math(),
		ext.Encoders(),
	)
}

func compileCEL(src string, o options) (Policy, error) {
	env, err := celEnv()
	if err != nil {
		return nil, &CompileError{Kind: KindCEL, Msg: "build environment", Err: err}
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		ce := &CompileError{Kind: KindCEL, Msg: iss.Err().Error(), Err: iss.Err()}
		if errs := iss.Errors(); len(errs) > 0 {
			ce.Msg = errs[0].Message
			if loc := errs[0].Location; loc != nil && loc.Line() > 0 {
				ce.Line, ce.Col = loc.Line(), max(loc.Column()+1, 1)
			}
			if len(errs) > 1 {
				ce.Msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
			}
		}
		return nil, ce
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		return nil, &CompileError{Kind: KindCEL, Line: 1, Col: 1, Msg: fmt.Sprintf("expression has type %s, want bool (compare dynamic values explicitly, e.g. x == true)", t)}
	}
	prg, err := env.Program(ast,
		cel.CostLimit(o.celCostLimit),
		cel.InterruptCheckFrequency(celInterruptCheck),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, &CompileError{Kind: KindCEL, Msg: "plan program", Err: err}
	}
	return &celPolicy{src: src, prg: prg}, nil
}

// Evaluate implements Policy: the statement passes when the expression is
// true. Runtime errors (a missing key, a type mismatch), the cost limit
// and an ended context are EvalErrors naming the expression.
func (p *celPolicy) Evaluate(ctx context.Context, st *Statement) (Verdict, error) {
	if err := checkEval(ctx, KindCEL, st); err != nil {
		return Verdict{}, err
	}
	out, _, err := p.prg.ContextEval(ctx, st.celActivation())
	if err != nil {
		var cancelled interpreter.EvalCancelledError
		if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
			err = fmt.Errorf("%w: %w", ErrCostLimit, err)
		}
		return Verdict{}, &EvalError{Kind: KindCEL, Msg: "expression " + p.quoted(), Err: err}
	}
	b, ok := out.Value().(bool)
	if !ok {
		return Verdict{}, &EvalError{Kind: KindCEL, Msg: fmt.Sprintf("expression %s returned %s, want bool", p.quoted(), out.Type())}
	}
	if !b {
		return Verdict{Message: fmt.Sprintf("cel expression %s is false", p.quoted())}, nil
	}
	return Verdict{Passed: true}, nil
}

func (p *celPolicy) quoted() string {
	s := p.src
	if r := []rune(s); len(r) > celMaxQuoted {
		s = string(r[:celMaxQuoted]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// celActivation returns the CEL variables for the statement, built once:
// JSON numbers become int64 when integral and in range, float64 otherwise.
func (s *Statement) celActivation() map[string]any {
	s.celOnce.Do(func() {
		doc := celValue(s.doc).(map[string]any)
		s.celVars = map[string]any{
			"statement":     doc,
			"predicate":     doc["predicate"],
			"predicateType": s.PredicateType,
			"subject":       doc["subject"],
		}
	})
	return s.celVars
}

func celValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = celValue(e)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = celValue(e)
		}
		return l
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}
