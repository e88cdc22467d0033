package policy

import (
	"encoding/json"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/matchconstraints"
	"github.com/portcullis/portcullis/internal/manifest"
)

// KindGeneratingPolicy names GeneratingPolicies in Select.
const KindGeneratingPolicy = "GeneratingPolicy"

// GeneratingPolicy is one compiled policies.kyverno.io GeneratingPolicy.
type GeneratingPolicy struct {
	// Spec is the policy as written.
	Spec *policiesv1.GeneratingPolicy
	// File is where it was loaded from.
	File string
	// Match selects the triggers (matchConstraints).
	Match *matchconstraints.Matcher
	// Program holds the variables, matchConditions and generate
	// expressions.
	Program *cel.Program
	// Severity, Category and Title come from the policy's annotations.
	Severity, Category, Title string
}

// Name returns the policy name.
func (p *GeneratingPolicy) Name() string { return p.Spec.Name }

func enabled(e *policiesv1.Enabled, def bool) bool {
	if e == nil || e.Enabled == nil {
		return def
	}
	return *e.Enabled
}

// Synchronize reports spec.evaluation.synchronize.enabled (default false).
func (p *GeneratingPolicy) Synchronize() bool {
	ev := p.Spec.Spec.Evaluation
	return ev != nil && enabled(ev.Synchronize, false)
}

// Existing reports spec.evaluation.generateExisting.enabled (default false).
func (p *GeneratingPolicy) Existing() bool {
	ev := p.Spec.Spec.Evaluation
	return ev != nil && enabled(ev.GenerateExisting, false)
}

// Admission reports spec.evaluation.admission.enabled (default true).
func (p *GeneratingPolicy) Admission() bool {
	ev := p.Spec.Spec.Evaluation
	return ev == nil || enabled(ev.Admission, true)
}

// DeleteOnPolicyDelete reports whether the generated resources go with
// the policy: synchronized, not orphanDownstreamOnPolicyDelete. (A
// GeneratingPolicy cannot tell a clone from data: what it passes to
// generator.Apply is data.)
func (p *GeneratingPolicy) DeleteOnPolicyDelete() bool {
	ev := p.Spec.Spec.Evaluation
	return p.Synchronize() && (ev == nil || !enabled(ev.OrphanDownstreamOnPolicyDelete, false))
}

func (c *compiler) compileGeneratingPolicy(d manifest.Document) (*GeneratingPolicy, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "policy has no name", nil)
	}
	var p policiesv1.GeneratingPolicy
	data, err := json.Marshal(d.Object)
	if err == nil {
		err = json.Unmarshal(data, &p)
	}
	if err != nil {
		return nil, fail("", "policy does not match the GeneratingPolicy schema", err)
	}
	if len(p.Spec.Generate) == 0 {
		return nil, fail("spec.generate", "policy has no generate expressions", nil)
	}
	if p.Spec.MatchConstraints == nil {
		return nil, fail("spec.matchConstraints", "policy has no matchConstraints", nil)
	}
	gp := &GeneratingPolicy{Spec: &p, File: d.Source,
		Severity: p.Annotations[AnnotationSeverity], Category: p.Annotations[AnnotationCategory], Title: p.Annotations[AnnotationTitle]}
	var errs Errors
	if e := checkWebhookTimeout(p.Spec.WebhookConfiguration); e != nil {
		e.Policy = name
		errs = append(errs, e)
	}
	m, err := matchconstraints.Compile(p.Spec.MatchConstraints)
	if err != nil {
		errs = append(errs, &Error{Policy: name, Field: "spec.matchConstraints", Msg: "invalid matchConstraints", Err: err})
	}
	gp.Match = m
	cc, err := c.cel.get()
	if err != nil {
		return nil, fail("", "cannot build the CEL environment", err)
	}
	gens := make([]cel.Generation, len(p.Spec.Generate))
	for i, g := range p.Spec.Generate {
		gens[i] = cel.Generation{Expression: g.Expression}
	}
	prog, cerr := cc.Compile(cel.Spec{Dialect: cel.Kyverno, FieldPrefix: "spec.", MultilineMessages: true,
		Variables: toCELVariables(p.Spec.Variables), MatchConditions: toCELConditions(p.Spec.MatchConditions),
		Generations: gens})
	if cerr != nil {
		errs = append(errs, celErrors(Error{Policy: name, Field: "spec"}, cerr)...)
	}
	gp.Program = prog
	if len(errs) > 0 {
		return nil, errs
	}
	return gp, nil
}

// GeneratingPolicy returns the GeneratingPolicy with the given name.
func (s *Set) GeneratingPolicy(name string) *GeneratingPolicy {
	for _, p := range s.Generating {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// OnlyGenerating returns a Set holding just the GeneratingPolicy p.
func (s *Set) OnlyGenerating(p *GeneratingPolicy) *Set {
	out := &Set{Generating: []*GeneratingPolicy{p}}
	out.buildIndex(false)
	return out
}

// HasGenerate reports whether any policy of s generates resources: a
// Kyverno rule with a generate body, or a GeneratingPolicy.
func (s *Set) HasGenerate() bool {
	if len(s.Generating) > 0 {
		return true
	}
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			if r.Generate != nil {
				return true
			}
		}
	}
	return false
}
