package conditions

import "fmt"

// EvaluateRaw evaluates a decoded, already-substituted conditions block as
// policies write it: {any: [...], all: [...]} or a plain list (meaning
// all). nil holds. It returns whether the block holds, the messages of the
// conditions that decided it, and an error for a malformed block.
func EvaluateRaw(raw any) (bool, string, error) {
	switch v := raw.(type) {
	case map[string]any:
		anyC, err := FromRaw(v["any"])
		if err != nil {
			return false, "", err
		}
		allC, err := FromRaw(v["all"])
		if err != nil {
			return false, "", err
		}
		return EvaluateBlock(Block{Any: anyC, All: allC})
	case []any:
		list, err := FromRaw(v)
		if err != nil {
			return false, "", err
		}
		return EvaluateList(list)
	case nil:
		return true, "", nil
	}
	return false, "", fmt.Errorf("conditions must be {any, all} or a list, got %T", raw)
}

// FromRaw decodes a list of {key, operator, value, message} mappings.
func FromRaw(raw any) ([]Condition, error) {
	if raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("conditions must be a list, got %T", raw)
	}
	out := make([]Condition, 0, len(list))
	for _, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("condition must be a mapping, got %T", it)
		}
		out = append(out, FromMap(m))
	}
	return out, nil
}

// FromMap is the condition a decoded condition mapping describes: its
// key, operator, value and message (a non-string operator or message is
// empty).
func FromMap(m map[string]any) Condition {
	op, _ := m["operator"].(string)
	msg, _ := m["message"].(string)
	return Condition{Key: m["key"], Operator: op, Value: m["value"], Message: msg}
}
