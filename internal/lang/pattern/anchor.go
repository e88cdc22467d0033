package pattern

import "strings"

// anchorKind identifies the anchor wrapped around a pattern map key.
type anchorKind uint8

const (
	anchorNone      anchorKind = iota // plain key
	anchorCondition                   // (key)
	anchorGlobal                      // <(key)
	anchorEquality                    // =(key)
	anchorExistence                   // ^(key)
	anchorNegation                    // X(key)
	anchorAdd                         // +(key), mutation only
)

// parseAnchor splits a pattern key into its anchor kind and the bare key,
// mirroring Kyverno's anchor.Parse: a key is an anchor when it ends with ')'
// and either starts with '(' or starts with one of the modifier characters
// "<=^X+" (Kyverno does not check that the modifier is followed by '(';
// neither do we, so that runtime behaviour is identical). An empty bare key
// makes the key a plain key.
func parseAnchor(key string) (anchorKind, string) {
	n := len(key)
	if n < 2 || key[n-1] != ')' {
		return anchorNone, key
	}
	var kind anchorKind
	var bare string
	switch key[0] {
	case '(':
		kind, bare = anchorCondition, key[1:n-1]
	case '<', '=', '^', 'X', '+':
		if n < 3 {
			return anchorNone, key
		}
		bare = key[2 : n-1]
		switch key[0] {
		case '<':
			kind = anchorGlobal
		case '=':
			kind = anchorEquality
		case '^':
			kind = anchorExistence
		case 'X':
			kind = anchorNegation
		default:
			kind = anchorAdd
		}
	default:
		return anchorNone, key
	}
	if bare == "" {
		return anchorNone, key
	}
	return kind, bare
}

// looksLikeAnchor reports whether key starts like an anchor ("(" or a
// modifier followed by "("), whether or not it is well formed.
func looksLikeAnchor(key string) bool {
	if strings.HasPrefix(key, "(") {
		return true
	}
	if len(key) >= 2 && key[1] == '(' && strings.IndexByte("<=^X+", key[0]) >= 0 {
		return true
	}
	return false
}

// SplitAnchor splits a pattern or patch key into its anchor modifier and
// the bare key, as Kyverno's anchor.Parse does: "(" for a conditional
// anchor "(key)", "<" global, "=" equality, "^" existence, "X" negation,
// "+" add-if-not-present; "" and key itself for a plain key. The mutate
// package uses it for the anchors of strategic merge patches.
func SplitAnchor(key string) (modifier, bare string) {
	kind, bare := parseAnchor(key)
	switch kind {
	case anchorCondition:
		return "(", bare
	case anchorGlobal:
		return "<", bare
	case anchorEquality:
		return "=", bare
	case anchorExistence:
		return "^", bare
	case anchorNegation:
		return "X", bare
	case anchorAdd:
		return "+", bare
	}
	return "", key
}
