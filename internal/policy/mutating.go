package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/matchconstraints"
	"github.com/portcullis/portcullis/internal/lang/mutating"
	"github.com/portcullis/portcullis/internal/manifest"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Kinds and versions of the mutating policies.
const (
	kindMAP        = "MutatingAdmissionPolicy"
	kindMAPBinding = "MutatingAdmissionPolicyBinding"
)

// mapAPIVersions are the admissionregistration.k8s.io versions serving
// MutatingAdmissionPolicy (alpha in 1.32, beta in 1.34, GA in 1.36); they
// share the v1 shape.
var mapAPIVersions = []string{admissionGroup + "/v1", admissionGroup + "/v1beta1", admissionGroup + "/v1alpha1"}

// mpolAPIVersions are the policies.kyverno.io versions serving
// MutatingPolicy.
var mpolAPIVersions = []string{policiesv1.Group + "/v1", policiesv1.Group + "/v1beta1", policiesv1.Group + "/v1alpha1"}

// MutatingPolicy is one compiled policies.kyverno.io MutatingPolicy.
type MutatingPolicy struct {
	// Spec is the policy as written.
	Spec *policiesv1.MutatingPolicy
	// File is where it was loaded from.
	File string
	// Variants are the policy itself followed by its autogen variants.
	Variants []*MutatingVariant
	// Severity, Category and Title come from the policy's annotations.
	Severity, Category, Title string
}

// MutatingVariant is one evaluable form of a MutatingPolicy.
type MutatingVariant struct {
	// Name is "" for the policy itself, "autogen" or "autogen-cronjobs".
	Name    string
	Match   *matchconstraints.Matcher
	Program *mutating.Program
}

// Name returns the policy name.
func (p *MutatingPolicy) Name() string { return p.Spec.Name }

// FailOpen reports whether failurePolicy is Ignore (default Fail).
func (p *MutatingPolicy) FailOpen() bool {
	return p.Spec.Spec.FailurePolicy != nil && *p.Spec.Spec.FailurePolicy == admissionregistrationv1.Ignore
}

// Background reports whether p runs in background scans
// (spec.evaluation.background.enabled, true unless set to false).
func (p *MutatingPolicy) Background() bool { return p.Spec.Spec.BackgroundEnabled() }

// Admission reports whether p runs at admission
// (spec.evaluation.admission.enabled, true unless set to false).
func (p *MutatingPolicy) Admission() bool { return p.Spec.Spec.AdmissionEnabled() }

// ReinvocationPolicy returns spec.reinvocationPolicy (Never by default).
func (p *MutatingPolicy) ReinvocationPolicy() admissionregistrationv1.ReinvocationPolicyType {
	if r := p.Spec.Spec.ReinvocationPolicy; r != "" {
		return r
	}
	return admissionregistrationv1.NeverReinvocationPolicy
}

// MutatingAdmissionPolicy is a compiled native MutatingAdmissionPolicy
// with its bindings. Without a binding it applies to nothing.
type MutatingAdmissionPolicy struct {
	// Spec is the policy (any served version, read in the v1 shape).
	Spec *admissionregistrationv1.MutatingAdmissionPolicy
	// APIVersion is the version it was written in.
	APIVersion string
	File       string
	Match      *matchconstraints.Matcher
	Program    *mutating.Program
	Bindings   []*MutatingAdmissionBinding
}

// Name returns the policy name.
func (p *MutatingAdmissionPolicy) Name() string { return p.Spec.Name }

// FailOpen reports whether failurePolicy is Ignore (default Fail).
func (p *MutatingAdmissionPolicy) FailOpen() bool {
	return p.Spec.Spec.FailurePolicy != nil && *p.Spec.Spec.FailurePolicy == admissionregistrationv1.Ignore
}

// ReinvocationPolicy returns spec.reinvocationPolicy.
func (p *MutatingAdmissionPolicy) ReinvocationPolicy() admissionregistrationv1.ReinvocationPolicyType {
	return p.Spec.Spec.ReinvocationPolicy
}

// MutatingAdmissionBinding is a compiled MutatingAdmissionPolicyBinding.
type MutatingAdmissionBinding struct {
	Spec *admissionregistrationv1.MutatingAdmissionPolicyBinding
	// Match narrows the policy's matchConstraints (nil: no narrowing).
	Match *matchconstraints.Matcher
}

// Name returns the binding name.
func (b *MutatingAdmissionBinding) Name() string { return b.Spec.Name }

func hasVersion(versions []string, v string) bool {
	for _, x := range versions {
		if x == v {
			return true
		}
	}
	return false
}

// toCELMutations converts spec.mutations, checking that each names a
// known patch type and carries the matching expression.
func toCELMutations(ms []admissionregistrationv1.Mutation, prefix string) ([]cel.Mutation, Errors) {
	var out []cel.Mutation
	var errs Errors
	for i, m := range ms {
		field := fmt.Sprintf("%s.mutations[%d]", prefix, i)
		switch m.PatchType {
		case admissionregistrationv1.PatchTypeJSONPatch:
			if m.JSONPatch == nil || m.ApplyConfiguration != nil {
				errs = append(errs, &Error{Field: field + ".jsonPatch", Msg: "patchType JSONPatch needs jsonPatch (and no applyConfiguration)"})
				continue
			}
			out = append(out, cel.Mutation{PatchType: cel.JSONPatch, Expression: m.JSONPatch.Expression})
		case admissionregistrationv1.PatchTypeApplyConfiguration:
			if m.ApplyConfiguration == nil || m.JSONPatch != nil {
				errs = append(errs, &Error{Field: field + ".applyConfiguration", Msg: "patchType ApplyConfiguration needs applyConfiguration (and no jsonPatch)"})
				continue
			}
			out = append(out, cel.Mutation{PatchType: cel.ApplyConfiguration, Expression: m.ApplyConfiguration.Expression})
		case "":
			errs = append(errs, &Error{Field: field + ".patchType", Msg: "patchType is required (ApplyConfiguration or JSONPatch)"})
		default:
			errs = append(errs, &Error{Field: field + ".patchType", Msg: fmt.Sprintf("unknown patch type %q (want ApplyConfiguration or JSONPatch)", m.PatchType)})
		}
	}
	if len(ms) == 0 {
		errs = append(errs, &Error{Field: prefix + ".mutations", Msg: "at least one mutation is required"})
	}
	return out, errs
}

func checkFailurePolicy(fp *admissionregistrationv1.FailurePolicyType) *Error {
	if msg, bad := badFailurePolicy(fp); bad {
		return &Error{Field: "spec.failurePolicy", Msg: msg}
	}
	return nil
}

func checkReinvocation(r admissionregistrationv1.ReinvocationPolicyType, required bool) *Error {
	switch r {
	case admissionregistrationv1.NeverReinvocationPolicy, admissionregistrationv1.IfNeededReinvocationPolicy:
		return nil
	case "":
		if !required {
			return nil
		}
		return &Error{Field: "spec.reinvocationPolicy", Msg: "reinvocationPolicy is required (Never or IfNeeded)"}
	}
	return &Error{Field: "spec.reinvocationPolicy", Msg: fmt.Sprintf("unknown reinvocation policy %q (want Never or IfNeeded)", r)}
}

func (c *compiler) compileMutatingPolicy(d manifest.Document) (*MutatingPolicy, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "policy has no name", nil)
	}
	if !hasVersion(mpolAPIVersions, d.APIVersion()) {
		return nil, fail("apiVersion", fmt.Sprintf("unsupported apiVersion %q (want one of %s)", d.APIVersion(), strings.Join(mpolAPIVersions, ", ")), nil)
	}
	var p policiesv1.MutatingPolicy
	if err := decodeInto(d.Object, &p); err != nil {
		return nil, fail("", "policy does not match the MutatingPolicy schema", err)
	}
	var errs Errors
	if e := checkFailurePolicy(p.Spec.FailurePolicy); e != nil {
		errs = append(errs, e)
	}
	if e := checkWebhookTimeout(p.Spec.WebhookConfiguration); e != nil {
		errs = append(errs, e)
	}
	if e := checkReinvocation(p.Spec.ReinvocationPolicy, false); e != nil {
		errs = append(errs, e)
	}
	if ev := p.Spec.Evaluation; ev != nil {
		switch ev.Mode {
		case "", "Kubernetes":
		case "JSON":
			// JSON mode mutates arbitrary JSON payloads, not resources.
			errs = append(errs, &Error{Field: "spec.evaluation.mode", Msg: "evaluation mode JSON is not supported yet"})
		default:
			errs = append(errs, &Error{Field: "spec.evaluation.mode", Msg: fmt.Sprintf("unknown evaluation mode %q (want Kubernetes or JSON)", ev.Mode)})
		}
	}
	if _, merrs := toCELMutations(p.Spec.Mutations, "spec"); len(merrs) > 0 {
		errs = append(errs, merrs...)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			e.Policy = name
		}
		return nil, errs
	}
	mp := &MutatingPolicy{Spec: &p, File: d.Source,
		Severity: p.Annotations[AnnotationSeverity], Category: p.Annotations[AnnotationCategory], Title: p.Annotations[AnnotationTitle]}
	variants := append([]mpolVariant{{spec: p.Spec}}, mpolAutogen(&p)...)
	cc, err := c.cel.get()
	if err != nil {
		return nil, fail("", "cannot build the CEL environment", err)
	}
	for _, v := range variants {
		prefix := "spec"
		if v.autogen != "" {
			prefix = "spec (" + v.autogen + ")"
		}
		m, err := matchconstraints.Compile(v.spec.MatchConstraints)
		if err != nil {
			errs = append(errs, &Error{Policy: name, Field: prefix + ".matchConstraints", Msg: "invalid matchConstraints", Err: err})
		}
		muts, _ := toCELMutations(v.spec.Mutations, prefix)
		prog, cerr := mutating.Compile(cc, mutating.Spec{Dialect: cel.Kyverno, FieldPrefix: prefix + ".",
			Variables: toCELVariables(v.spec.Variables), MatchConditions: toCELConditions(v.spec.MatchConditions), Mutations: muts,
			ServerSideApply:  v.spec.Evaluation != nil && v.spec.Evaluation.UseServerSideApply,
			AuditAnnotations: toCELAnnotations(v.spec.AuditAnnotations)})
		if cerr != nil {
			errs = append(errs, celErrors(Error{Policy: name, Field: prefix}, cerr)...)
		}
		if len(errs) > 0 {
			// Errors of the policy itself say it all; its autogen
			// variants would only repeat them.
			break
		}
		mp.Variants = append(mp.Variants, &MutatingVariant{Name: v.autogen, Match: m, Program: prog})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return mp, nil
}

// mpolVariant is a MutatingPolicy spec as evaluated: the policy itself or
// a generated variant for pod controllers.
type mpolVariant struct {
	autogen string
	spec    policiesv1.MutatingPolicySpec
}

// mpolAutogen returns the variants Kyverno generates for a MutatingPolicy
// on Pods (same conditions and controllers as for a ValidatingPolicy,
// spec.autogen.podControllers.controllers narrowing them): the match
// constraints name the controllers, and match conditions and
// applyConfiguration expressions are rewritten to the pod template
// (object.spec -> object.spec.template.spec, Object{...} wrapped in
// Object.spec.template), textually as Kyverno does. JSONPatch expressions
// and variables are kept as written, as Kyverno keeps them.
func mpolAutogen(p *policiesv1.MutatingPolicy) []mpolVariant {
	if !vpolCanAutogen(p.Spec.MatchConstraints) {
		return nil
	}
	var pc *policiesv1.PodControllers
	if p.Spec.Autogen != nil {
		pc = p.Spec.Autogen.PodControllers
	}
	main, cron := autogenTargets(pc)
	var out []mpolVariant
	for _, g := range []struct {
		name    string
		targets []vpolTarget
		cronjob bool
	}{{"autogen", main, false}, {"autogen-cronjobs", cron, true}} {
		if len(g.targets) == 0 {
			continue
		}
		out = append(out, mpolVariantFor(p, g.name, g.targets, g.cronjob))
	}
	return out
}

func mpolVariantFor(p *policiesv1.MutatingPolicy, name string, targets []vpolTarget, cronjob bool) mpolVariant {
	var spec policiesv1.MutatingPolicySpec
	data, _ := json.Marshal(p.Spec)
	_ = json.Unmarshal(data, &spec) // a deep copy of a value that just marshalled
	match := autogenMatch(targets, spec.MatchConstraints.ResourceRules[0].Operations)
	spec.MatchConstraints = match
	for i := range spec.MatchConditions {
		spec.MatchConditions[i].Expression = podToTemplateExpression(spec.MatchConditions[i].Expression, cronjob)
	}
	for i := range spec.Mutations {
		if ac := spec.Mutations[i].ApplyConfiguration; ac != nil && ac.Expression != "" {
			ac.Expression = podToTemplateExpression(ac.Expression, cronjob)
		}
	}
	return mpolVariant{autogen: name, spec: spec}
}

// podToTemplateExpression is Kyverno's rewrite of a Pod expression for a
// pod controller: object.spec and Object.spec move to the template's spec,
// labels and annotations to the template's metadata, and an expression
// that is one Object{...} is wrapped in the controller's template.
func podToTemplateExpression(expr string, cronjob bool) string {
	spec, meta := "spec.template.spec", "spec.template.metadata"
	wrapper, closing := "Object{spec: Object.spec{template: Object.spec.template{", "}}}"
	if cronjob {
		spec, meta = "spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"
		wrapper = "Object{spec: Object.spec{jobTemplate: Object.spec.jobTemplate{spec: Object.spec.jobTemplate.spec{template: Object.spec.jobTemplate.spec.template{"
		closing = "}}}}}"
	}
	expr = strings.ReplaceAll(expr, "object.spec", "object."+spec)
	expr = strings.ReplaceAll(expr, "Object.spec", "Object."+spec)
	for _, f := range []string{"labels", "annotations"} {
		expr = strings.ReplaceAll(expr, "object.metadata."+f, "object."+meta+"."+f)
		expr = strings.ReplaceAll(expr, "Object.metadata."+f, "Object."+meta+"."+f)
	}
	trimmed := strings.TrimSpace(expr)
	if !strings.HasPrefix(trimmed, "Object{") {
		return expr
	}
	content := strings.TrimPrefix(trimmed, "Object{")
	depth := 1
	for i, ch := range content {
		switch ch {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				if i == 0 {
					return expr
				}
				return wrapper + content[:i] + closing + content[i+1:]
			}
		}
	}
	return expr
}

func (c *compiler) compileMAP(d manifest.Document) (*MutatingAdmissionPolicy, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "policy has no name", nil)
	}
	var p admissionregistrationv1.MutatingAdmissionPolicy
	if err := decodeInto(d.Object, &p); err != nil {
		return nil, fail("", "policy does not match the MutatingAdmissionPolicy schema", err)
	}
	s := p.Spec
	var errs Errors
	if e := checkFailurePolicy(s.FailurePolicy); e != nil {
		errs = append(errs, e)
	}
	if e := checkReinvocation(s.ReinvocationPolicy, true); e != nil {
		errs = append(errs, e)
	}
	if pk := s.ParamKind; pk != nil && (pk.APIVersion == "" || pk.Kind == "") {
		errs = append(errs, &Error{Field: "spec.paramKind", Msg: "paramKind needs apiVersion and kind"})
	}
	muts, merrs := toCELMutations(s.Mutations, "spec")
	errs = append(errs, merrs...)
	m, err := matchconstraints.Compile(s.MatchConstraints)
	if err != nil {
		errs = append(errs, &Error{Field: "spec.matchConstraints", Msg: "invalid matchConstraints", Err: err})
	}
	if len(errs) == 0 {
		cc, err := c.cel.get()
		if err != nil {
			return nil, fail("", "cannot build the CEL environment", err)
		}
		prog, cerr := mutating.Compile(cc, mutating.Spec{Dialect: cel.Kubernetes, HasParams: s.ParamKind != nil, FieldPrefix: "spec.",
			Variables: toCELVariables(s.Variables), MatchConditions: toCELConditions(s.MatchConditions), Mutations: muts})
		if cerr != nil {
			errs = append(errs, celErrors(Error{Field: "spec"}, cerr)...)
		}
		if len(errs) == 0 {
			return &MutatingAdmissionPolicy{Spec: &p, APIVersion: d.APIVersion(), File: d.Source, Match: m, Program: prog}, nil
		}
	}
	for _, e := range errs {
		e.Policy = name
	}
	return nil, errs
}

func compileMAPBinding(d manifest.Document) (*MutatingAdmissionBinding, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "binding has no name", nil)
	}
	var b admissionregistrationv1.MutatingAdmissionPolicyBinding
	if err := decodeInto(d.Object, &b); err != nil {
		return nil, fail("", "binding does not match the MutatingAdmissionPolicyBinding schema", err)
	}
	s := b.Spec
	if s.PolicyName == "" {
		return nil, fail("spec.policyName", "binding names no policy", nil)
	}
	if e := checkParamRef(s.ParamRef); e != nil {
		e.Policy = name
		return nil, Errors{e}
	}
	m, err := compileBindingMatch(s.MatchResources)
	if err != nil {
		return nil, fail("spec.matchResources", "invalid matchResources", err)
	}
	out := &MutatingAdmissionBinding{Spec: &b, Match: m}
	return out, nil
}

// bindMutatingAdmissionPolicies attaches bindings to their policies; a
// binding naming a policy that is not loaded is an error.
func bindMutatingAdmissionPolicies(set *Set, bindings []*MutatingAdmissionBinding, where map[*MutatingAdmissionBinding]manifest.Document) Errors {
	var errs Errors
	for _, b := range bindings {
		d := where[b]
		p := set.MutatingAdmissionPolicy(b.Spec.Spec.PolicyName)
		if p == nil {
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: b.Name(), Field: "spec.policyName",
				Msg: fmt.Sprintf("binding refers to MutatingAdmissionPolicy %q, which is not loaded", b.Spec.Spec.PolicyName)})
			continue
		}
		if b.Spec.Spec.ParamRef != nil && p.Spec.Spec.ParamKind == nil {
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: b.Name(), Field: "spec.paramRef",
				Msg: fmt.Sprintf("binding sets paramRef but policy %q has no paramKind", p.Name())})
			continue
		}
		p.Bindings = append(p.Bindings, b)
	}
	for _, p := range set.MutatingAdmission {
		sort.Slice(p.Bindings, func(i, j int) bool { return p.Bindings[i].Name() < p.Bindings[j].Name() })
	}
	return errs
}

// MutatingPolicy returns the MutatingPolicy with the given name.
func (s *Set) MutatingPolicy(name string) *MutatingPolicy {
	for _, p := range s.Mutating {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// MutatingAdmissionPolicy returns the MutatingAdmissionPolicy with the
// given name.
func (s *Set) MutatingAdmissionPolicy(name string) *MutatingAdmissionPolicy {
	for _, p := range s.MutatingAdmission {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// OnlyMutating returns a Set holding just the MutatingPolicy p.
func (s *Set) OnlyMutating(p *MutatingPolicy) *Set {
	out := &Set{Mutating: []*MutatingPolicy{p}}
	out.buildIndex(false)
	return out
}
