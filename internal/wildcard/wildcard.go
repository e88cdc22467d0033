package wildcard

import (
	"strings"
	"unicode/utf8"
)

// Match reports whether s matches pattern. It runs in O(len(pattern)*len(s))
// time in the worst case and never allocates.
func Match(pattern, s string) bool {
	if !ContainsWildcard(pattern) {
		return pattern == s
	}
	if pattern == "*" {
		return true
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]) {
			if pattern[p] == '?' {
				// '?' matches one character, not one byte.
				_, size := utf8.DecodeRuneInString(s[i:])
				i += size
			} else {
				i++
			}
			p++
			continue
		}
		if p < len(pattern) && pattern[p] == '*' {
			starP, starI = p, i
			p++
			continue
		}
		if starP >= 0 {
			starI++
			i = starI
			p = starP + 1
			continue
		}
		return false
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// ContainsWildcard reports whether pattern contains '*' or '?'.
func ContainsWildcard(pattern string) bool {
	return strings.ContainsAny(pattern, "*?")
}
