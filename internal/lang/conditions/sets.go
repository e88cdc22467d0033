package conditions

import (
	"encoding/json"
	"strings"

	"github.com/portcullis/portcullis/internal/wildcard"
)

// matchEither reports whether a and b match when either one is used as the
// wildcard pattern for the other.
func matchEither(a, b string) bool {
	return wildcard.Match(a, b) || wildcard.Match(b, a)
}

// keyStrings formats a list key element by element, as Kyverno does.
func keyStrings(list []any) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = toString(v)
	}
	return out
}

// jsonStringArray reads s the way Kyverno reads a string value of a set
// operator: a valid JSON document must be an array of strings (ok is false
// otherwise, which makes the operator fail), anything else is a one-element
// list holding s itself. strict drops the one-element fallback (used by the
// deprecated In/NotIn operators).
func jsonStringArray(s string, strict bool) (arr []string, ok bool) {
	if !strict && !json.Valid([]byte(s)) {
		return []string{s}, true
	}
	if err := json.Unmarshal([]byte(s), &arr); err != nil {
		return nil, false
	}
	return arr, true
}

func containsExact(arr []string, key string) bool {
	for _, s := range arr {
		if s == key {
			return true
		}
	}
	return false
}

// scalarKeyString formats a scalar key for the set operators. withBool adds
// bool keys (accepted by AnyIn/AnyNotIn only).
func scalarKeyString(key any, withBool bool) (string, bool) {
	switch k := key.(type) {
	case string:
		return k, true
	case float64:
		return toString(k), true
	case bool:
		if withBool {
			return toString(k), true
		}
	}
	return "", false
}

// keyInValue is Kyverno's any/allKeyExistsInArray: whether the scalar key is
// in value. ok is false when value has a type the operators reject (the
// operator is then false, negated or not).
func keyInValue(key string, value any) (found, ok bool) {
	switch v := value.(type) {
	case []any:
		for _, e := range v {
			if matchEither(toString(e), key) {
				return true, true
			}
		}
		return false, true
	case string:
		if wildcard.Match(v, key) {
			return true, true
		}
		if rangeOperatorOf(v) == rangeIn {
			return validateRange(key, v), true
		}
		arr, ok := jsonStringArray(v, false)
		if !ok {
			return false, false
		}
		return containsExact(arr, key), true
	default:
		return false, false
	}
}

// evalAny implements AnyIn (notIn false) and AnyNotIn (notIn true).
func evalAny(key, value any, notIn bool) bool {
	if list, ok := key.([]any); ok {
		res, ok := anySet(keyStrings(list), value, notIn)
		return ok && res
	}
	k, ok := scalarKeyString(key, true)
	if !ok {
		return false
	}
	found, ok := keyInValue(k, value)
	if !ok {
		return false
	}
	return found != notIn
}

// anySet is Kyverno's anySetExistsInArray.
func anySet(keys []string, value any, notIn bool) (result, ok bool) {
	var vals []string
	switch v := value.(type) {
	case []any:
		vals = keyStrings(v)
	case float64, bool:
		vals = []string{toString(v)}
	case string:
		if len(keys) == 1 && keys[0] == v {
			return !notIn, true
		}
		if rangeOperatorOf(v) == rangeIn {
			pattern := v
			if notIn {
				pattern = strings.Replace(v, "-", "!-", 1)
			}
			for _, k := range keys {
				if validateRange(k, pattern) {
					return true, true
				}
			}
			return false, true
		}
		arr, ok := jsonStringArray(v, false)
		if !ok {
			return false, false
		}
		vals = arr
	default:
		return false, false
	}
	if notIn {
		return anyKeyMissing(keys, vals), true
	}
	return anyKeyPresent(keys, vals), true
}

func anyKeyPresent(keys, vals []string) bool {
	for _, k := range keys {
		for _, v := range vals {
			if matchEither(k, v) {
				return true
			}
		}
	}
	return false
}

func anyKeyMissing(keys, vals []string) bool {
	for _, k := range keys {
		if !keyMatchesAny(k, vals) {
			return true
		}
	}
	return false
}

func keyMatchesAny(k string, vals []string) bool {
	for _, v := range vals {
		if matchEither(k, v) {
			return true
		}
	}
	return false
}

// evalAll implements AllIn (notIn false) and AllNotIn (notIn true).
func evalAll(key, value any, notIn bool) bool {
	if list, ok := key.([]any); ok {
		res, ok := allSet(keyStrings(list), value, notIn)
		return ok && res
	}
	k, ok := scalarKeyString(key, false)
	if !ok {
		return false
	}
	found, ok := keyInValue(k, value)
	if !ok {
		return false
	}
	return found != notIn
}

// allSet is Kyverno's allSetExistsInArray.
func allSet(keys []string, value any, notIn bool) (result, ok bool) {
	var vals []string
	switch v := value.(type) {
	case []any:
		vals = keyStrings(v)
	case string:
		if len(keys) == 1 && keys[0] == v {
			return !notIn, true
		}
		if rangeOperatorOf(v) == rangeIn {
			for _, k := range keys {
				if validateRange(k, v) == notIn {
					// AllIn: a key outside the range; AllNotIn: a key inside.
					return false, true
				}
			}
			return true, true
		}
		arr, ok := jsonStringArray(v, false)
		if !ok {
			return false, false
		}
		vals = arr
	default:
		return false, false
	}
	matched := 0
	for _, k := range keys {
		if keyMatchesAny(k, vals) {
			matched++
		}
	}
	if notIn {
		return matched == 0, true
	}
	return matched == len(keys), true
}

// evalIn implements the deprecated In (notIn false) and NotIn (notIn true).
func evalIn(key, value any, notIn bool) bool {
	if list, ok := key.([]any); ok {
		res, ok := inSet(keyStrings(list), value, notIn)
		return ok && res
	}
	k, ok := scalarKeyString(key, false)
	if !ok {
		return false
	}
	var found bool
	switch v := value.(type) {
	case []any:
		for _, e := range v {
			if matchEither(toString(e), k) {
				found = true
				break
			}
		}
	case string:
		if wildcard.Match(v, k) {
			found = true
			break
		}
		arr, ok := jsonStringArray(v, true)
		if !ok {
			return false
		}
		found = containsExact(arr, k)
	default:
		return false
	}
	return found != notIn
}

// inSet is Kyverno's setExistsInArray for the deprecated In/NotIn: exact
// (wildcard-free) set comparison of string lists.
func inSet(keys []string, value any, notIn bool) (result, ok bool) {
	var vals []string
	switch v := value.(type) {
	case []any:
		vals = make([]string, len(v))
		for i, e := range v {
			s, isStr := e.(string)
			if !isStr {
				return false, false
			}
			vals[i] = s
		}
	case string:
		if len(keys) == 1 && keys[0] == v {
			// Kyverno answers true here for both In and NotIn.
			return true, true
		}
		arr, ok := jsonStringArray(v, true)
		if !ok {
			return false, false
		}
		vals = arr
	default:
		return false, false
	}
	for _, k := range keys {
		if !containsExact(vals, k) {
			return notIn, true
		}
	}
	return !notIn, true
}
