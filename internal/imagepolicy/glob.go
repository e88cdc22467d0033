package imagepolicy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/portcullis/portcullis/internal/imageref"
)

// Glob is a compiled policy-controller image glob.
//
// Syntax: "*" matches any run of characters except "/", "**" matches any
// run of characters including "/", everything else is literal. Only
// letters, digits and "-", "_", ":", "/", ".", "*" may appear (so "?",
// "[...]", "@", "+" are refused, as policy-controller refuses them). The
// bare globs "*" and "*/*" mean "index.docker.io/library/*" and
// "index.docker.io/*/*".
type Glob struct {
	pattern string
	re      *regexp.Regexp
}

// CompileGlob checks and compiles a glob.
func CompileGlob(pattern string) (*Glob, error) {
	if pattern == "" {
		return nil, fmt.Errorf("glob is empty")
	}
	for i, r := range pattern {
		if !globRune(r) {
			if r == '?' {
				return nil, fmt.Errorf("glob %q is invalid: %q at offset %d is not supported (only \"*\" and \"**\" are wildcards)", pattern, r, i)
			}
			return nil, fmt.Errorf("glob %q is invalid: character %q at offset %d is not allowed (letters, digits, '-', '_', ':', '/', '.', '*')", pattern, r, i)
		}
	}
	expanded := pattern
	switch pattern {
	case "*":
		expanded = "index.docker.io/library/*"
	case "*/*":
		expanded = "index.docker.io/*/*"
	}
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(expanded); {
		switch {
		case strings.HasPrefix(expanded[i:], "**"):
			b.WriteString(`.*`)
			i += 2
		case expanded[i] == '*':
			b.WriteString(`[^/]*`)
			i++
		default:
			j := i
			for j < len(expanded) && expanded[j] != '*' {
				j++
			}
			b.WriteString(regexp.QuoteMeta(expanded[i:j]))
			i = j
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("glob %q is invalid: %w", pattern, err)
	}
	return &Glob{pattern: pattern, re: re}, nil
}

func globRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_:/.*", r)
}

// String returns the glob as written.
func (g *Glob) String() string { return g.pattern }

// Match reports whether image matches the glob. The image is first
// normalised like a container runtime would ("nginx" is
// "index.docker.io/library/nginx:latest"); when that does not match, the
// reference as written is tried too (policy-controller's deprecated
// fallback). An image that is not a valid reference never matches.
func (g *Glob) Match(image string) bool {
	full, ok := NormalizeImage(image)
	if !ok {
		return false
	}
	if g.re.MatchString(full) {
		return true
	}
	return full != image && g.re.MatchString(image)
}

// NormalizeImage returns the fully qualified form of an image reference
// (registry, repository and tag or digest, as go-containerregistry names
// it), or false when it is invalid.
func NormalizeImage(image string) (string, bool) {
	ref, err := imageref.Parse(image)
	if err != nil {
		return "", false
	}
	return ref.Name(), true
}

// MatchGlob compiles pattern and matches image against it.
func MatchGlob(pattern, image string) (bool, error) {
	g, err := CompileGlob(pattern)
	if err != nil {
		return false, err
	}
	return g.Match(image), nil
}
