package mutate

import (
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/lang/pattern"
)

// ConditionError is returned by Preprocess when a conditional anchor of
// the patch does not hold on the resource outside a list: Kyverno skips
// the rule.
type ConditionError struct{ Err error }

func (e *ConditionError) Error() string { return "condition failed: " + e.Err.Error() }

// Unwrap returns the mismatch.
func (e *ConditionError) Unwrap() error { return e.Err }

// GlobalConditionError is returned by Preprocess when a global anchor of
// the patch does not hold: Kyverno skips the rule.
type GlobalConditionError struct{ Err error }

func (e *GlobalConditionError) Error() string { return "global condition failed: " + e.Err.Error() }

// Unwrap returns the mismatch.
func (e *GlobalConditionError) Unwrap() error { return e.Err }

// IsSkip reports whether err says the patch does not apply (a conditional
// or global anchor did not hold): the rule is skipped, not in error.
func IsSkip(err error) bool {
	var ce *ConditionError
	var ge *GlobalConditionError
	return errors.As(err, &ce) || errors.As(err, &ge)
}

// Preprocess evaluates the anchors of a strategic merge patch against
// resource and returns the plain patch to merge, as Kyverno's
// strategicPreprocessing does:
//
//   - "+(key)": the field is dropped when the resource has key, else
//     written as key;
//   - "(key)" and "<(key)" in a map: the resource's key must match the
//     anchor's value as a validate pattern, or Preprocess returns a
//     ConditionError (GlobalConditionError); the anchor itself is not
//     part of the patch;
//   - in a list of maps, an element with anchors is matched against each
//     element of the resource's list: for each one it holds on (and that
//     has a name), a copy of it without anchors and with that element's
//     name is added to the patch, so the merge updates that element;
//     elements it does not hold on are left alone. A global anchor that
//     holds on no element skips the rule.
//
// patch is not modified.
func Preprocess(patch, resource any) (any, error) {
	p := deepCopy(patch)
	if err := preprocess(&p, resource); err != nil {
		return nil, err
	}
	if m, ok := p.(map[string]any); ok {
		for k, v := range m {
			mod, _ := pattern.SplitAnchor(k)
			if deletable(&v, isCondition(mod)) {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
	}
	return p, nil
}

// isCondition reports whether an anchor modifier is a condition of some
// kind (Kyverno's anchor.ContainsCondition).
func isCondition(mod string) bool {
	switch mod {
	case "(", "<", "=", "^", "X":
		return true
	}
	return false
}

func hasAnyAnchor(mod string) bool { return isCondition(mod) || mod == "+" }

func preprocess(p *any, resource any) error {
	switch t := (*p).(type) {
	case map[string]any:
		return walkMap(t, resource)
	case []any:
		if len(t) > 0 {
			if _, ok := t[0].(map[string]any); ok {
				out, err := walkListOfMaps(t, resource)
				if err != nil {
					return err
				}
				*p = out
			}
		}
	}
	return nil
}

func walkMap(p map[string]any, resource any) error {
	rm, _ := resource.(map[string]any)
	addIfNotPresent(p, rm)
	if err := conditions(p, rm, "<"); err != nil {
		return &GlobalConditionError{err}
	}
	if err := conditions(p, rm, "("); err != nil {
		return &ConditionError{err}
	}
	for k, v := range p {
		if mod, _ := pattern.SplitAnchor(k); mod != "" {
			continue
		}
		var rv any
		if rm != nil {
			rv = rm[k]
		}
		if err := preprocess(&v, rv); err != nil {
			return err
		}
		p[k] = v
	}
	return nil
}

// addIfNotPresent resolves the "+(key)" anchors of p against rm and
// returns how many there were.
func addIfNotPresent(p map[string]any, rm map[string]any) int {
	n := 0
	for k, v := range p {
		mod, bare := pattern.SplitAnchor(k)
		if mod != "+" {
			continue
		}
		n++
		delete(p, k)
		if _, present := rm[bare]; present && rm != nil {
			continue
		}
		p[bare] = v
	}
	return n
}

// conditions checks the anchors of p with modifier mod against rm.
func conditions(p map[string]any, rm map[string]any, mod string) error {
	for k, v := range p {
		m, bare := pattern.SplitAnchor(k)
		if m != mod {
			continue
		}
		rv, ok := rm[bare]
		if rm == nil || !ok {
			return fmt.Errorf("could not found %q key in the resource", bare)
		}
		if vm, ok := v.(map[string]any); ok {
			if rvm, ok := rv.(map[string]any); ok && addIfNotPresent(vm, rvm) > 0 {
				continue
			}
		}
		if err := pattern.Validate(rv, v); err != nil {
			return err
		}
	}
	return nil
}

func walkListOfMaps(p []any, resource any) ([]any, error) {
	rl, _ := resource.([]any)
	out := p
	for _, el := range p {
		if !hasAnchors(el, hasAnyAnchor) {
			continue
		}
		global := hasAnchors(el, func(m string) bool { return m == "<" })
		globalPassed := false
		var globalErr error
		for _, rel := range rl {
			cp := deepCopy(el)
			if err := preprocess(&cp, rel); err != nil {
				var ge *GlobalConditionError
				switch {
				case errors.As(err, &ge):
					globalErr = err
					continue
				case IsSkip(err):
					continue
				}
				return nil, err
			}
			if global {
				globalPassed = true
				continue
			}
			rm, _ := rel.(map[string]any)
			name, ok := rm["name"]
			if !ok || name == nil || name == "" {
				continue
			}
			if deletable(&cp, true) {
				continue
			}
			if cm, ok := cp.(map[string]any); ok {
				cm["name"] = name
			}
			out = append(out, cp)
		}
		if !globalPassed && globalErr != nil {
			return nil, globalErr
		}
	}
	return out, nil
}

// hasAnchors reports whether v has a key (or a scalar value) with an
// anchor modifier is accepts.
func hasAnchors(v any, is func(string) bool) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if mod, _ := pattern.SplitAnchor(k); mod != "" && is(mod) {
				return true
			}
			if hasAnchors(x, is) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasAnchors(x, is) {
				return true
			}
		}
	case string:
		mod, _ := pattern.SplitAnchor(t)
		return isCondition(mod)
	}
	return false
}

// deletable strips the anchors left in *v and reports whether nothing but
// anchors was there, so the field must not be part of the patch (a patch
// of nulls would delete the resource's fields). deleteScalar says whether
// a scalar counts as an anchor's value.
func deletable(v *any, deleteScalar bool) bool {
	switch t := (*v).(type) {
	case map[string]any:
		return deletableMap(t)
	case []any:
		out, empty := deletableList(t)
		*v = out
		return empty
	case nil:
		return deleteScalar
	default:
		return deleteScalar
	}
}

func deletableMap(m map[string]any) bool {
	// Conditions whose values were only scalars go; the others become
	// plain keys.
	for k, x := range m {
		mod, bare := pattern.SplitAnchor(k)
		if !isCondition(mod) {
			continue
		}
		delete(m, k)
		if !deletable(&x, true) {
			m[bare] = x
		}
	}
	need := true
	for k, x := range m {
		if deletable(&x, false) {
			delete(m, k)
			continue
		}
		m[k] = x
		need = false
	}
	return need
}

func deletableList(l []any) ([]any, bool) {
	if len(l) == 0 {
		return l, false
	}
	out := l[:0:0]
	for _, el := range l {
		if hasAnchors(el, hasAnyAnchor) {
			continue
		}
		if deletable(&el, false) {
			continue
		}
		out = append(out, el)
	}
	return out, len(out) == 0
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}
