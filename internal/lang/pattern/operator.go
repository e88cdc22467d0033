package pattern

import (
	"encoding/json"
	"github.com/portcullis/portcullis/internal/quantity"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/wildcard"
	"k8s.io/apimachinery/pkg/api/resource"
)

// opKind is the operator of one condition of a string pattern.
type opKind uint8

const (
	opEqual opKind = iota
	opNotEqual
	opMore
	opLess
	opMoreEqual
	opLessEqual
	opInRange
	opNotInRange
)

// String returns the operator as written in a pattern.
func (o opKind) String() string {
	switch o {
	case opNotEqual:
		return "!"
	case opMore:
		return ">"
	case opLess:
		return "<"
	case opMoreEqual:
		return ">="
	case opLessEqual:
		return "<="
	case opInRange:
		return "-"
	case opNotInRange:
		return "!-"
	default:
		return ""
	}
}

// cond is one precompiled condition of a string pattern: an operator and its
// operand, with the operand pre-parsed as a duration and as a quantity. For
// ranges, lo and hi hold the two derived comparisons.
type cond struct {
	op      opKind
	operand string
	hasDur  bool
	dur     time.Duration
	hasQty  bool
	qty     resource.Quantity
	lo, hi  *cond
}

// stringPattern is a compiled string pattern: alternatives ('|') of
// conjunctions ('&') of conditions.
type stringPattern struct {
	raw  string
	alts [][]cond
}

// compileString compiles a string pattern exactly as Kyverno interprets it
// at match time: split on '|', trim spaces, split on '&', trim spaces, and
// detect the operator of every piece. It never fails: strings that are not
// meaningful operator expressions simply never (or always) match, as in
// Kyverno. Use checkString for the strict load-time check.
func compileString(s string) stringPattern {
	sp := stringPattern{raw: s}
	for _, alt := range strings.Split(s, "|") {
		alt = strings.Trim(alt, " ")
		parts := strings.Split(alt, "&")
		conds := make([]cond, 0, len(parts))
		for _, part := range parts {
			conds = append(conds, compileCond(strings.Trim(part, " ")))
		}
		sp.alts = append(sp.alts, conds)
	}
	return sp
}

// detectOp mirrors Kyverno's operator.GetOperatorFromStringPattern. For
// ranges it also returns the two endpoints.
func detectOp(s string) (op opKind, lo, hi string) {
	if len(s) < 2 {
		return opEqual, "", ""
	}
	switch {
	case strings.HasPrefix(s, ">="):
		return opMoreEqual, "", ""
	case strings.HasPrefix(s, "<="):
		return opLessEqual, "", ""
	case s[0] == '>':
		return opMore, "", ""
	case s[0] == '<':
		return opLess, "", ""
	case s[0] == '!':
		return opNotEqual, "", ""
	}
	if l, h, ok := splitRange(s, "!-"); ok {
		return opNotInRange, l, h
	}
	if l, h, ok := splitRange(s, "-"); ok {
		return opInRange, l, h
	}
	return opEqual, "", ""
}

// compileCond compiles one condition (already trimmed of spaces).
func compileCond(s string) cond {
	op, lo, hi := detectOp(s)
	switch op {
	case opInRange:
		l, h := compileCond(">= "+lo), compileCond("<= "+hi)
		return cond{op: op, operand: s, lo: &l, hi: &h}
	case opNotInRange:
		l, h := compileCond("< "+lo), compileCond("> "+hi)
		return cond{op: op, operand: s, lo: &l, hi: &h}
	}
	c := cond{op: op, operand: strings.TrimSpace(s[len(op.String()):])}
	if d, err := time.ParseDuration(c.operand); err == nil {
		c.hasDur, c.dur = true, d
	}
	if q, err := quantity.Parse(c.operand); err == nil {
		c.hasQty, c.qty = true, q
	}
	return c
}

// splitRange matches s against Kyverno's range expression
// `^([-|+]?\d+(\.\d+)?[A-Za-z]*)SEP([-|+]?\d+(\.\d+)?[A-Za-z]*)$`.
func splitRange(s, sep string) (lo, hi string, ok bool) {
	end := scanEndpoint(s, 0)
	if end < 0 || !strings.HasPrefix(s[end:], sep) {
		return "", "", false
	}
	start := end + len(sep)
	if scanEndpoint(s, start) != len(s) {
		return "", "", false
	}
	return s[:end], s[start:], true
}

// scanEndpoint scans one range endpoint starting at i and returns the index
// just past it, or -1 when there is none.
func scanEndpoint(s string, i int) int {
	if i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '|') {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return -1
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j > i+1 {
			i = j
		}
	}
	for i < len(s) && isLetter(s[i]) {
		i++
	}
	return i
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// match reports whether the resource value v satisfies the string pattern.
func (sp *stringPattern) match(v any, floats bool) bool {
	if s, ok := v.(string); ok && s == sp.raw {
		return true
	}
	for _, alt := range sp.alts {
		all := true
		for i := range alt {
			if !alt[i].match(v, floats) {
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

// match evaluates one condition the way Kyverno does: as a duration
// comparison when both sides parse as durations, else as a quantity
// comparison when both sides parse as quantities, else as a wildcard string
// comparison (only for the equality operators).
func (c *cond) match(v any, floats bool) bool {
	switch c.op {
	case opInRange:
		return c.lo.match(v, floats) && c.hi.match(v, floats)
	case opNotInRange:
		return c.lo.match(v, floats) || c.hi.match(v, floats)
	}
	if c.hasDur || c.hasQty {
		if s, ok := numberString(v, floats); ok {
			if c.hasDur {
				if d, err := time.ParseDuration(s); err == nil {
					return cmpResult(c.op, cmpDuration(d, c.dur))
				}
			}
			if c.hasQty {
				if q, err := quantity.Parse(s); err == nil {
					return cmpResult(c.op, q.Cmp(c.qty))
				}
			}
		}
	}
	if c.op != opEqual && c.op != opNotEqual {
		return false
	}
	s, ok := stringForm(v, floats)
	if !ok {
		return false
	}
	m := wildcard.Match(c.operand, s)
	if c.op == opNotEqual {
		return !m
	}
	return m
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpResult(op opKind, r int) bool {
	switch op {
	case opEqual:
		return r == 0
	case opNotEqual:
		return r != 0
	case opMore:
		return r > 0
	case opLess:
		return r < 0
	case opMoreEqual:
		return r >= 0
	case opLessEqual:
		return r <= 0
	}
	return false
}

// number classifies a resource value as a number. It returns the value as
// an integer when Kyverno would see an int64 (integral values when floats is
// false, and Go integer types always) and as a float64 otherwise.
func number(v any, floats bool) (i int64, f float64, isInt, ok bool) {
	switch n := v.(type) {
	case float64:
		return floatNumber(n, floats)
	case float32:
		return floatNumber(float64(n), floats)
	case int:
		return int64(n), 0, true, true
	case int64:
		return n, 0, true, true
	case int32:
		return int64(n), 0, true, true
	case int16:
		return int64(n), 0, true, true
	case int8:
		return int64(n), 0, true, true
	case uint:
		return unsignedNumber(uint64(n))
	case uint64:
		return unsignedNumber(n)
	case uint32:
		return int64(n), 0, true, true
	case uint16:
		return int64(n), 0, true, true
	case uint8:
		return int64(n), 0, true, true
	case json.Number:
		if x, err := n.Int64(); err == nil {
			return x, 0, true, true
		}
		if x, err := n.Float64(); err == nil {
			return 0, x, false, true
		}
		return 0, 0, false, false
	}
	return 0, 0, false, false
}

func floatNumber(f float64, floats bool) (int64, float64, bool, bool) {
	if !floats && floatIsInt(f) {
		return int64(f), 0, true, true
	}
	return 0, f, false, true
}

func unsignedNumber(u uint64) (int64, float64, bool, bool) {
	if u <= math.MaxInt64 {
		return int64(u), 0, true, true
	}
	return 0, float64(u), false, true
}

// numberString mirrors Kyverno's convertNumberToString: nil is "0", strings
// are themselves, integers use decimal notation and floats "%f".
func numberString(v any, floats bool) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "0", true
	case string:
		return t, true
	}
	i, f, isInt, ok := number(v, floats)
	if !ok {
		return "", false
	}
	if isInt {
		return strconv.FormatInt(i, 10), true
	}
	return strconv.FormatFloat(f, 'f', 6, 64), true
}

// stringForm mirrors the value conversion of Kyverno's compareString: floats
// use the 'E' notation, integers decimal notation, booleans "true"/"false";
// nil, maps and arrays have no string form.
func stringForm(v any, floats bool) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case nil:
		return "", false
	}
	i, f, isInt, ok := number(v, floats)
	if !ok {
		return "", false
	}
	if isInt {
		return strconv.FormatInt(i, 10), true
	}
	return strconv.FormatFloat(f, 'E', -1, 64), true
}

// matchNumber mirrors Kyverno's validateFloatPattern (JSON patterns always
// carry float64 numbers).
func matchNumber(p float64, v any, floats bool) bool {
	if s, ok := v.(string); ok {
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && f == p
	}
	i, f, isInt, ok := number(v, floats)
	if !ok {
		return false
	}
	if isInt {
		return floatIsInt(p) && int64(p) == i
	}
	return f == p
}

// matchNil mirrors Kyverno's validateNilPattern: nil, zero numbers, the
// empty string and false match a null pattern.
func matchNil(v any, floats bool) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case bool:
		return !t
	}
	i, f, isInt, ok := number(v, floats)
	if !ok {
		return false
	}
	if isInt {
		return i == 0
	}
	return f == 0
}

// floatIsInt reports whether f is an integral float within int64 range.
func floatIsInt(f float64) bool {
	return f == math.Trunc(f) && f >= -9.2e18 && f <= 9.2e18
}
