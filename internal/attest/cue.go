package attest

import (
	"context"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	cuejson "cuelang.org/go/encoding/json"
)

// cuePolicy keeps compiled copies of the policy, one per concurrent
// evaluation: CUE values are not safe for concurrent use.
type cuePolicy struct {
	src  string
	pool sync.Pool // of *cueInstance
}

type cueInstance struct {
	ctx    *cue.Context
	policy cue.Value
}

func compileCUE(src string) (Policy, error) {
	inst, err := buildCUE(src)
	if err != nil {
		return nil, err
	}
	p := &cuePolicy{src: src}
	p.pool.Put(inst)
	return p, nil
}

// buildCUE compiles src in a fresh context and checks it is consistent.
func buildCUE(src string) (*cueInstance, error) {
	ctx := cuecontext.New()
	v := ctx.CompileString(src, cue.Filename("policy.cue"))
	if err := v.Err(); err != nil {
		return nil, cueCompileError(err)
	}
	if err := v.Validate(); err != nil {
		return nil, cueCompileError(err)
	}
	return &cueInstance{ctx: ctx, policy: v}, nil
}

func cueCompileError(err error) *CompileError {
	ce := &CompileError{Kind: KindCUE, Msg: cueMessage(err), Err: err}
	if pos := cueerrors.Positions(err); len(pos) > 0 {
		ce.Line, ce.Col = pos[0].Line(), pos[0].Column()
	}
	return ce
}

// cueMessage joins CUE's errors, each prefixed by its path.
func cueMessage(err error) string {
	errs := cueerrors.Errors(err)
	if len(errs) == 0 {
		return err.Error()
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	return strings.Join(msgs, "; ")
}

// Evaluate implements Policy: the statement passes when it unifies with
// the policy and the result is concrete, so a field the policy declares
// must be present in the statement (policy-controller accepts incomplete
// results; Portcullis fails closed). CUE evaluation cannot be interrupted:
// ctx is checked before and after.
func (p *cuePolicy) Evaluate(ctx context.Context, st *Statement) (Verdict, error) {
	if err := checkEval(ctx, KindCUE, st); err != nil {
		return Verdict{}, err
	}
	inst, err := p.get()
	if err != nil {
		return Verdict{}, &EvalError{Kind: KindCUE, Msg: "rebuild policy", Err: err}
	}
	defer p.pool.Put(inst)
	expr, err := cuejson.Extract("statement.json", st.raw)
	if err != nil {
		return Verdict{}, &EvalError{Kind: KindCUE, Msg: "convert statement", Err: err}
	}
	data := inst.ctx.BuildExpr(expr)
	if err := data.Err(); err != nil {
		return Verdict{}, &EvalError{Kind: KindCUE, Msg: "convert statement", Err: err}
	}
	verr := inst.policy.Unify(data).Validate(cue.Concrete(true))
	if err := ctx.Err(); err != nil {
		return Verdict{}, &EvalError{Kind: KindCUE, Msg: "context ended", Err: err}
	}
	if verr != nil {
		return Verdict{Message: "statement does not satisfy the cue policy: " + cueMessage(verr)}, nil
	}
	return Verdict{Passed: true}, nil
}

func (p *cuePolicy) get() (*cueInstance, error) {
	if v, ok := p.pool.Get().(*cueInstance); ok {
		return v, nil
	}
	return buildCUE(p.src)
}
