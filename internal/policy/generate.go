package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/manifest"
)

// Generate is a compiled generate body of a Kyverno rule.
type Generate struct {
	// Spec is the generate body as written.
	Spec kyvernov1.Generation
	// Existing is true when the rule also generates for triggers that
	// already exist when the policy is added or changed
	// (generate.generateExisting, else spec.generateExisting, or the
	// deprecated spec.generateExistingOnPolicyUpdate).
	Existing bool
}

// Synchronize reports whether the generated resources are kept in step
// with their source and deleted with their trigger.
func (g *Generate) Synchronize() bool { return g.Spec.Synchronize }

// IsClone reports whether the rule copies existing resources (clone or
// cloneList, also inside foreach) rather than creating them from data.
// Deleting the policy never deletes clones, as in Kyverno.
func (g *Generate) IsClone() bool {
	if g.Spec.Clone != nil || g.Spec.CloneList != nil {
		return true
	}
	for _, fe := range g.Spec.ForEach {
		if fe.Clone != nil || fe.CloneList != nil {
			return true
		}
	}
	return false
}

// DeleteOnPolicyDelete reports whether the generated resources go when
// the policy or rule is deleted: synchronized data rules without
// orphanDownstreamOnPolicyDelete (Kyverno's documented behaviour).
func (g *Generate) DeleteOnPolicyDelete() bool {
	return g.Spec.Synchronize && !g.IsClone() && !g.Spec.OrphanDownstreamOnPolicyDelete
}

// compileGenerate checks and decodes a rule's generate body (raw is the
// rule's generate mapping as written).
func (c *compiler) compileGenerate(pol *Policy, r kyvernov1.Rule, field string) (*Generate, Errors) {
	var errs Errors
	fail := func(f, msg string, err error) {
		errs = append(errs, &Error{Rule: r.Name, Field: f, Msg: msg, Err: err})
	}
	for _, fe := range manifest.CheckFields(r.Generation, &kyvernov1.Generation{}, manifest.StrictOptions{}) {
		fail(field+"."+fe.Path, fe.Msg, nil)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var g Generate
	data, err := json.Marshal(r.Generation)
	if err == nil {
		err = json.Unmarshal(data, &g.Spec)
	}
	if err != nil {
		fail(field, "generate does not match its schema", err)
		return nil, errs
	}
	errs = append(errs, c.checkStrings(r.Name, field, r.Generation)...)
	if len(g.Spec.ForEach) > 0 {
		p := g.Spec.GeneratePattern
		if p.Data != nil || p.Clone != nil || p.CloneList != nil {
			fail(field, "generate with foreach takes data, clone or cloneList in each foreach entry, not beside it", nil)
		}
		for i, fe := range g.Spec.ForEach {
			f := fmt.Sprintf("%s.foreach[%d]", field, i)
			if strings.TrimSpace(fe.List) == "" {
				fail(f+".list", "foreach needs a list expression", nil)
			} else if !hasVariables(fe.List) {
				if err := c.checkExpr(fe.List); err != nil {
					fail(f+".list", "invalid JMESPath", err)
				}
			}
			for j, ce := range fe.Context {
				errs = append(errs, c.checkContextEntry(r.Name, fmt.Sprintf("%s.context[%d]", f, j), ce)...)
			}
			if fe.Preconditions != nil {
				errs = append(errs, c.checkConditions(r.Name, f+".preconditions", fe.Preconditions)...)
			}
			errs = append(errs, checkGeneratePattern(pol, r.Name, f, fe.GeneratePattern)...)
		}
	} else {
		errs = append(errs, checkGeneratePattern(pol, r.Name, field, g.Spec.GeneratePattern)...)
	}
	if g.Spec.GenerateExisting != nil {
		g.Existing = *g.Spec.GenerateExisting
	} else {
		s := pol.Spec.Spec
		g.Existing = s.GenerateExisting || (s.GenerateExistingOnPolicyUpdate != nil && *s.GenerateExistingOnPolicyUpdate)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &g, nil
}

// checkGeneratePattern checks one generate target as Kyverno's policy
// validation does: exactly one of data, clone and cloneList; data and
// clone name the kind and name to create; clone names its source;
// cloneList names its namespace and kinds. A namespaced Policy generates
// and clones only in its own namespace.
func checkGeneratePattern(pol *Policy, rule, field string, p kyvernov1.GeneratePattern) Errors {
	var errs Errors
	fail := func(f, msg string) { errs = append(errs, &Error{Rule: rule, Field: f, Msg: msg}) }
	n := 0
	for _, set := range []bool{p.Data != nil, p.Clone != nil, p.CloneList != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		fail(field, "generate needs one of data, clone and cloneList")
		return errs
	case n > 1:
		fail(field, "generate takes only one of data, clone and cloneList")
		return errs
	}
	ownNS := pol.Namespace()
	sameNS := func(f, ns string) {
		if ownNS != "" && ns != "" && !hasVariables(ns) && ns != ownNS {
			fail(f, fmt.Sprintf("a namespaced Policy can only generate in its own namespace %q, not %q", ownNS, ns))
		}
	}
	if p.CloneList != nil {
		if p.Name != "" {
			fail(field+".name", "cloneList takes the names of its sources; name must not be set")
		}
		if p.CloneList.Namespace == "" {
			fail(field+".cloneList.namespace", "cloneList needs the namespace of its sources")
		}
		if len(p.CloneList.Kinds) == 0 {
			fail(field+".cloneList.kinds", "cloneList needs at least one kind")
		}
		if s := p.CloneList.Selector; s != nil {
			if err := checkSelector(s); err != nil {
				errs = append(errs, &Error{Rule: rule, Field: field + ".cloneList.selector", Msg: "invalid label selector", Err: err})
			}
		}
		sameNS(field+".namespace", p.Namespace)
		sameNS(field+".cloneList.namespace", p.CloneList.Namespace)
		return errs
	}
	if p.Kind == "" {
		fail(field+".kind", "generate needs the kind of the resource to create")
	}
	if p.Name == "" {
		fail(field+".name", "generate needs the name of the resource to create")
	}
	if p.Data != nil {
		if _, ok := p.Data.(map[string]any); !ok {
			fail(field+".data", "data must be a mapping (the resource without apiVersion and kind)")
		}
	}
	if p.Clone != nil && p.Clone.Name == "" {
		fail(field+".clone.name", "clone needs the name of its source")
	}
	sameNS(field+".namespace", p.Namespace)
	if p.Clone != nil {
		sameNS(field+".clone.namespace", p.Clone.Namespace)
	}
	return errs
}
