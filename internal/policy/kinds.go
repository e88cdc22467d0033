package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/portcullis/portcullis/internal/wildcard"
)

// versionRe recognises an API version in a kind selector (Kyverno's rule).
var versionRe = regexp.MustCompile(`^(v\d+((alpha|beta)\d+)?|\*)$`)

// KindSelector is one parsed entry of match.resources.kinds. Empty Group or
// Version means any; "*" parts are wildcards.
type KindSelector struct {
	Group, Version, Kind, Subresource string
	// AnyGroupVersion is true when the selector named only a kind.
	AnyGroupVersion bool
}

// ParseKind parses the accepted forms of a kind selector:
// "Pod", "v1/Pod", "apps/v1/Deployment", "Pod/status", "v1/Pod/status",
// "apps/v1/Deployment/scale", each part possibly with wildcards ("*").
func ParseKind(s string) (KindSelector, error) {
	if s == "" {
		return KindSelector{}, fmt.Errorf("empty kind")
	}
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\n") {
		return KindSelector{}, fmt.Errorf("kind %q contains white space", s)
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if p == "" {
			return KindSelector{}, fmt.Errorf("kind %q has an empty part", s)
		}
	}
	isSub := func(p string) bool {
		r := []rune(p)[0]
		return unicode.IsLower(r)
	}
	var k KindSelector
	switch len(parts) {
	case 1:
		k = KindSelector{Kind: parts[0], AnyGroupVersion: true}
	case 2:
		// As in Kyverno, the first part is a version only when it looks
		// like one: "Pod/*" is every subresource of Pod, "*/*" every kind
		// and subresource.
		switch {
		case parts[0] == "*" && parts[1] == "*":
			k = KindSelector{Kind: "*", Subresource: "*", AnyGroupVersion: true}
		case isSub(parts[1]) || !versionRe.MatchString(parts[0]):
			k = KindSelector{Kind: parts[0], Subresource: parts[1], AnyGroupVersion: true}
		default:
			k = KindSelector{Version: parts[0], Kind: parts[1], Group: "*"}
		}
	case 3:
		if isSub(parts[2]) || (parts[0] != "*" && versionRe.MatchString(parts[0])) {
			k = KindSelector{Group: "*", Version: parts[0], Kind: parts[1], Subresource: parts[2]}
		} else {
			k = KindSelector{Group: parts[0], Version: parts[1], Kind: parts[2]}
		}
	case 4:
		k = KindSelector{Group: parts[0], Version: parts[1], Kind: parts[2], Subresource: parts[3]}
	default:
		return KindSelector{}, fmt.Errorf("kind %q has too many parts (want Kind, version/Kind or group/version/Kind, optionally /subresource)", s)
	}
	if k.Kind != "*" && !wildcard.ContainsWildcard(k.Kind) && !unicode.IsUpper([]rune(k.Kind)[0]) {
		return KindSelector{}, fmt.Errorf("kind %q: kind names start with an upper-case letter", s)
	}
	return k, nil
}

// Matches reports whether the selector selects a resource of the given
// apiVersion ("apps/v1" or "v1"), kind and subresource ("" for the
// resource itself).
func (k KindSelector) Matches(apiVersion, kind, subresource string) bool {
	if !wildcard.Match(k.Kind, kind) {
		return false
	}
	if k.Subresource != "" {
		if !wildcard.Match(k.Subresource, subresource) {
			return false
		}
	} else if subresource != "" {
		return false
	}
	if k.AnyGroupVersion {
		return true
	}
	group, version := "", apiVersion
	if i := strings.IndexByte(apiVersion, '/'); i >= 0 {
		group, version = apiVersion[:i], apiVersion[i+1:]
	}
	if k.Group != "*" && !wildcard.Match(k.Group, group) {
		return false
	}
	return k.Version == "*" || wildcard.Match(k.Version, version)
}

// String formats the selector back in its canonical form.
func (k KindSelector) String() string {
	var parts []string
	if !k.AnyGroupVersion {
		if k.Group != "*" {
			parts = append(parts, k.Group)
		}
		parts = append(parts, k.Version)
	}
	parts = append(parts, k.Kind)
	if k.Subresource != "" {
		parts = append(parts, k.Subresource)
	}
	return strings.Join(parts, "/")
}
