package pattern

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Outcome is the Kyverno rule status that a pattern mismatch maps to.
type Outcome uint8

const (
	// OutcomeFail means the rule fails (Kyverno "fail").
	OutcomeFail Outcome = iota
	// OutcomeSkip means the rule does not apply (Kyverno "skip").
	OutcomeSkip
	// OutcomeError means Kyverno reports an evaluation error (Kyverno
	// "error"); it happens when a mismatch is reported with an empty path.
	OutcomeError
)

// String returns "fail", "skip" or "error".
func (o Outcome) String() string {
	switch o {
	case OutcomeSkip:
		return "skip"
	case OutcomeError:
		return "error"
	default:
		return "fail"
	}
}

// Error is returned by Validate when a resource does not match a pattern.
// It mirrors Kyverno's validate.PatternError.
type Error struct {
	// Path is the Kyverno-style path of the failing element, e.g.
	// "/spec/containers/0/securityContext/runAsNonRoot/". It is empty when
	// Skip is set, and also empty (with Skip unset) in the cases where
	// Kyverno reports the rule as an error rather than a failure: an anchor
	// key of the pattern (conditional or existence) was absent from the
	// resource, or an array length mismatch.
	Path string
	// Message is the Kyverno-style description of the mismatch.
	Message string
	// Skip is set when the rule must be skipped rather than failed: a
	// conditional or global anchor did not match (and no array element to
	// which the pattern applies remained).
	Skip bool
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Outcome returns the Kyverno rule status for this mismatch: OutcomeSkip
// when Skip is set, OutcomeError when Path is empty, OutcomeFail otherwise.
func (e *Error) Outcome() Outcome {
	switch {
	case e.Skip:
		return OutcomeSkip
	case e.Path == "":
		return OutcomeError
	default:
		return OutcomeFail
	}
}

// SyntaxError reports a pattern that cannot be compiled or that fails the
// load-time syntax check. Path is a JSON-pointer-like path of the offending
// element using the raw pattern keys, e.g. "/spec/containers/0/(name)".
type SyntaxError struct {
	// Path of the offending element ("" or "/" for the root).
	Path string
	// Reason describes the problem.
	Reason string
}

// Error returns "invalid pattern at <path>: <reason>".
func (e *SyntaxError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return "invalid pattern at " + p + ": " + e.Reason
}

// errKind classifies internal mismatch errors the way Kyverno's anchor error
// helpers do.
type errKind uint8

const (
	errPlain errKind = iota
	errConditional
	errGlobal
	errNegation
	errSkipList // every array element was skipped (Kyverno's nested PatternError)
)

// msgCode selects the message template of an internal error.
type msgCode uint8

const (
	msgValue msgCode = iota
	msgMapStructure
	msgArrayStructure
	msgNotFound
	msgArrayLength
	msgArrayEmpty
	msgCondMissing
	msgWrap
	msgNegation
	msgExistence
	msgExistenceResource
	msgExistencePatternList
	msgExistencePatternMap
	msgSkipList
)

// verr is the internal, lazily formatted mismatch error. Messages are only
// rendered when the error surfaces, so that skipped array elements cost no
// formatting.
type verr struct {
	kind  errKind
	code  msgCode
	path  string // the path Kyverno returns alongside the error
	at    string // the path quoted in the message, when different
	key   string
	val   any
	pat   any
	n1    int
	n2    int
	inner *verr
	list  []*verr
}

// skip reports whether Kyverno's skip() helper is true for this error.
func (e *verr) skip() bool {
	return e.kind == errConditional || e.kind == errGlobal || e.kind == errSkipList
}

// message renders the Kyverno-style message.
func (e *verr) message() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *verr) write(b *strings.Builder) {
	switch e.code {
	case msgValue:
		b.WriteString("resource value '")
		b.WriteString(formatValue(e.val))
		b.WriteString("' does not match '")
		b.WriteString(formatValue(e.pat))
		b.WriteString("' at path ")
		b.WriteString(e.at)
	case msgMapStructure:
		b.WriteString("pattern and resource have different structures. Path: ")
		b.WriteString(e.at)
		b.WriteString(". Expected map[string]interface {}, found ")
		b.WriteString(typeName(e.val))
	case msgArrayStructure:
		b.WriteString("validation rule failed at path ")
		b.WriteString(e.at)
		b.WriteString(", resource does not satisfy the expected overlay pattern")
	case msgNotFound:
		b.WriteString(e.at)
		b.WriteString("/")
		b.WriteString(e.key)
		b.WriteString(" not found")
	case msgArrayLength:
		fmt.Fprintf(b, "validate Array failed, array length mismatch, resource Array len is %d and pattern Array len is %d", e.n1, e.n2)
	case msgArrayEmpty:
		b.WriteString("pattern Array empty")
	case msgCondMissing:
		b.WriteString("conditional anchor mismatch: conditional anchor key doesn't exist in the resource")
	case msgWrap:
		if e.kind == errGlobal {
			b.WriteString("global anchor mismatch: ")
		} else {
			b.WriteString("conditional anchor mismatch: ")
		}
		e.inner.write(b)
	case msgNegation:
		b.WriteString("negation anchor matched in resource: ")
		b.WriteString(e.at)
		b.WriteString(" is not allowed")
	case msgExistence:
		b.WriteString("existence anchor validation failed at path ")
		b.WriteString(e.at)
	case msgExistenceResource:
		b.WriteString("invalid resource type ")
		b.WriteString(typeName(e.val))
		b.WriteString(": Existence ^ () anchor can be used only on list/array type resource")
	case msgExistencePatternList:
		b.WriteString("invalid pattern type ")
		b.WriteString(e.key)
		b.WriteString(": Pattern has to be of list to compare against resource")
	case msgExistencePatternMap:
		b.WriteString("invalid pattern type []interface {}: Pattern has to be of type map to compare against items in resource")
	case msgSkipList:
		for i, sub := range e.list {
			if i > 0 {
				b.WriteString("; ")
			}
			sub.write(b)
		}
	}
}

// formatValue prints a value like Kyverno's %v does for its own value types
// (integral numbers print as integers, as Kyverno's int64 resource values).
func formatValue(v any) string {
	switch t := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e21 {
			return strconv.FormatFloat(t, 'f', -1, 64)
		}
	}
	return fmt.Sprintf("%v", v)
}

// typeName returns the Go type name Kyverno would print with %T.
func typeName(v any) string {
	switch t := v.(type) {
	case nil:
		return "<nil>"
	case map[string]any:
		return "map[string]interface {}"
	case []any:
		return "[]interface {}"
	case float64:
		if t == math.Trunc(t) {
			return "int64"
		}
	}
	return fmt.Sprintf("%T", v)
}
