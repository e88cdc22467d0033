package variables

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Variable syntax, as in Kyverno, where it is the regular expression
//
//	(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})
//
// A variable is `{{`, a body, and `}}`. The body is a sequence of characters
// other than braces and of single-brace groups `{...}` without braces
// inside. The variable must be at the start of the string or preceded by a
// character other than a backslash. findVariables implements the same
// leftmost-first matching without the regexp engine, which is several times
// slower on this hot path.

// varMatch locates one variable: prefix is the start of the character
// before the variable (== open when the variable starts the string); the
// variable itself is s[open:end].
type varMatch struct {
	prefix, open, end int
}

// findVariables returns the non-overlapping variables of s, left to right,
// exactly as the regular expression above would match them.
func findVariables(s string, dst []varMatch) []varMatch {
	lastEnd, pos := 0, 0
	for pos < len(s) {
		i := strings.Index(s[pos:], "{{")
		if i < 0 {
			break
		}
		open := pos + i
		pos = open + 1
		prefix := open // at the start of the string the `^` alternative applies
		if open > 0 {
			_, size := utf8.DecodeLastRuneInString(s[:open])
			prefix = open - size
			if prefix < lastEnd || s[prefix] == '\\' {
				continue
			}
		}
		if end := variableEnd(s, open+2); end >= 0 {
			dst = append(dst, varMatch{prefix: prefix, open: open, end: end})
			lastEnd, pos = end, end
		}
	}
	return dst
}

// variableEnd parses a variable body starting at p and returns the index
// just past the closing `}}`, or -1 when there is none.
func variableEnd(s string, p int) int {
	for p < len(s) {
		switch s[p] {
		case '}':
			if p+1 < len(s) && s[p+1] == '}' {
				return p + 2
			}
			return -1
		case '{':
			j := strings.IndexAny(s[p+1:], "{}")
			if j < 0 || s[p+1+j] != '}' {
				return -1
			}
			p += j + 2
		default:
			p++
		}
	}
	return -1
}

// unescapeVariables removes the backslash of every escaped variable
// `\{{...}}` (Kyverno's `\\\{\{(?:\{[^{}]*\}|[^{}])*\}\}`).
func unescapeVariables(s string) string {
	var b strings.Builder
	last, pos := 0, 0
	for {
		i := strings.Index(s[pos:], `\{{`)
		if i < 0 {
			break
		}
		at := pos + i
		if end := variableEnd(s, at+3); end >= 0 {
			b.WriteString(s[last:at])
			b.WriteString(s[at+1 : end])
			last, pos = end, end
			continue
		}
		pos = at + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

const (
	// maxPasses bounds the number of re-scans of one string (nesting depth
	// plus re-expansion of results); Kyverno loops forever on a variable
	// whose value contains itself.
	maxPasses = 64
	// maxExpandedLen bounds the length of a string during expansion.
	maxExpandedLen = 1 << 22
)

// SubstitutionError reports a variable or reference that could not be
// resolved. Its message has the form
// "failed to resolve <variable> at path <path>: <cause>", like Kyverno's.
type SubstitutionError struct {
	// Variable is the expression (or $(...) reference) after trimming, with
	// `@` and the DELETE rewrite applied.
	Variable string
	// Path is the location of the string in the document, as a
	// slash-separated path ("" for the document root).
	Path string
	// Err is the cause, e.g. a JMESPath error; use IsNotFound to detect a
	// missing key.
	Err error
}

// Error implements error.
func (e *SubstitutionError) Error() string {
	return fmt.Sprintf("failed to resolve %s at path %s: %v", e.Variable, e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *SubstitutionError) Unwrap() error { return e.Err }

// Substitute replaces every variable in doc (strings and map keys) and every
// $(...) reference, following Kyverno's SubstituteAll (see the package
// documentation). Unresolvable variables are errors (*SubstitutionError).
// doc is not modified; the result shares unchanged subtrees with doc and
// must be treated as read-only. Paths used by `{{@}}` are relative to doc;
// use SubstituteAt when doc is a fragment of a rule.
func Substitute(c *Context, doc any) (any, error) {
	return SubstituteAt(c, doc, "")
}

// SubstituteConditions substitutes a precondition or deny condition
// document (Kyverno's SubstituteAllInPreconditions). In current Kyverno the
// preconditions resolver propagates resolution errors exactly like
// Substitute does, so an unresolvable variable is an error here too (the
// engine reports the rule as an error; older Kyverno versions substituted
// an empty string). Policies avoid it with JMESPath defaults ("a.b || x").
func SubstituteConditions(c *Context, doc any) (any, error) {
	return SubstituteAt(c, doc, "")
}

// SubstituteAt is Substitute for a document located at basePath inside a
// rule, e.g. "/validate/pattern" or "/mutate/foreach/0/patchStrategicMerge".
// basePath only affects error paths and `{{@}}`: Kyverno maps `{{@}}` to the
// resource by dropping everything up to and including a "foreach" segment,
// then the first two segments (e.g. "validate", "pattern"), and prefixing
// "request.object" (or "target" when the context has a target). With
// basePath "" the first two segments of doc's own path are dropped, which is
// what Kyverno does when it substitutes a validate pattern on its own.
func SubstituteAt(c *Context, doc any, basePath string) (any, error) {
	s := &substituter{c: c, isDelete: c.Operation() == "DELETE"}
	s.path = s.pathBuf[:0]
	for seg := range strings.SplitSeq(basePath, "/") {
		if seg != "" {
			s.path = append(s.path, seg)
		}
	}
	if hasReferences(doc) {
		r := &referenceResolver{doc: doc}
		var err error
		doc, err = r.walk(doc, "")
		if err != nil {
			return nil, err
		}
	}
	out, _, err := s.walk(doc, false)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SubstituteIn substitutes doc, the part of a larger document found at the
// path segments path (e.g. "any", "0", "key" in a deny block), as
// Substitute substitutes it inside that document: the same values, errors,
// error paths and `{{@}}`. The larger document must hold no $(...)
// reference (HasReferences): Substitute resolves those against the whole
// document.
func SubstituteIn(c *Context, doc any, path ...string) (any, error) {
	s := &substituter{c: c, isDelete: c.Operation() == "DELETE"}
	s.path = append(s.pathBuf[:0], path...)
	out, _, err := s.walk(doc, false)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HasReferences reports whether doc holds a $(...) reference in a string
// or map key.
func HasReferences(doc any) bool { return hasReferences(doc) }

// HasVariables reports whether doc contains anything Substitute would
// change: "{{" (variables, including escaped ones) or "$(" (references) in a
// string or map key. Documents for which it returns false can be used
// as-is without calling Substitute.
func HasVariables(doc any) bool {
	switch t := doc.(type) {
	case string:
		return strings.Contains(t, "{{") || strings.Contains(t, "$(")
	case map[string]any:
		for k, v := range t {
			if HasVariables(k) || HasVariables(v) {
				return true
			}
		}
	case []any:
		for _, v := range t {
			if HasVariables(v) {
				return true
			}
		}
	}
	return false
}

type substituter struct {
	c        *Context
	isDelete bool
	// path is the current location: base segments then document segments.
	path []string
	// pathBuf backs path for the usual depths, so that walking a rule's
	// conditions or pattern does not grow it allocation by allocation.
	pathBuf [16]string
	// matches is scratch space reused across strings.
	matches []varMatch
}

// walk substitutes inside v. copyAll forces containers to be copied even
// when nothing changes (used for values that come from the context). It
// reports whether the result differs from v.
func (s *substituter) walk(v any, copyAll bool) (any, bool, error) {
	switch t := v.(type) {
	case string:
		if !strings.Contains(t, "{{") {
			// v, not t: returning t would box the string again (one
			// allocation per unchanged string of every document walked).
			return v, false, nil
		}
		res, err := s.substituteString(t)
		if err != nil {
			return nil, false, err
		}
		switch res.(type) {
		case map[string]any, []any:
			// Kyverno keeps traversing whatever a variable resolved to, which
			// also gives the caller an independent copy.
			out, _, err := s.walk(res, true)
			return out, true, err
		}
		if str, ok := res.(string); ok && str == t {
			return v, false, nil
		}
		return res, true, nil
	case map[string]any:
		return s.walkMap(t, copyAll)
	case []any:
		var out []any
		if copyAll {
			out = make([]any, len(t))
			copy(out, t)
		}
		for i, e := range t {
			s.path = append(s.path, strconv.Itoa(i))
			n, changed, err := s.walk(e, copyAll)
			s.path = s.path[:len(s.path)-1]
			if err != nil {
				return nil, false, err
			}
			if changed && out == nil {
				out = make([]any, len(t))
				copy(out, t)
			}
			if out != nil {
				out[i] = n
			}
		}
		if out == nil {
			return v, false, nil
		}
		return out, true, nil
	}
	return v, false, nil
}

func (s *substituter) walkMap(m map[string]any, copyAll bool) (any, bool, error) {
	var out map[string]any
	if copyAll {
		out = cloneMap(m, 0)
	}
	var renamed []string
	for k, e := range m {
		if strings.Contains(k, "{{") {
			renamed = append(renamed, k)
			continue
		}
		s.path = append(s.path, k)
		n, changed, err := s.walk(e, copyAll)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return nil, false, err
		}
		if changed && out == nil {
			out = cloneMap(m, 0)
		}
		if out != nil {
			out[k] = n
		}
	}
	if len(renamed) == 0 {
		if out == nil {
			return m, false, nil
		}
		return out, true, nil
	}
	if out == nil {
		out = cloneMap(m, 0)
	}
	sort.Strings(renamed)
	for _, k := range renamed {
		nk, err := s.substituteKey(k)
		if err != nil {
			return nil, false, err
		}
		s.path = append(s.path, k)
		n, _, err := s.walk(m[k], copyAll)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return nil, false, err
		}
		if nk != k {
			delete(out, k)
		}
		out[nk] = n
	}
	return out, true, nil
}

// substituteKey substitutes variables in a map key. The key's path is the
// path of the map, as in Kyverno. A key resolving to null keeps its
// original text; any other non-string result is an error.
func (s *substituter) substituteKey(k string) (string, error) {
	res, err := s.substituteString(k)
	if err != nil {
		return "", err
	}
	switch r := res.(type) {
	case nil:
		return k, nil
	case string:
		return r, nil
	}
	return "", fmt.Errorf("expected string after substituting variables in key %q at path %s, got %T", k, s.pathString(), res)
}

// substituteString resolves the variables of one string. A string that is
// exactly one variable yields the typed value.
func (s *substituter) substituteString(value string) (any, error) {
	for pass := 0; ; pass++ {
		locs := findVariables(value, s.matches[:0])
		s.matches = locs
		if len(locs) == 0 {
			break
		}
		if pass >= maxPasses {
			return nil, &SubstitutionError{Variable: value, Path: s.pathString(), Err: errors.New("variable substitution does not converge")}
		}
		var b strings.Builder
		last := 0
		for _, loc := range locs {
			start, end := loc.open, loc.end
			// Like Kyverno, drop only the first byte of the prefix character:
			// the rest of a multi-byte prefix ends up in the expression.
			exprStart := start
			if loc.prefix < start {
				exprStart = loc.prefix + 1
			}
			resolved, err := s.resolve(value[exprStart:end])
			if err != nil {
				return nil, err
			}
			if start == 0 && end == len(value) {
				return resolved, nil
			}
			b.WriteString(value[last:start])
			if err := writeValue(&b, resolved); err != nil {
				return nil, &SubstitutionError{Variable: trimVariable(value[start:end]), Path: s.pathString(), Err: err}
			}
			last = end
		}
		b.WriteString(value[last:])
		value = b.String()
		if len(value) > maxExpandedLen {
			return nil, &SubstitutionError{Variable: value[:64], Path: s.pathString(), Err: errors.New("substituted string is too long")}
		}
	}
	if strings.Contains(value, `\{{`) {
		value = unescapeVariables(value)
	}
	return value, nil
}

// resolve evaluates one `{{...}}` variable.
func (s *substituter) resolve(variable string) (any, error) {
	expr := trimVariable(variable)
	if expr == "@" {
		prefix := []string{"request", "object"}
		if _, ok := s.c.cur.root["target"]; ok {
			prefix = []string{"target"}
		}
		expr = jmesPathOf(append(prefix, atPath(s.path)...))
	}
	if s.isDelete {
		expr = strings.ReplaceAll(expr, "request.object", "request.oldObject")
	}
	v, err := s.c.Query(expr)
	if err != nil {
		return nil, &SubstitutionError{Variable: expr, Path: s.pathString(), Err: err}
	}
	return v, nil
}

// trimVariable removes every "{{" and "}}" and surrounding spaces.
func trimVariable(v string) string {
	if i := strings.Index(v, "{{"); i >= 0 && strings.HasSuffix(v, "}}") {
		// Common case: one "{{" and a body without "{{" or "}}", so the
		// result is the text around the braces (no allocation).
		body := v[i+2 : len(v)-2]
		if !strings.Contains(body, "{{") && !strings.Contains(body, "}}") {
			return strings.TrimSpace(v[:i] + body)
		}
	}
	v = strings.ReplaceAll(v, "{{", "")
	v = strings.ReplaceAll(v, "}}", "")
	return strings.TrimSpace(v)
}

// writeValue appends a resolved value inside a larger string: strings as
// is, anything else as JSON (maps with sorted keys, HTML characters
// escaped, null for nil), which is what Kyverno produces.
func writeValue(b *strings.Builder, v any) error {
	if str, ok := v.(string); ok {
		b.WriteString(str)
		return nil
	}
	if f, ok := v.(float64); ok && f == float64(int64(f)) && f > -1e15 && f < 1e15 && !math.Signbit(f) {
		b.WriteString(strconv.FormatInt(int64(f), 10))
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to marshal %T: %w", v, err)
	}
	b.Write(raw)
	return nil
}

// pathString renders the current location like Kyverno's traversal does:
// "/a/0/b", with "/" inside keys written as `\/`; "" at the root.
func (s *substituter) pathString() string {
	var b strings.Builder
	for _, seg := range s.path {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(seg, "/", `\/`))
	}
	return b.String()
}

// atPath returns the resource path for `{{@}}`: segments after the last
// "foreach" (if any), minus the first two.
func atPath(path []string) []string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == "foreach" {
			path = path[i+1:]
			break
		}
	}
	if len(path) <= 2 {
		return nil
	}
	return path[2:]
}

// jmesPathOf renders path segments as a JMESPath expression: numeric
// segments as indexes, identifiers bare, anything else as a quoted
// identifier.
func jmesPathOf(segs []string) string {
	var b strings.Builder
	for _, seg := range segs {
		if _, err := strconv.ParseUint(seg, 10, 64); err == nil {
			b.WriteByte('[')
			b.WriteString(seg)
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if isBareIdentifier(seg) {
			b.WriteString(seg)
			continue
		}
		b.WriteByte('"')
		for _, r := range seg {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '/':
				b.WriteString(`\/`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if r < 0x20 {
					fmt.Fprintf(&b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// isBareIdentifier reports whether seg can be written unquoted. Like
// Kyverno, '(' is accepted as a first character and ')' afterwards, so that
// anchored keys such as "(name)" stay readable.
func isBareIdentifier(seg string) bool {
	if seg == "" {
		return false
	}
	first, size := utf8.DecodeRuneInString(seg)
	if !(first == '(' || first == '_' || first < unicode.MaxASCII && unicode.IsLetter(first)) {
		return false
	}
	for _, r := range seg[size:] {
		if !(r == ')' || r == '_' || r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}
