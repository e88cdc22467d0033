package conditions

import (
	"strings"

	"github.com/portcullis/portcullis/internal/wildcard"
)

// rangeOp is the operator Kyverno's GetOperatorFromStringPattern reads from
// the front of a pattern string.
type rangeOp uint8

const (
	rangeEqual     rangeOp = iota // no operator: equality (wildcards allowed)
	rangeMoreEqual                // ">="
	rangeLessEqual                // "<="
	rangeMore                     // ">"
	rangeLess                     // "<"
	rangeNotEqual                 // "!"
	rangeIn                       // "a-b": a <= x <= b
	rangeNotIn                    // "a!-b": x < a or x > b
)

// prefixLen is the length of the operator text at the front of a pattern.
func (o rangeOp) prefixLen() int {
	switch o {
	case rangeMoreEqual, rangeLessEqual:
		return 2
	case rangeMore, rangeLess, rangeNotEqual:
		return 1
	default:
		return 0
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// rangeOperatorOf mirrors Kyverno's GetOperatorFromStringPattern. A range is
// a string with exactly one '-', whose two sides both start with an ASCII
// digit ("1-10", "0.5Gi-2Gi", "1h-2h"); "a!-b" is the negated range. This is
// what Kyverno's regular expressions ^(\d+(\.\d+)?)([^-]*)-(\d+(\.\d+)?)([^-]*)$
// and its "!-" variant accept.
func rangeOperatorOf(p string) rangeOp {
	if len(p) < 2 {
		return rangeEqual
	}
	switch {
	case strings.HasPrefix(p, ">="):
		return rangeMoreEqual
	case strings.HasPrefix(p, "<="):
		return rangeLessEqual
	case p[0] == '>':
		return rangeMore
	case p[0] == '<':
		return rangeLess
	case p[0] == '!':
		return rangeNotEqual
	}
	dash := strings.IndexByte(p, '-')
	if dash < 0 || strings.IndexByte(p[dash+1:], '-') >= 0 {
		return rangeEqual
	}
	if dash+1 >= len(p) || !isDigit(p[dash+1]) || !isDigit(p[0]) {
		return rangeEqual
	}
	if dash >= 2 && p[dash-1] == '!' {
		return rangeNotIn
	}
	return rangeIn
}

// validateRange is Kyverno's pattern validation of a string value against a
// string pattern, as used for range values of the set operators: "|"
// separates alternatives, "&" conjunctions, and each part may carry an
// operator prefix or be a range.
func validateRange(value, pattern string) bool {
	if value == pattern {
		return true
	}
	for _, alt := range strings.Split(pattern, "|") {
		alt = strings.Trim(alt, " ")
		all := true
		for _, part := range strings.Split(alt, "&") {
			if !validatePatternPart(value, strings.Trim(part, " ")) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func validatePatternPart(value, pattern string) bool {
	op := rangeOperatorOf(pattern)
	switch op {
	case rangeIn:
		ends := strings.Split(pattern, "-")
		return validatePatternPart(value, ">= "+ends[0]) &&
			validatePatternPart(value, "<= "+ends[1])
	case rangeNotIn:
		ends := strings.Split(pattern, "!-")
		return validatePatternPart(value, "< "+ends[0]) ||
			validatePatternPart(value, "> "+ends[1])
	}
	p := strings.TrimSpace(pattern[op.prefixLen():])
	return patternCompareDuration(value, p, op) ||
		patternCompareQuantity(value, p, op) ||
		patternCompareString(value, p, op)
}

func opHolds(c int, op rangeOp) bool {
	switch op {
	case rangeEqual:
		return c == 0
	case rangeNotEqual:
		return c != 0
	case rangeMore:
		return c > 0
	case rangeLess:
		return c < 0
	case rangeMoreEqual:
		return c >= 0
	case rangeLessEqual:
		return c <= 0
	default:
		return false
	}
}

func patternCompareDuration(value, pattern string, op rangeOp) bool {
	pd, ok := parseDuration(pattern)
	if !ok {
		return false
	}
	vd, ok := parseDuration(value)
	if !ok {
		return false
	}
	c := 0
	if vd < pd {
		c = -1
	} else if vd > pd {
		c = 1
	}
	return opHolds(c, op)
}

func patternCompareQuantity(value, pattern string, op rangeOp) bool {
	pq, ok := parseQuantity(pattern)
	if !ok {
		return false
	}
	vq, ok := parseQuantity(value)
	if !ok {
		return false
	}
	return opHolds(vq.Cmp(pq), op)
}

func patternCompareString(value, pattern string, op rangeOp) bool {
	switch op {
	case rangeEqual:
		return wildcard.Match(pattern, value)
	case rangeNotEqual:
		return !wildcard.Match(pattern, value)
	default:
		return false
	}
}
