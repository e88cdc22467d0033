package conditions

import (
	"encoding/json"
	"errors"
	"github.com/portcullis/portcullis/internal/quantity"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// decodeFuzzValue reads s as JSON when it is a JSON document (giving numbers,
// bools, lists and maps) and as a plain string otherwise.
func decodeFuzzValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

func FuzzEvaluate(f *testing.F) {
	seeds := [][3]string{
		{"kube-system", "AnyIn", `["default","kube-*"]`},
		{"5", "AnyIn", "1-10"},
		{"[1,5,11]", "AnyNotIn", "0!-10"},
		{"1Gi", "GreaterThan", "512Mi"},
		{"1h", "Equals", "3600"},
		{"1.10.0", "LessThan", "1.9.0"},
		{"[\"a\"]", "AllNotIn", "a"},
		{"x", "NotIn", `["x"]`},
		{"10", "DurationGreaterThan", "5s"},
		{"{\"a\":1}", "Equals", "{\"a\":1.0}"},
		{"1|-5", "AnyIn", "1|-5&2-3"},
		{"", "Exists", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, key, op, value string) {
		c := Condition{Key: decodeFuzzValue(key), Operator: op, Value: decodeFuzzValue(value)}
		got, err := Evaluate(c)
		if err != nil {
			if !errors.Is(err, ErrUnknownOperator) {
				t.Fatalf("unexpected error class: %v", err)
			}
			if got {
				t.Fatalf("error with true result")
			}
			if _, _, ok := lookupOperator(op); ok {
				t.Fatalf("known operator %q rejected", op)
			}
		}
		// The raw strings must be handled too.
		_, _ = Evaluate(Condition{Key: key, Operator: op, Value: value})
		_, _, _ = EvaluateBlock(Block{Any: []Condition{c}, All: []Condition{c}})
	})
}

func FuzzRangePattern(f *testing.F) {
	for _, s := range [][2]string{
		{"5", "1-10"}, {"11", "1!-10"}, {"1Gi", "512Mi-2Gi"}, {"90m", "1h-2h"},
		{"x", ">= 1 | < 0 & !3"}, {"", "-"}, {"1", "1-"}, {"2", "1-2-3"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, value, pattern string) {
		_ = rangeOperatorOf(pattern)
		_ = validateRange(value, pattern)
	})
}

// FuzzNumericStartGuard checks that the cheap pre-check never hides a string
// that time.ParseDuration or resource.ParseQuantity would accept.
func FuzzNumericStartGuard(f *testing.F) {
	for _, s := range []string{"1h", ".5s", "+1m", "-2h", "0", "1Gi", "500m", "1e3", "+.5", " 1", "E", "m", "Gi", "+", "-", "x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := time.ParseDuration(s); err == nil && !durationStart(s) {
			t.Fatalf("guard rejects duration %q", s)
		}
		if quantity.HugeExponent(s) {
			return // deliberately not parsed: see package quantity
		}
		if _, err := resource.ParseQuantity(s); err == nil && !quantityStart(s) {
			t.Fatalf("guard rejects quantity %q", s)
		}
	})
}
