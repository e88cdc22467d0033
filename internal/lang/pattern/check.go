package pattern

import (
	"fmt"
	"github.com/portcullis/portcullis/internal/quantity"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Check performs the load-time syntax check of a raw policy pattern (before
// variable substitution). It returns nil for a valid pattern and a
// *SyntaxError naming the JSON path of the first offending element
// otherwise (elements are visited in sorted key order).
//
// It rejects what Kyverno rejects when a policy is admitted (unsupported
// value types, an existence anchor whose value is not a non-empty list) and
// what can never be meaningful:
//   - malformed anchor keys: "(foo", "X(foo", "=(foo", an empty anchor
//     "()", a modifier not followed by '(' such as "Xfoo)", parentheses or
//     another anchor inside an anchor ("((foo))");
//   - existence anchor list items that are not maps;
//   - an empty array pattern (Kyverno always reports an error for it);
//   - in string patterns: '<', '>', '<=', '>=' with an operand that is
//     neither a number, a quantity nor a duration (such comparisons never
//     match in Kyverno), and ranges whose endpoints are not numbers,
//     quantities or durations or whose lower bound exceeds the upper bound.
//
// Strings containing "{{" (unsubstituted variables) are not checked for
// operators. The add-if-not-present anchor "+(key)" is accepted (it is
// ignored when validating).
func Check(pattern any) error {
	return checkValue(pattern, "")
}

func checkValue(v any, path string) error {
	switch t := v.(type) {
	case nil, bool:
		return nil
	case string:
		if err := checkString(t); err != nil {
			return &SyntaxError{Path: pathOrRoot(path), Reason: err.Error()}
		}
		return nil
	case map[string]any:
		return checkMap(t, path)
	case []any:
		if len(t) == 0 {
			return &SyntaxError{Path: pathOrRoot(path), Reason: "empty array pattern never matches"}
		}
		for i, item := range t {
			if err := checkValue(item, path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	}
	if _, ok := patternNumber(v); ok {
		return nil
	}
	return &SyntaxError{Path: pathOrRoot(path), Reason: fmt.Sprintf("unsupported value type %T", v)}
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func checkMap(m map[string]any, path string) error {
	for _, k := range sortedKeys(m) {
		v := m[k]
		childPath := path + "/" + k
		if err := checkKey(k); err != nil {
			return &SyntaxError{Path: childPath, Reason: err.Error()}
		}
		if kind, _ := parseAnchor(k); kind == anchorExistence {
			list, ok := v.([]any)
			if !ok {
				return &SyntaxError{Path: childPath, Reason: "existence anchor should have value of type list"}
			}
			if len(list) == 0 {
				return &SyntaxError{Path: childPath, Reason: "existence anchor: should have at least one value"}
			}
			for i, item := range list {
				if _, ok := item.(map[string]any); !ok {
					return &SyntaxError{
						Path:   childPath + "/" + strconv.Itoa(i),
						Reason: fmt.Sprintf("existence anchor list items must be maps, got %s", patternTypeName(item)),
					}
				}
			}
		}
		if err := checkValue(v, childPath); err != nil {
			return err
		}
	}
	return nil
}

// checkKey rejects malformed anchor keys.
func checkKey(k string) error {
	kind, bare := parseAnchor(k)
	if kind == anchorNone {
		if looksLikeAnchor(k) {
			if !strings.HasSuffix(k, ")") {
				return fmt.Errorf("malformed anchor %q: missing closing parenthesis", k)
			}
			return fmt.Errorf("malformed anchor %q: empty key", k)
		}
		return nil
	}
	if kind != anchorCondition && k[1] != '(' {
		return fmt.Errorf("malformed anchor %q: modifier %q must be followed by '('", k, k[0])
	}
	if strings.ContainsAny(bare, "()") {
		if looksLikeAnchor(bare) {
			return fmt.Errorf("malformed anchor %q: anchors cannot be nested inside a key", k)
		}
		return fmt.Errorf("malformed anchor %q: unbalanced parentheses", k)
	}
	return nil
}

// checkString rejects operator expressions that can never be meaningful.
func checkString(s string) error {
	if strings.Contains(s, "{{") {
		return nil
	}
	for _, alt := range strings.Split(s, "|") {
		for _, part := range strings.Split(strings.Trim(alt, " "), "&") {
			part = strings.Trim(part, " ")
			op, lo, hi := detectOp(part)
			switch op {
			case opMore, opLess, opMoreEqual, opLessEqual:
				operand := strings.TrimSpace(part[len(op.String()):])
				if m, _, _ := magnitudeOf(operand); m == 0 {
					return fmt.Errorf("operator %q in %q needs a number, quantity or duration operand, got %q", op.String(), s, operand)
				}
			case opInRange, opNotInRange:
				if err := checkRange(part, lo, hi); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Kinds of magnitude an operand parses as (bit set).
const (
	magDuration = 1 << iota
	magQuantity
)

func checkRange(part, lo, hi string) error {
	lm, ld, lq := magnitudeOf(lo)
	hm, hd, hq := magnitudeOf(hi)
	if lm == 0 {
		return fmt.Errorf("invalid range %q: bound %q is not a number, quantity or duration", part, lo)
	}
	if hm == 0 {
		return fmt.Errorf("invalid range %q: bound %q is not a number, quantity or duration", part, hi)
	}
	switch {
	case lm&hm&magQuantity != 0:
		if lq.Cmp(hq) > 0 {
			return fmt.Errorf("invalid range %q: lower bound exceeds upper bound", part)
		}
	case lm&hm&magDuration != 0:
		if ld > hd {
			return fmt.Errorf("invalid range %q: lower bound exceeds upper bound", part)
		}
	}
	return nil
}

// magnitudeOf parses an operand as a duration and/or a quantity.
func magnitudeOf(s string) (int, time.Duration, resource.Quantity) {
	m := 0
	d, err := time.ParseDuration(s)
	if err == nil {
		m |= magDuration
	}
	q, err := quantity.Parse(s)
	if err == nil {
		m |= magQuantity
	}
	return m, d, q
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
