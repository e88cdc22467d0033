package policy

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/matchconstraints"
	"github.com/portcullis/portcullis/internal/manifest"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kinds of the native admission policies.
const (
	admissionGroup       = "admissionregistration.k8s.io"
	kindVAP              = "ValidatingAdmissionPolicy"
	kindVAPBinding       = "ValidatingAdmissionPolicyBinding"
	admissionAPIVersion  = "admissionregistration.k8s.io/v1"
	admissionAPIVersionB = "admissionregistration.k8s.io/v1beta1"
)

// AdmissionPolicy is a compiled native ValidatingAdmissionPolicy with its
// bindings. Without a binding it applies to nothing, as in a cluster.
type AdmissionPolicy struct {
	Spec     *admissionregistrationv1.ValidatingAdmissionPolicy
	File     string
	Match    *matchconstraints.Matcher
	Program  *cel.Program
	Bindings []*AdmissionBinding
}

// Name returns the policy name.
func (p *AdmissionPolicy) Name() string { return p.Spec.Name }

// FailOpen reports whether failurePolicy is Ignore (default Fail).
func (p *AdmissionPolicy) FailOpen() bool {
	return p.Spec.Spec.FailurePolicy != nil && *p.Spec.Spec.FailurePolicy == admissionregistrationv1.Ignore
}

// AdmissionBinding is a compiled ValidatingAdmissionPolicyBinding.
type AdmissionBinding struct {
	Spec *admissionregistrationv1.ValidatingAdmissionPolicyBinding
	// Match narrows the policy's matchConstraints (nil: no narrowing).
	Match *matchconstraints.Matcher
}

// Name returns the binding name.
func (b *AdmissionBinding) Name() string { return b.Spec.Name }

// Enforce reports whether the binding's validationActions include Deny.
func (b *AdmissionBinding) Enforce() bool {
	for _, a := range b.Spec.Spec.ValidationActions {
		if a == admissionregistrationv1.Deny {
			return true
		}
	}
	return false
}

func decodeInto(obj map[string]any, out any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

func (c *compiler) compileVAP(d manifest.Document) (*AdmissionPolicy, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "policy has no name", nil)
	}
	var p admissionregistrationv1.ValidatingAdmissionPolicy
	if err := decodeInto(d.Object, &p); err != nil {
		return nil, fail("", "policy does not match the ValidatingAdmissionPolicy schema", err)
	}
	s := p.Spec
	if len(s.Validations) == 0 && len(s.AuditAnnotations) == 0 {
		return nil, fail("spec.validations", "policy needs validations or auditAnnotations", nil)
	}
	if e := checkFailurePolicy(s.FailurePolicy); e != nil {
		e.Policy = name
		return nil, Errors{e}
	}
	if pk := s.ParamKind; pk != nil && (pk.APIVersion == "" || pk.Kind == "") {
		return nil, fail("spec.paramKind", "paramKind needs apiVersion and kind", nil)
	}
	var errs Errors
	m, err := matchconstraints.Compile(s.MatchConstraints)
	if err != nil {
		errs = append(errs, fail("spec.matchConstraints", "invalid matchConstraints", err)...)
	}
	cc, err := c.cel.get()
	if err != nil {
		return nil, fail("", "cannot build the CEL environment", err)
	}
	prog, err := cc.Compile(cel.Spec{Dialect: cel.Kubernetes, HasParams: s.ParamKind != nil, FieldPrefix: "spec.",
		Variables: toCELVariables(s.Variables), MatchConditions: toCELConditions(s.MatchConditions),
		Validations: toCELValidations(s.Validations), AuditAnnotations: toCELAnnotations(s.AuditAnnotations)})
	if err != nil {
		errs = append(errs, celErrors(Error{Policy: name, Field: "spec"}, err)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &AdmissionPolicy{Spec: &p, File: d.Source, Match: m, Program: prog}, nil
}

func compileVAPBinding(d manifest.Document) (*AdmissionBinding, Errors) {
	name := d.Name()
	fail := func(field, msg string) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg}}
	}
	if name == "" {
		return nil, fail("metadata.name", "binding has no name")
	}
	var b admissionregistrationv1.ValidatingAdmissionPolicyBinding
	if err := decodeInto(d.Object, &b); err != nil {
		return nil, Errors{{Policy: name, Msg: "binding does not match the ValidatingAdmissionPolicyBinding schema", Err: err}}
	}
	s := b.Spec
	if s.PolicyName == "" {
		return nil, fail("spec.policyName", "binding names no policy")
	}
	if len(s.ValidationActions) == 0 {
		return nil, fail("spec.validationActions", "binding needs at least one of Deny, Warn and Audit")
	}
	seen := map[admissionregistrationv1.ValidationAction]bool{}
	for i, a := range s.ValidationActions {
		switch a {
		case admissionregistrationv1.Deny, admissionregistrationv1.Warn, admissionregistrationv1.Audit:
		default:
			return nil, fail(fmt.Sprintf("spec.validationActions[%d]", i), fmt.Sprintf("unknown action %q (want Deny, Warn or Audit)", a))
		}
		if seen[a] {
			return nil, fail(fmt.Sprintf("spec.validationActions[%d]", i), fmt.Sprintf("duplicate action %q", a))
		}
		seen[a] = true
	}
	if seen[admissionregistrationv1.Deny] && seen[admissionregistrationv1.Warn] {
		return nil, fail("spec.validationActions", "Deny and Warn may not be used together (Deny already warns)")
	}
	if e := checkParamRef(s.ParamRef); e != nil {
		e.Policy = name
		return nil, Errors{e}
	}
	m, err := compileBindingMatch(s.MatchResources)
	if err != nil {
		return nil, Errors{{Policy: name, Field: "spec.matchResources", Msg: "invalid matchResources", Err: err}}
	}
	out := &AdmissionBinding{Spec: &b, Match: m}
	return out, nil
}

// checkParamRef checks a binding's paramRef as the API server does; the
// same rules hold for validating and mutating admission policy bindings.
func checkParamRef(pr *admissionregistrationv1.ParamRef) *Error {
	if pr == nil {
		return nil
	}
	if pr.Name != "" && pr.Selector != nil {
		return &Error{Field: "spec.paramRef", Msg: "paramRef takes name or selector, not both"}
	}
	if pr.Name == "" && pr.Selector == nil {
		return &Error{Field: "spec.paramRef", Msg: "paramRef needs name or selector"}
	}
	if pr.Selector != nil {
		if _, err := metav1.LabelSelectorAsSelector(pr.Selector); err != nil {
			return &Error{Field: "spec.paramRef.selector", Msg: "invalid label selector", Err: err}
		}
	}
	if a := pr.ParameterNotFoundAction; a != nil && *a != admissionregistrationv1.AllowAction && *a != admissionregistrationv1.DenyAction {
		return &Error{Field: "spec.paramRef.parameterNotFoundAction", Msg: fmt.Sprintf("unknown action %q (want Allow or Deny)", *a)}
	}
	return nil
}

// compileBindingMatch compiles a binding's matchResources, which narrow
// its policy's matchConstraints (nil: no narrowing). A binding without
// resource rules narrows by its selectors only.
func compileBindingMatch(in *admissionregistrationv1.MatchResources) (*matchconstraints.Matcher, error) {
	if in == nil {
		return nil, nil
	}
	mr := *in
	if len(mr.ResourceRules) == 0 {
		mr.ResourceRules = []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}},
		}}}
	}
	return matchconstraints.Compile(&mr)
}

// bindAdmissionPolicies attaches bindings to their policies; a binding
// naming a policy that is not loaded is an error.
func bindAdmissionPolicies(set *Set, bindings []*AdmissionBinding, where map[*AdmissionBinding]manifest.Document) Errors {
	var errs Errors
	for _, b := range bindings {
		p := set.AdmissionPolicy(b.Spec.Spec.PolicyName)
		if p == nil {
			d := where[b]
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: b.Name(), Field: "spec.policyName",
				Msg: fmt.Sprintf("binding refers to ValidatingAdmissionPolicy %q, which is not loaded", b.Spec.Spec.PolicyName)})
			continue
		}
		if b.Spec.Spec.ParamRef != nil && p.Spec.Spec.ParamKind == nil {
			d := where[b]
			errs = append(errs, &Error{File: d.Source, Document: d.Index, Policy: b.Name(), Field: "spec.paramRef",
				Msg: fmt.Sprintf("binding sets paramRef but policy %q has no paramKind", p.Name())})
			continue
		}
		p.Bindings = append(p.Bindings, b)
	}
	for _, p := range set.Admission {
		sort.Slice(p.Bindings, func(i, j int) bool { return p.Bindings[i].Name() < p.Bindings[j].Name() })
	}
	return errs
}
