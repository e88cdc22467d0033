package conditions

import (
	"encoding/json"
	"fmt"
	"github.com/portcullis/portcullis/internal/quantity"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// normalize maps the numeric types a caller may hand over onto float64, the
// only numeric type Kyverno's JSON round trip produces, and typed nil lists
// and maps onto nil (JSON null). Other values are returned unchanged.
func normalize(v any) any {
	switch t := v.(type) {
	case nil, string, bool, float64:
		return v
	case []any:
		if t == nil {
			return nil
		}
		return v
	case map[string]any:
		if t == nil {
			return nil
		}
		return v
	case int:
		return float64(t)
	case int8:
		return float64(t)
	case int16:
		return float64(t)
	case int32:
		return float64(t)
	case int64:
		return float64(t)
	case uint:
		return float64(t)
	case uint8:
		return float64(t)
	case uint16:
		return float64(t)
	case uint32:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		// Mirror a JSON round trip: float32(0.1) marshals as 0.1.
		f, err := strconv.ParseFloat(strconv.FormatFloat(float64(t), 'g', -1, 32), 64)
		if err != nil {
			return float64(t)
		}
		return f
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return string(t)
		}
		return f
	default:
		return v
	}
}

// toString formats v the way Go's fmt.Sprint does, which is how Kyverno turns
// set-operator keys and list values into strings (1e6 becomes "1e+06").
func toString(v any) string {
	switch t := normalize(v).(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		if t {
			return "true"
		}
		return "false"
	case nil:
		return "<nil>"
	default:
		return fmt.Sprint(t)
	}
}

// deepEqual compares two JSON-like values structurally; numbers of any Go
// numeric type compare by their float64 value.
func deepEqual(a, b any) bool {
	a, b = normalize(a), normalize(b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, present := y[k]
			if !present || !deepEqual(xv, yv) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// secondsDuration converts a number of seconds to a Duration the way Kyverno
// does: the float is truncated to whole seconds first.
func secondsDuration(f float64) time.Duration {
	return time.Duration(f) * time.Second
}

// durationStart reports whether s could be a Go duration: an optional sign
// followed by a digit or a '.'. It lets the common non-numeric strings skip a
// parser that allocates its errors.
func durationStart(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && (isDigit(s[0]) || s[0] == '.')
}

// quantityStart reports whether s could be a resource quantity. The parser is
// lenient: after an optional sign it accepts an empty number, so "m", "Gi"
// or "+" parse (as zero); only the first character is checked here.
func quantityStart(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	return s == "" || isDigit(s[0]) || strings.IndexByte(".eEinumkKMGTP+-", s[0]) >= 0
}

// parseDuration is time.ParseDuration for strings that can be durations.
func parseDuration(s string) (time.Duration, bool) {
	if !durationStart(s) {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// parseQuantity is resource.ParseQuantity for strings that can be
// quantities, refusing absurd exponents (see package quantity).
func parseQuantity(s string) (resource.Quantity, bool) {
	if !quantityStart(s) {
		return resource.Quantity{}, false
	}
	q, err := quantity.Parse(s)
	return q, err == nil
}

// stringDuration parses s as a Go duration for the purpose of Kyverno's
// cross-type duration comparison, where the bare string "0" does not count.
func stringDuration(s string) (time.Duration, bool) {
	if s == "0" {
		return 0, false
	}
	return parseDuration(s)
}

// parseDurationPair mirrors Kyverno's parseDuration: at least one side must be
// a duration string, and the other side must then be a duration string or a
// number of seconds.
func parseDurationPair(key, value any) (time.Duration, time.Duration, bool) {
	var kd, vd time.Duration
	var kOK, vOK bool
	if s, ok := key.(string); ok {
		kd, kOK = stringDuration(s)
	}
	if s, ok := value.(string); ok {
		vd, vOK = stringDuration(s)
	}
	if !kOK && !vOK {
		return 0, 0, false
	}
	if !kOK {
		f, ok := key.(float64)
		if !ok {
			return 0, 0, false
		}
		kd = secondsDuration(f)
	}
	if !vOK {
		f, ok := value.(float64)
		if !ok {
			return 0, 0, false
		}
		vd = secondsDuration(f)
	}
	return kd, vd, true
}

// comparableQuantity reads v as a resource quantity: a quantity string, or a
// number.
func comparableQuantity(v any) (resource.Quantity, bool) {
	switch t := v.(type) {
	case string:
		return parseQuantity(t)
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return resource.Quantity{}, false
		}
		q, err := quantity.Parse(strconv.FormatFloat(t, 'f', -1, 64))
		return q, err == nil
	default:
		return resource.Quantity{}, false
	}
}
