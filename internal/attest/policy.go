package attest

import (
	"context"
	"errors"
	"fmt"
)

// Policy kinds accepted by Compile.
const (
	KindRego = "rego"
	KindCUE  = "cue"
	KindCEL  = "cel"
)

const (
	// DefaultCELCostLimit is the runtime cost limit of a CEL expression
	// unless WithCELCostLimit says otherwise (Kubernetes' per-expression
	// limit).
	DefaultCELCostLimit = 1_000_000
	// MaxPolicySize is the largest policy source Compile accepts, in bytes.
	MaxPolicySize = 1 << 20
)

// Verdict is the outcome of a policy that could be evaluated.
type Verdict struct {
	// Passed says whether the statement satisfies the policy.
	Passed bool
	// Message says why the policy failed ("" when it passed).
	Message string
	// Warnings are messages the policy raised, passing or not (Rego only).
	Warnings []string
}

// Policy decides statements. Implementations are safe for concurrent use.
type Policy interface {
	// Evaluate decides st. A policy that does not hold returns a Verdict
	// with Passed false and a nil error; a policy that cannot be evaluated
	// returns an *EvalError, and callers must treat it as a failure.
	Evaluate(ctx context.Context, st *Statement) (Verdict, error)
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(ctx context.Context, st *Statement) (Verdict, error)

// Evaluate calls f.
func (f PolicyFunc) Evaluate(ctx context.Context, st *Statement) (Verdict, error) {
	return f(ctx, st)
}

var _ Policy = PolicyFunc(nil)

// Option configures Compile.
type Option func(*options) error

type options struct {
	celCostLimit uint64
}

// WithCELCostLimit sets the runtime cost limit of CEL expressions
// (default DefaultCELCostLimit); an expression exceeding it fails with an
// EvalError wrapping ErrCostLimit. Zero is refused. Other kinds ignore it.
func WithCELCostLimit(limit uint64) Option {
	return func(o *options) error {
		if limit == 0 {
			return errors.New("CEL cost limit must be positive")
		}
		o.celCostLimit = limit
		return nil
	}
}

func makeOptions(opts []Option) (options, error) {
	o := options{celCostLimit: DefaultCELCostLimit}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Compile compiles a policy of kind KindRego, KindCUE or KindCEL once; the
// result is safe for concurrent use. Compilation does no I/O; it is
// CompileContext with a background context.
func Compile(kind, source string, opts ...Option) (Policy, error) {
	return CompileContext(context.Background(), kind, source, opts...)
}

// CompileContext is Compile bounded by ctx. A policy that does not compile
// returns a *CompileError naming the kind and, when known, the line and
// column; so does an unknown kind or a source over MaxPolicySize.
func CompileContext(ctx context.Context, kind, source string, opts ...Option) (Policy, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, &CompileError{Kind: kind, Msg: err.Error(), Err: err}
	}
	if len(source) > MaxPolicySize {
		return nil, &CompileError{Kind: kind, Msg: fmt.Sprintf("source is %d bytes, over the limit of %d", len(source), MaxPolicySize)}
	}
	switch kind {
	case KindRego:
		return compileRego(ctx, source)
	case KindCUE:
		return compileCUE(source)
	case KindCEL:
		return compileCEL(source, o)
	}
	return nil, &CompileError{Kind: kind, Msg: fmt.Sprintf("unknown policy kind %q: want %q, %q or %q", kind, KindRego, KindCUE, KindCEL)}
}

// checkEval returns the EvalError for a nil statement or an ended context.
func checkEval(ctx context.Context, kind string, st *Statement) error {
	if st == nil {
		return &EvalError{Kind: kind, Msg: "nil statement"}
	}
	if err := ctx.Err(); err != nil {
		return &EvalError{Kind: kind, Msg: "context ended", Err: err}
	}
	return nil
}

// Check compiles source as a policy of kind, as Compile does, and returns
// only the error. It is the compiler internal/policy and
// internal/imagepolicy take (policy.Options.Attestations) to refuse a
// ClusterImagePolicy whose attestation policy does not compile at load;
// they do not import this package themselves, so that the commands that
// do not verify images are built without OPA and CUE.
func Check(kind, source string) error {
	_, err := Compile(kind, source)
	return err
}
