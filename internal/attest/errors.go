package attest

import (
	"errors"
	"strconv"
)

// ErrTooLarge is wrapped by a DecodeError when the envelope exceeds
// MaxEnvelopeSize or the statement nests deeper than MaxDepth.
var ErrTooLarge = errors.New("too large")

// ErrInvalidPredicateType is returned by PredicateTypeURL for a name that
// is neither a known short name nor an absolute URL.
var ErrInvalidPredicateType = errors.New("invalid predicate type")

// ErrCostLimit is wrapped by an EvalError when a CEL expression exceeds
// its runtime cost limit.
var ErrCostLimit = errors.New("cost limit exceeded")

// DecodeError reports an attestation that could not be decoded.
type DecodeError struct {
	// Part is what was malformed: "envelope", "payload" or "statement".
	Part string
	// Msg says what is wrong, naming the offending field.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *DecodeError) Error() string {
	s := "attest: decode " + e.Part + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// CompileError reports a policy that does not compile.
type CompileError struct {
	// Kind is the policy language: "rego", "cue" or "cel".
	Kind string
	// Line and Col locate the problem in the source, 1-based; 0 when
	// unknown.
	Line, Col int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

func (e *CompileError) Error() string {
	s := "attest: compile " + e.Kind + " policy: "
	if e.Line > 0 {
		s += strconv.Itoa(e.Line)
		if e.Col > 0 {
			s += ":" + strconv.Itoa(e.Col)
		}
		s += ": "
	}
	return s + e.Msg
}

// Unwrap returns the underlying error.
func (e *CompileError) Unwrap() error { return e.Err }

// EvalError reports a policy that could not be evaluated: the statement
// was neither accepted nor rejected, and callers must fail closed.
type EvalError struct {
	// Kind is the policy language: "rego", "cue" or "cel".
	Kind string
	// Msg says what went wrong.
	Msg string
	// Err is the underlying error, if any; it wraps ctx.Err() when the
	// context ended and ErrCostLimit when a cost limit was exceeded.
	Err error
}

func (e *EvalError) Error() string {
	s := "attest: evaluate " + e.Kind + " policy: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }
