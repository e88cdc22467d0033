package jmespath

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// toFloat converts any Go numeric value (and json.Number) to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// Normalize returns v with every number converted to float64, []string to
// []any and map[string]string to map[string]any, recursively, so that the
// standard JMESPath builtins and comparisons (which only understand
// encoding/json types) behave. Values that need no conversion are returned
// as is, without copying; containers that do are copied, so v is never
// mutated. Unknown types are left untouched.
func Normalize(v any) any {
	out, _ := normalize(v)
	return out
}

func normalize(v any) (any, bool) {
	switch t := v.(type) {
	case nil, string, bool, float64:
		return v, false
	case map[string]any:
		var cp map[string]any
		for k, e := range t {
			ne, changed := normalize(e)
			if changed {
				if cp == nil {
					cp = make(map[string]any, len(t))
					for k2, e2 := range t {
						cp[k2] = e2
					}
				}
				cp[k] = ne
			}
		}
		if cp == nil {
			return v, false
		}
		return cp, true
	case []any:
		var cp []any
		for idx, e := range t {
			ne, changed := normalize(e)
			if changed {
				if cp == nil {
					cp = make([]any, len(t))
					copy(cp, t)
				}
				cp[idx] = ne
			}
		}
		if cp == nil {
			return v, false
		}
		return cp, true
	case []string:
		cp := make([]any, len(t))
		for idx, s := range t {
			cp[idx] = s
		}
		return cp, true
	case map[string]string:
		cp := make(map[string]any, len(t))
		for k, s := range t {
			cp[k] = s
		}
		return cp, true
	}
	if f, ok := toFloat(v); ok {
		return f, true
	}
	return v, false
}

// scalarString converts a scalar argument to a string the way Kyverno does
// for regex and key arguments: integers in decimal, floats formatted with
// 32-bit precision (a Kyverno quirk: 123456789.0 becomes "123456790"),
// booleans as true/false. Other types are rejected.
func scalarString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 32), nil
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), nil
	}
	if f, ok := toFloat(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 32), nil
	}
	return "", errors.New("unsupported type for string conversion")
}

// intNumber converts f to an int when it is an exact integer in range.
func intNumber(f float64) (int, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) || math.Trunc(f) != f {
		return 0, fmt.Errorf("expected an integer number but got: %g", f)
	}
	if f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("number is outside the range of integer numbers: %g", f)
	}
	return int(f), nil
}

// num extracts a number argument already validated by the type check.
func num(v any) float64 {
	f, _ := toFloat(v)
	return f
}
