package conditions

import (
	"strconv"
	"time"

	"github.com/blang/semver/v4"
)

// cmpHolds reports whether a three-way comparison result c (-1, 0, 1)
// satisfies the ordering operator kind (numeric or Duration* family).
func cmpHolds(c int, kind opKind) bool {
	switch kind {
	case opGreaterThan, opDurationGreaterThan:
		return c > 0
	case opGreaterThanOrEquals, opDurationGreaterThanOrEquals:
		return c >= 0
	case opLessThan, opDurationLessThan:
		return c < 0
	case opLessThanOrEquals, opDurationLessThanOrEquals:
		return c <= 0
	default:
		return false
	}
}

func cmpFloat(a, b float64, kind opKind) bool {
	switch kind {
	case opGreaterThan:
		return a > b
	case opGreaterThanOrEquals:
		return a >= b
	case opLessThan:
		return a < b
	case opLessThanOrEquals:
		return a <= b
	default:
		return false
	}
}

// numericCompare implements GreaterThan, GreaterThanOrEquals, LessThan and
// LessThanOrEquals. key and value are normalized.
func numericCompare(key, value any, kind opKind) bool {
	switch k := key.(type) {
	case float64:
		return numericFloatKey(k, value, kind)
	case string:
		return numericStringKey(k, value, kind)
	default:
		return false
	}
}

func numericFloatKey(key float64, value any, kind opKind) bool {
	switch v := value.(type) {
	case float64:
		return cmpFloat(key, v, kind)
	case string:
		if kd, vd, ok := parseDurationPair(key, value); ok {
			return cmpFloat(kd.Seconds(), vd.Seconds(), kind)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		return cmpFloat(key, f, kind)
	default:
		return false
	}
}

func numericStringKey(key string, value any, kind opKind) bool {
	if kd, vd, ok := parseDurationPair(key, value); ok {
		return cmpFloat(kd.Seconds(), vd.Seconds(), kind)
	}
	if v, ok := value.(string); ok {
		if kq, ok := parseQuantity(key); ok {
			if vq, ok := parseQuantity(v); ok {
				return cmpHolds(kq.Cmp(vq), kind)
			}
		}
	}
	if f, err := strconv.ParseFloat(key, 64); err == nil {
		return numericFloatKey(f, value, kind)
	}
	kv, err := semver.Parse(key)
	if err != nil {
		return false
	}
	v, ok := value.(string)
	if !ok {
		return false
	}
	vv, err := semver.Parse(v)
	if err != nil {
		return false
	}
	return cmpHolds(kv.Compare(vv), kind)
}

// durationCompare implements the deprecated Duration* operators: both sides
// must be Go duration strings or numbers of seconds.
func durationCompare(key, value any, kind opKind) bool {
	var kd time.Duration
	switch k := key.(type) {
	case float64:
		kd = secondsDuration(k)
	case string:
		d, ok := parseDuration(k)
		if !ok {
			return false
		}
		kd = d
	default:
		return false
	}
	var vd time.Duration
	switch v := value.(type) {
	case float64:
		vd = secondsDuration(v)
	case string:
		d, ok := parseDuration(v)
		if !ok {
			return false
		}
		vd = d
	default:
		return false
	}
	c := 0
	if kd < vd {
		c = -1
	} else if kd > vd {
		c = 1
	}
	return cmpHolds(c, kind)
}
