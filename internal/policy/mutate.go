package policy

import (
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"sigs.k8s.io/yaml"
)

// maxForEachDepth bounds nested foreach blocks (validate and mutate).
const maxForEachDepth = 8

// checkMutation checks a mutate rule body: exactly one of
// patchStrategicMerge, patchesJson6902 and foreach; patches that have no
// variables must parse; every {{ }} expression must compile.
func (c *compiler) checkMutation(rule, field string, m *kyvernov1.Mutation) Errors {
	var errs Errors
	n := 0
	if m.PatchStrategicMerge != nil {
		n++
		errs = append(errs, c.checkStrategicMerge(rule, field+".patchStrategicMerge", m.PatchStrategicMerge)...)
	}
	if m.PatchesJSON6902 != "" {
		n++
		errs = append(errs, c.checkJSON6902(rule, field+".patchesJson6902", m.PatchesJSON6902)...)
	}
	if len(m.ForEach) > 0 {
		n++
		errs = append(errs, c.checkForEachMutation(rule, field+".foreach", m.ForEach, 0)...)
	}
	if n != 1 {
		errs = append(errs, &Error{Rule: rule, Field: field, Msg: "mutate needs exactly one of patchStrategicMerge, patchesJson6902 and foreach"})
	}
	for i, t := range m.Targets {
		f := fmt.Sprintf("%s.targets[%d]", field, i)
		if t.Kind == "" {
			errs = append(errs, &Error{Rule: rule, Field: f + ".kind", Msg: "target needs a kind"})
		}
		if t.APIVersion == "" {
			errs = append(errs, &Error{Rule: rule, Field: f + ".apiVersion", Msg: "target needs an apiVersion"})
		}
		if t.Selector != nil {
			if err := checkSelector(t.Selector); err != nil {
				errs = append(errs, &Error{Rule: rule, Field: f + ".selector", Msg: "invalid label selector", Err: err})
			}
		}
		for j, ce := range t.Context {
			errs = append(errs, c.checkContextEntry(rule, fmt.Sprintf("%s.context[%d]", f, j), ce)...)
		}
		if t.Preconditions != nil {
			errs = append(errs, c.checkConditions(rule, f+".preconditions", t.Preconditions)...)
		}
		errs = append(errs, c.checkStrings(rule, f, map[string]any{"name": t.Name, "namespace": t.Namespace})...)
	}
	return errs
}

func (c *compiler) checkStrategicMerge(rule, field string, p any) Errors {
	if _, ok := p.(map[string]any); !ok {
		return Errors{&Error{Rule: rule, Field: field, Msg: fmt.Sprintf("patchStrategicMerge must be a mapping, not %s", jsonType(p))}}
	}
	return c.checkStrings(rule, field, p)
}

// checkJSON6902 parses a patchesJson6902 without variables as the engine
// will (YAML list of operations); one with variables is parsed after
// substitution, so only its expressions are checked here.
func (c *compiler) checkJSON6902(rule, field, s string) Errors {
	if hasVariables(s) {
		return c.checkStrings(rule, field, s)
	}
	if _, err := DecodeJSON6902(s); err != nil {
		return Errors{&Error{Rule: rule, Field: field, Msg: "invalid JSON patch", Err: err}}
	}
	return nil
}

// DecodeJSON6902 turns a patchesJson6902 text (a YAML or JSON list of
// RFC 6902 operations, variables already substituted) into the JSON
// patch document and checks its operations.
func DecodeJSON6902(s string) ([]byte, error) {
	js, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("parse patchesJson6902: %w", err)
	}
	p, err := jsonpatch.DecodePatch(js)
	if err != nil {
		return nil, fmt.Errorf("decode patchesJson6902: %w", err)
	}
	for i, op := range p {
		switch k := op.Kind(); k {
		case "add", "replace", "remove", "copy", "move", "test":
		default:
			return nil, fmt.Errorf("operation %d: unknown op %q", i, k)
		}
		if _, err := op.Path(); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
	}
	return js, nil
}

func (c *compiler) checkForEachMutation(rule, field string, list []kyvernov1.ForEachMutation, depth int) Errors {
	var errs Errors
	for i, fe := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		errs = append(errs, c.checkForEachList(rule, f+".list", fe.List)...)
		if fe.Order != nil && *fe.Order != "Ascending" && *fe.Order != "Descending" {
			errs = append(errs, &Error{Rule: rule, Field: f + ".order", Msg: fmt.Sprintf("unknown order %q (want Ascending or Descending)", *fe.Order)})
		}
		for j, ce := range fe.Context {
			errs = append(errs, c.checkContextEntry(rule, fmt.Sprintf("%s.context[%d]", f, j), ce)...)
		}
		if fe.Preconditions != nil {
			errs = append(errs, c.checkConditions(rule, f+".preconditions", fe.Preconditions)...)
		}
		n := 0
		if fe.PatchStrategicMerge != nil {
			n++
			errs = append(errs, c.checkStrategicMerge(rule, f+".patchStrategicMerge", fe.PatchStrategicMerge)...)
		}
		if fe.PatchesJSON6902 != "" {
			n++
			errs = append(errs, c.checkJSON6902(rule, f+".patchesJson6902", fe.PatchesJSON6902)...)
		}
		if len(fe.ForEach) > 0 {
			n++
			if depth >= maxForEachDepth {
				errs = append(errs, &Error{Rule: rule, Field: f + ".foreach", Msg: fmt.Sprintf("foreach nested too deeply (limit %d)", maxForEachDepth)})
			} else {
				errs = append(errs, c.checkForEachMutation(rule, f+".foreach", fe.ForEach, depth+1)...)
			}
		}
		if n != 1 {
			errs = append(errs, &Error{Rule: rule, Field: f, Msg: "foreach needs exactly one of patchStrategicMerge, patchesJson6902 and foreach"})
		}
	}
	return errs
}

// checkForEachList checks a foreach list expression.
func (c *compiler) checkForEachList(rule, field, list string) Errors {
	switch {
	case strings.TrimSpace(list) == "":
		return Errors{&Error{Rule: rule, Field: field, Msg: "foreach needs a list expression"}}
	case !hasVariables(list):
		if err := c.checkExpr(list); err != nil {
			return Errors{&Error{Rule: rule, Field: field, Msg: "invalid JMESPath", Err: err}}
		}
		return nil
	}
	return c.checkStrings(rule, field, list)
}

func jsonType(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, int64, int:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// HasMutate reports whether the set has mutations that apply at
// admission: Kyverno mutate rules (rules with targets mutate existing
// resources instead), MutatingPolicies or MutatingAdmissionPolicies.
func (s *Set) HasMutate() bool {
	if len(s.Mutating) > 0 || len(s.MutatingAdmission) > 0 {
		return true
	}
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			if m := r.Spec.Mutation; m != nil && len(m.Targets) == 0 {
				return true
			}
		}
	}
	return false
}
