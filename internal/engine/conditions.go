package engine

import (
	"strconv"

	"github.com/portcullis/portcullis/internal/lang/conditions"
	"github.com/portcullis/portcullis/internal/lang/variables"
)

// checkConditions substitutes the variables of a deny or precondition
// block and evaluates it: subErr is a substitution error, err an
// evaluation error. It is variables.SubstituteConditions followed by
// conditions.EvaluateRaw; a block of the usual shape (see plainConditions)
// is substituted key and value by key and value into the conditions
// themselves, without copying the block's maps and lists for every
// evaluation (a foreach deny runs for every element of every rule).
func checkConditions(c *variables.Context, raw any) (held bool, msg string, subErr, err error) {
	if b, list, isList, ok, subErr := plainConditions(c, raw); ok || subErr != nil {
		if subErr != nil {
			return false, "", subErr, nil
		}
		if isList {
			held, msg, err = conditions.EvaluateList(list)
		} else {
			held, msg, err = conditions.EvaluateBlock(b)
		}
		return held, msg, nil, err
	}
	sub, subErr := variables.SubstituteConditions(c, raw)
	if subErr != nil {
		return false, "", subErr, nil
	}
	held, msg, err = conditions.EvaluateRaw(sub)
	return held, msg, nil, err
}

// plainConditions substitutes and decodes raw when it has the shape every
// condition block has in practice: a list of conditions, or a mapping of
// "any" and "all" to lists (or null), each condition a mapping whose only
// variables are in its key and value, and no $(...) reference anywhere.
// Then each key and value is substituted at its own path, which gives what
// substituting the whole block gives (the other strings have nothing to
// substitute), and the conditions are built as conditions.FromRaw builds
// them. ok is false, with nothing substituted, for any other shape.
func plainConditions(c *variables.Context, raw any) (b conditions.Block, list []conditions.Condition, isList, ok bool, subErr error) {
	switch t := raw.(type) {
	case []any:
		if !plainList(t) || variables.HasReferences(t) {
			return b, nil, false, false, nil
		}
		list, subErr = substituteList(c, t, "")
		return b, list, true, subErr == nil, subErr
	case map[string]any:
		for k, v := range t {
			if k != "any" && k != "all" {
				return b, nil, false, false, nil
			}
			if v == nil {
				continue
			}
			l, isList := v.([]any)
			if !isList || !plainList(l) {
				return b, nil, false, false, nil
			}
		}
		if variables.HasReferences(t) {
			return b, nil, false, false, nil
		}
		if l, _ := t["any"].([]any); l != nil {
			if b.Any, subErr = substituteList(c, l, "any"); subErr != nil {
				return b, nil, false, false, subErr
			}
		}
		if l, _ := t["all"].([]any); l != nil {
			if b.All, subErr = substituteList(c, l, "all"); subErr != nil {
				return b, nil, false, false, subErr
			}
		}
		return b, nil, false, true, nil
	}
	return b, nil, false, false, nil
}

// plainList reports whether every element of l is a condition mapping
// with variables in its key and value only.
func plainList(l []any) bool {
	for _, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range m {
			if k != "key" && k != "value" && (variables.HasVariables(k) || variables.HasVariables(v)) {
				return false
			}
		}
	}
	return true
}

// substituteList substitutes the key and value of each condition of l
// (a plainList) at its path in the block ("any/0/key", or "0/key" for a
// list block) of the conditions conditions.FromMap builds.
func substituteList(c *variables.Context, l []any, block string) ([]conditions.Condition, error) {
	out := make([]conditions.Condition, 0, len(l))
	for i, it := range l {
		cond := conditions.FromMap(it.(map[string]any))
		idx := strconv.Itoa(i)
		var err error
		if cond.Key, err = substituteAt(c, cond.Key, block, idx, "key"); err != nil {
			return nil, err
		}
		if cond.Value, err = substituteAt(c, cond.Value, block, idx, "value"); err != nil {
			return nil, err
		}
		out = append(out, cond)
	}
	return out, nil
}

// substituteAt substitutes v found at block/idx/field ("" block: idx/field).
func substituteAt(c *variables.Context, v any, block, idx, field string) (any, error) {
	if !variables.HasVariables(v) {
		return v, nil
	}
	if block == "" {
		return variables.SubstituteIn(c, v, idx, field)
	}
	return variables.SubstituteIn(c, v, block, idx, field)
}
