package quantity

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MaxExponent bounds the absolute value of a decimal exponent.
const MaxExponent = 999

// ErrExponentTooLarge is returned for a quantity whose exponent exceeds
// MaxExponent.
var ErrExponentTooLarge = errors.New("quantity exponent too large")

// Parse is resource.ParseQuantity with the exponent bound.
func Parse(s string) (resource.Quantity, error) {
	if HugeExponent(s) {
		return resource.Quantity{}, ErrExponentTooLarge
	}
	return resource.ParseQuantity(s)
}

// HugeExponent reports whether s ends in a decimal exponent ('e' or 'E',
// optional sign, digits) whose value exceeds MaxExponent.
func HugeExponent(s string) bool {
	i := strings.LastIndexAny(s, "eE")
	if i < 0 {
		return false
	}
	rest := s[i+1:]
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		rest = rest[1:]
	}
	if rest == "" {
		return false
	}
	n := 0
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		if c < '0' || c > '9' {
			return false
		}
		if n <= MaxExponent {
			n = n*10 + int(c-'0')
		}
	}
	return n > MaxExponent
}
