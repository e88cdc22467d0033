package conditions

import (
	"strconv"

	"github.com/portcullis/portcullis/internal/wildcard"
)

// equalResult is the outcome of Kyverno's typed equality check: either a
// definite comparison or a type mismatch (which Equals reports as false and
// NotEquals as true).
type equalResult uint8

const (
	resultUnsupported equalResult = iota // key type not handled: both operators false
	resultMismatch                       // value not comparable with key
	resultEqual
	resultDifferent
)

func boolResult(eq bool) equalResult {
	if eq {
		return resultEqual
	}
	return resultDifferent
}

// compareEqual implements the shared part of Kyverno's Equals and NotEquals
// handlers. key and value are normalized.
func compareEqual(key, value any) equalResult {
	switch k := key.(type) {
	case bool:
		v, ok := value.(bool)
		if !ok {
			return resultMismatch
		}
		return boolResult(k == v)
	case float64:
		switch v := value.(type) {
		case float64:
			return boolResult(k == v)
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return resultMismatch
			}
			return boolResult(f == k)
		default:
			return resultMismatch
		}
	case string:
		return compareEqualString(k, value)
	case map[string]any:
		if _, ok := value.(map[string]any); !ok {
			return resultMismatch
		}
		return boolResult(deepEqual(k, value))
	case []any:
		if _, ok := value.([]any); !ok {
			return resultMismatch
		}
		return boolResult(deepEqual(k, value))
	default:
		return resultUnsupported
	}
}

func compareEqualString(key string, value any) equalResult {
	// Durations first: the only comparison that crosses types ("1h" vs 3600).
	if kd, vd, ok := parseDurationPair(key, value); ok {
		return boolResult(kd.Seconds() == vd.Seconds())
	}
	// A key that parses as a quantity is compared as a quantity, never as a
	// wildcard pattern.
	if kq, ok := parseQuantity(key); ok {
		vq, ok := comparableQuantity(value)
		if !ok {
			return resultMismatch
		}
		return boolResult(kq.Equal(vq))
	}
	if v, ok := value.(string); ok {
		return boolResult(wildcard.Match(v, key))
	}
	return resultMismatch
}

// equals implements Kyverno's Equals/Equal operator.
func equals(key, value any) bool {
	return compareEqual(key, value) == resultEqual
}

// notEquals implements Kyverno's NotEquals/NotEqual operator: true when the
// values differ or cannot be compared, false for unsupported key types.
func notEquals(key, value any) bool {
	switch compareEqual(key, value) {
	case resultDifferent, resultMismatch:
		return true
	default:
		return false
	}
}
