package policy

import (
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/pattern"
	"github.com/portcullis/portcullis/internal/lang/pss"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Annotations Portcullis reads from policies.
const (
	AnnotationAutogenControllers = "pod-policies.kyverno.io/autogen-controllers"
	AnnotationScored             = "policies.kyverno.io/scored"
	AnnotationSeverity           = "policies.kyverno.io/severity"
	AnnotationCategory           = "policies.kyverno.io/category"
	AnnotationTitle              = "policies.kyverno.io/title"
	AnnotationControlID          = "portcullis.dev/control-id"
	AnnotationRemediation        = "portcullis.dev/remediation"
)

// Failure actions.
const (
	Audit   = "Audit"
	Enforce = "Enforce"
)

// Set is an immutable, indexed collection of compiled policies.
type Set struct {
	// Policies in a stable order (namespace/name).
	Policies []*Policy
	// Validating are the compiled ValidatingPolicies, by name.
	Validating []*ValidatingPolicy
	// Admission are the native ValidatingAdmissionPolicies, with their
	// bindings, by name.
	Admission []*AdmissionPolicy
	// Generating are the compiled GeneratingPolicies, by name.
	Generating []*GeneratingPolicy
	// Images are the sigstore ClusterImagePolicies
	// (policy.sigstore.dev/v1beta1), compiled by internal/imagepolicy, by
	// name.
	Images []*imagepolicy.Policy
	// Mutating are the compiled policies.kyverno.io MutatingPolicies, by
	// name.
	Mutating []*MutatingPolicy
	// MutatingAdmission are the native MutatingAdmissionPolicies, with
	// their bindings, by name.
	MutatingAdmission []*MutatingAdmissionPolicy
	// Unsupported lists policy documents skipped under
	// Options.SkipUnsupported.
	Unsupported []Unsupported
	// Exceptions are the PolicyExceptions (kyverno.io and
	// policies.kyverno.io), by key. They are not policies (Len does not
	// count them) and every subset of the Set (Only*, Select) keeps them.
	Exceptions []*Exception

	byKind   map[string][]*Rule
	anyKind  []*Rule
	numRules int
}

// Unsupported names a policy document of a kind this package does not load.
type Unsupported struct {
	File, Kind, Name string
}

// Policy is one compiled ClusterPolicy or Policy.
type Policy struct {
	// Spec is the policy as written.
	Spec *kyvernov1.Policy
	// File is where it was loaded from.
	File string
	// Rules are the policy's rules followed by generated autogen rules.
	Rules []*Rule
	// Scored is false when the policy is annotated scored: "false"; its
	// failures are then reported as warnings.
	Scored bool
	// FailureAction is Audit or Enforce (normalised).
	FailureAction string
	// Severity, Category and Title come from the policy's annotations.
	Severity, Category, Title string
	// Control and Remediation come from the portcullis.dev/control-id and
	// portcullis.dev/remediation annotations ("" when absent); the engine
	// copies them into every result of the policy.
	Control, Remediation string
	// WebhookMatch holds spec.webhookConfiguration.matchConditions,
	// compiled (nil when there are none): the policy applies to a request
	// only when they all hold (see the engine).
	WebhookMatch *cel.Program
}

// Name returns the policy name.
func (p *Policy) Name() string { return p.Spec.Name }

// Namespace returns the namespace of a namespaced Policy ("" for a ClusterPolicy).
func (p *Policy) Namespace() string {
	if p.Spec.IsNamespaced() {
		if p.Spec.Namespace == "" {
			return "default"
		}
		return p.Spec.Namespace
	}
	return ""
}

// Key identifies the policy in a Set: "name" or "namespace/name".
func (p *Policy) Key() string {
	if ns := p.Namespace(); ns != "" {
		return ns + "/" + p.Name()
	}
	return p.Name()
}

// FailOpen reports whether the policy's failure policy (FailurePolicy)
// is Ignore (the default is Fail).
func (p *Policy) FailOpen() bool {
	return p.FailurePolicy() == admissionregistrationv1.Ignore
}

// Rule is one compiled rule.
type Rule struct {
	// Policy is the rule's policy.
	Policy *Policy
	// Spec is the rule as evaluated (for autogen rules, the generated form).
	Spec kyvernov1.Rule
	// Autogen is "" for a written rule, "controllers" or "cronjob" for a
	// generated one.
	Autogen string
	// Match and Exclude are the compiled resource filters (Exclude nil when none).
	Match   *Match
	Exclude *Match
	// Pattern and AnyPatterns are precompiled when they hold no variables
	// (nil otherwise: the engine compiles after substitution).
	Pattern     *pattern.Pattern
	AnyPatterns []*pattern.Pattern
	// PodSecurity is the compiled podSecurity check, if any, and its spec.
	PodSecurity     *pss.Checker
	PodSecuritySpec pss.Spec
	// CEL is the compiled validate.cel body (with celPreconditions as
	// match conditions), if any; CELParamKind/CELParamRef name its params.
	CEL          *cel.Program
	CELParamKind *admissionregistrationv1.ParamKind
	CELParamRef  *admissionregistrationv1.ParamRef
	// Generate is the compiled generate body, if any.
	Generate *Generate
	// FailureAction is the rule's effective action, Audit or Enforce.
	FailureAction string
	// AdmissionOnly is set when the rule reads data that exists only at
	// admission (request.userInfo and its kin, match by subjects or
	// roles): background scans skip it, as Kyverno does.
	AdmissionOnly bool
	// kinds lists the kind names (without group/version) that can match;
	// "*" when any kind can.
	kinds []string
	order int
}

// Name returns the rule name.
func (r *Rule) Name() string { return r.Spec.Name }

// Match is a compiled match or exclude block: Any (at least one filter),
// All (every filter). The legacy inline form is compiled to All with one
// filter.
type Match struct {
	Any []Filter
	All []Filter
}

// Filter is one compiled resource filter.
type Filter struct {
	Kinds    []KindSelector
	Resource kyvernov1.ResourceDescription
	User     kyvernov1.UserInfo
}

// Len returns the number of policies of every kind.
func (s *Set) Len() int {
	return len(s.Policies) + len(s.Validating) + len(s.Admission) + len(s.Images) + len(s.Mutating) + len(s.MutatingAdmission) + len(s.Generating)
}

// ImagePolicy returns the ClusterImagePolicy with the given name.
func (s *Set) ImagePolicy(name string) *imagepolicy.Policy {
	for _, p := range s.Images {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// OnlyImage returns a Set holding just the ClusterImagePolicy p.
func (s *Set) OnlyImage(p *imagepolicy.Policy) *Set {
	out := &Set{Images: []*imagepolicy.Policy{p}, Exceptions: s.Exceptions}
	out.buildIndex(false)
	return out
}

// UsesCEL reports whether any policy is evaluated with CEL
// (ValidatingPolicy, ValidatingAdmissionPolicy, MutatingPolicy,
// MutatingAdmissionPolicy or validate.cel rules): those may look up other
// resources and params.
func (s *Set) UsesCEL() bool {
	if len(s.Validating) > 0 || len(s.Admission) > 0 || len(s.Mutating) > 0 || len(s.MutatingAdmission) > 0 || len(s.Generating) > 0 {
		return true
	}
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			if r.CEL != nil {
				return true
			}
		}
	}
	return false
}

// AdmissionPolicy returns the ValidatingAdmissionPolicy with the given name.
func (s *Set) AdmissionPolicy(name string) *AdmissionPolicy {
	for _, p := range s.Admission {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// OnlyAdmission returns a Set holding just the ValidatingAdmissionPolicy p.
func (s *Set) OnlyAdmission(p *AdmissionPolicy) *Set {
	out := &Set{Admission: []*AdmissionPolicy{p}, Exceptions: s.Exceptions}
	out.buildIndex(false)
	return out
}

// ValidatingPolicy returns the ValidatingPolicy with the given name.
func (s *Set) ValidatingPolicy(name string) *ValidatingPolicy {
	for _, p := range s.Validating {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// NumRules returns the number of rules, autogen rules included.
func (s *Set) NumRules() int { return s.numRules }

// RulesFor returns the rules that can match a resource of the given kind,
// in policy order. The slice must not be modified.
func (s *Set) RulesFor(kind string) []*Rule {
	direct := s.byKind[kind]
	if len(s.anyKind) == 0 {
		return direct
	}
	if len(direct) == 0 {
		return s.anyKind
	}
	out := make([]*Rule, 0, len(direct)+len(s.anyKind))
	i, j := 0, 0
	for i < len(direct) || j < len(s.anyKind) {
		switch {
		case j >= len(s.anyKind) || (i < len(direct) && direct[i].order < s.anyKind[j].order):
			out = append(out, direct[i])
			i++
		default:
			out = append(out, s.anyKind[j])
			j++
		}
	}
	return out
}

// Policy returns the policy with the given key ("name" or "namespace/name").
func (s *Set) Policy(key string) *Policy {
	for _, p := range s.Policies {
		if p.Key() == key || (p.Name() == key && !strings.Contains(key, "/")) {
			return p
		}
	}
	return nil
}

// buildIndex indexes rules by kind; assignOrder numbers them (only for a
// new Set: rules are shared with subsets made by Only).
func (s *Set) buildIndex(assignOrder bool) {
	s.byKind = map[string][]*Rule{}
	s.anyKind = nil
	s.numRules = 0
	order := 0
	for _, p := range s.Policies {
		for _, r := range p.Rules {
			if assignOrder {
				r.order = order
				order++
				r.AdmissionOnly = admissionOnly(r)
			}
			s.numRules++
			wild := false
			for _, k := range r.kinds {
				if k == "*" {
					wild = true
				}
			}
			if wild {
				s.anyKind = append(s.anyKind, r)
				continue
			}
			for _, k := range r.kinds {
				s.byKind[k] = append(s.byKind[k], r)
			}
		}
	}
}

// OnlyValidating returns a Set holding just the ValidatingPolicy p.
func (s *Set) OnlyValidating(p *ValidatingPolicy) *Set {
	out := &Set{Validating: []*ValidatingPolicy{p}, Exceptions: s.Exceptions}
	out.buildIndex(false)
	return out
}

// Only returns a Set holding just p (which must belong to s).
func (s *Set) Only(p *Policy) *Set {
	out := &Set{Policies: []*Policy{p}, Exceptions: s.Exceptions}
	out.buildIndex(false)
	return out
}

// Policy kinds as Select names them (the Kubernetes kinds of the
// policies' documents).
const (
	KindClusterPolicy             = "ClusterPolicy"
	KindPolicy                    = "Policy"
	KindValidatingPolicy          = "ValidatingPolicy"
	KindValidatingAdmissionPolicy = "ValidatingAdmissionPolicy"
	KindClusterImagePolicy        = "ClusterImagePolicy"
	KindMutatingPolicy            = "MutatingPolicy"
	KindMutatingAdmissionPolicy   = "MutatingAdmissionPolicy"
)

// Kind returns KindPolicy for a namespaced Policy, KindClusterPolicy
// otherwise.
func (p *Policy) Kind() string {
	if p.Spec.IsNamespaced() {
		return KindPolicy
	}
	return KindClusterPolicy
}

// Select returns a Set of the policies of s for which keep returns true,
// each named by its kind (the Kind* constants) and key ("name", or
// "namespace/name" for a Policy). Compiled rules are shared with s, in
// the same order, as with Only.
func (s *Set) Select(keep func(kind, key string) bool) *Set {
	out := &Set{Exceptions: s.Exceptions}
	for _, p := range s.Policies {
		if keep(p.Kind(), p.Key()) {
			out.Policies = append(out.Policies, p)
		}
	}
	for _, p := range s.Validating {
		if keep(KindValidatingPolicy, p.Name()) {
			out.Validating = append(out.Validating, p)
		}
	}
	for _, p := range s.Admission {
		if keep(KindValidatingAdmissionPolicy, p.Name()) {
			out.Admission = append(out.Admission, p)
		}
	}
	for _, p := range s.Images {
		if keep(KindClusterImagePolicy, p.Name()) {
			out.Images = append(out.Images, p)
		}
	}
	for _, p := range s.Mutating {
		if keep(KindMutatingPolicy, p.Name()) {
			out.Mutating = append(out.Mutating, p)
		}
	}
	for _, p := range s.MutatingAdmission {
		if keep(KindMutatingAdmissionPolicy, p.Name()) {
			out.MutatingAdmission = append(out.MutatingAdmission, p)
		}
	}
	for _, p := range s.Generating {
		if keep(KindGeneratingPolicy, p.Name()) {
			out.Generating = append(out.Generating, p)
		}
	}
	out.buildIndex(false)
	return out
}
