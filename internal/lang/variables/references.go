package variables

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Reference syntax, as in Kyverno: `$(` any character, then non-space
// characters up to the last `)` of that run. It must be at the start of
// the string or preceded by a character other than a backslash (that
// character is part of the match).
var (
	reReference        = regexp.MustCompile(`^\$\(.[^\ ]*\)|[^\\]\$\(.[^\ ]*\)`)
	reEscapedReference = regexp.MustCompile(`\\\$\(.[^\ ]*\)`)
	reAnchorKey        = regexp.MustCompile(`^([+<=X^])?\((.+)\)$`)
)

// referenceOperators are the comparison prefixes a reference may carry
// ("$(>=../x)"), longest first.
var referenceOperators = []string{">=", "<=", ">", "<", "!"}

// hasReferences reports whether any string or key of doc contains "$(".
func hasReferences(doc any) bool {
	switch t := doc.(type) {
	case string:
		return strings.Contains(t, "$(")
	case map[string]any:
		for k, v := range t {
			if strings.Contains(k, "$(") || hasReferences(v) {
				return true
			}
		}
	case []any:
		for _, v := range t {
			if hasReferences(v) {
				return true
			}
		}
	}
	return false
}

// referenceResolver replaces `$(path)` references with the value found at
// path in the same document (Kyverno's substituteReferences). Relative paths
// are joined to the path of the string that contains the reference; anchors
// such as "(name)" or "=(name)" in the document are ignored when matching.
type referenceResolver struct {
	doc   any
	index map[string]any
}

func (r *referenceResolver) walk(v any, p string) (any, error) {
	switch t := v.(type) {
	case string:
		if !strings.Contains(t, "$(") {
			return t, nil
		}
		return r.substitute(t, p)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			nk := k
			if strings.Contains(k, "$(") {
				var err error
				if nk, err = r.substitute(k, p); err != nil {
					return nil, err
				}
			}
			n, err := r.walk(e, p+"/"+strings.ReplaceAll(k, "/", `\/`))
			if err != nil {
				return nil, err
			}
			out[nk] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			n, err := r.walk(e, fmt.Sprintf("%s/%d", p, i))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	return v, nil
}

func (r *referenceResolver) substitute(value, p string) (string, error) {
	for _, match := range reReference.FindAllString(value, -1) {
		ref, prefix := match, ""
		if !strings.HasPrefix(match, "$(") {
			ref, prefix = match[1:], match[:1]
		}
		val, err := r.resolve(ref, p)
		if err != nil {
			return "", &SubstitutionError{Variable: ref, Path: p, Err: err}
		}
		str, ok := val.(string)
		if !ok {
			if val == nil {
				err = errors.New("reference not found")
			} else {
				err = fmt.Errorf("reference resolved to %T, not a string", val)
			}
			return "", &SubstitutionError{Variable: ref, Path: p, Err: err}
		}
		value = strings.Replace(value, match, prefix+str, 1)
	}
	if strings.Contains(value, `\$(`) {
		value = reEscapedReference.ReplaceAllStringFunc(value, func(m string) string { return m[1:] })
	}
	return value, nil
}

// resolve returns the value a reference points to. With an operator prefix
// the result is the operator followed by the value as text (floats with six
// decimals, as Kyverno formats them).
func (r *referenceResolver) resolve(ref, leafPath string) (any, error) {
	target := strings.Trim(ref, "$()")
	op := ""
	if len(target) >= 2 {
		for _, candidate := range referenceOperators {
			if strings.HasPrefix(target, candidate) {
				op = candidate
				break
			}
		}
	}
	target = target[len(op):]
	if target == "" {
		return nil, errors.New("expected path, found empty reference")
	}
	if !path.IsAbs(target) {
		target = path.Join(leafPath, target)
	}
	val := r.lookup(target)
	if op == "" {
		return val, nil
	}
	switch t := val.(type) {
	case string:
		return op + t, nil
	case int:
		return fmt.Sprintf("%s%d", op, t), nil
	case int64:
		return fmt.Sprintf("%s%d", op, t), nil
	case float64:
		return fmt.Sprintf("%s%f", op, t), nil
	}
	return nil, fmt.Errorf("incorrect expression: operator %s does not match with value %v", op, val)
}

// lookup finds the leaf (or map key) whose anchor-free path equals target.
func (r *referenceResolver) lookup(target string) any {
	if r.index == nil {
		r.index = map[string]any{}
		r.indexLeaves(r.doc, "")
	}
	return r.index[target]
}

func (r *referenceResolver) indexLeaves(v any, p string) {
	switch t := v.(type) {
	case map[string]any:
		clean := removeAnchorsFromPath(p)
		for k, e := range t {
			r.index[clean] = k
			r.indexLeaves(e, p+"/"+strings.ReplaceAll(k, "/", `\/`))
		}
	case []any:
		for i, e := range t {
			r.indexLeaves(e, fmt.Sprintf("%s/%d", p, i))
		}
	default:
		r.index[removeAnchorsFromPath(p)] = v
	}
}

// removeAnchorsFromPath strips anchors ("(k)", "^(k)", "=(k)", "+(k)",
// "X(k)", "<(k)") from every segment and cleans the path.
func removeAnchorsFromPath(p string) string {
	parts := strings.Split(p, "/")
	if parts[0] == "" {
		parts = parts[1:]
	}
	for i, part := range parts {
		if m := reAnchorKey.FindStringSubmatch(part); m != nil {
			parts[i] = m[2]
		}
	}
	out := path.Join(parts...)
	if path.IsAbs(p) {
		out = "/" + out
	}
	return out
}
