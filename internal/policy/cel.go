package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/matchconstraints"
	"github.com/portcullis/portcullis/internal/manifest"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// celCompiler builds the CEL compiler once per Compile call, and only
// when a policy needs it (building the environment costs milliseconds).
type celCompiler struct {
	once sync.Once
	c    *cel.Compiler
	err  error
}

func (cc *celCompiler) get() (*cel.Compiler, error) {
	cc.once.Do(func() { cc.c, cc.err = cel.NewCompiler(cel.Options{}) })
	return cc.c, cc.err
}

// celRule is the validate.cel body of a ClusterPolicy rule.
type celRule struct {
	Expressions      []admissionregistrationv1.Validation      `json:"expressions,omitempty"`
	Variables        []admissionregistrationv1.Variable        `json:"variables,omitempty"`
	AuditAnnotations []admissionregistrationv1.AuditAnnotation `json:"auditAnnotations,omitempty"`
	ParamKind        *admissionregistrationv1.ParamKind        `json:"paramKind,omitempty"`
	ParamRef         *admissionregistrationv1.ParamRef         `json:"paramRef,omitempty"`
	Generate         *bool                                     `json:"generate,omitempty"`
}

// compileCELRule compiles a rule's validate.cel body (and its
// celPreconditions) with the API server's CEL environment.
func (c *compiler) compileCELRule(r kyvernov1.Rule, field string) (*cel.Program, *celRule, Errors) {
	var body celRule
	data, err := json.Marshal(r.Validation.CEL)
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		return nil, nil, Errors{{Rule: r.Name, Field: field, Msg: "invalid cel body", Err: err}}
	}
	if len(body.Expressions) == 0 {
		return nil, nil, Errors{{Rule: r.Name, Field: field + ".expressions", Msg: "cel needs at least one expression"}}
	}
	var conds []admissionregistrationv1.MatchCondition
	for i, raw := range r.CELPreconditions {
		var mc admissionregistrationv1.MatchCondition
		data, err := json.Marshal(raw)
		if err == nil {
			err = json.Unmarshal(data, &mc)
		}
		if err != nil {
			return nil, nil, Errors{{Rule: r.Name, Field: fmt.Sprintf("%s.celPreconditions[%d]", field, i), Msg: "invalid celPrecondition", Err: err}}
		}
		conds = append(conds, mc)
	}
	if body.ParamKind != nil && body.ParamRef == nil {
		return nil, nil, Errors{{Rule: r.Name, Field: field + ".paramRef", Msg: "paramKind is set but paramRef is missing"}}
	}
	cc, err := c.cel.get()
	if err != nil {
		return nil, nil, Errors{{Rule: r.Name, Field: field, Msg: "cannot build the CEL environment", Err: err}}
	}
	spec := cel.Spec{Dialect: cel.Kubernetes, HasParams: body.ParamKind != nil, FieldPrefix: field + ".",
		ValidationsField: "expressions", MultilineMessages: true,
		Variables: toCELVariables(body.Variables), MatchConditions: toCELConditions(conds),
		Validations: toCELValidations(body.Expressions), AuditAnnotations: toCELAnnotations(body.AuditAnnotations)}
	prog, err := cc.Compile(spec)
	if err != nil {
		return nil, nil, celErrors(Error{Rule: r.Name, Field: field}, err)
	}
	return prog, &body, nil
}

func toCELVariables(vs []admissionregistrationv1.Variable) []cel.Variable {
	out := make([]cel.Variable, len(vs))
	for i, v := range vs {
		out[i] = cel.Variable{Name: v.Name, Expression: v.Expression}
	}
	return out
}

func toCELConditions(ms []admissionregistrationv1.MatchCondition) []cel.MatchCondition {
	out := make([]cel.MatchCondition, len(ms))
	for i, m := range ms {
		out[i] = cel.MatchCondition{Name: m.Name, Expression: m.Expression}
	}
	return out
}

func toCELValidations(vs []admissionregistrationv1.Validation) []cel.Validation {
	out := make([]cel.Validation, len(vs))
	for i, v := range vs {
		out[i] = cel.Validation{Expression: v.Expression, Message: v.Message, MessageExpression: v.MessageExpression}
		if v.Reason != nil {
			out[i].Reason = string(*v.Reason)
		}
	}
	return out
}

func toCELAnnotations(as []admissionregistrationv1.AuditAnnotation) []cel.AuditAnnotation {
	out := make([]cel.AuditAnnotation, len(as))
	for i, a := range as {
		out[i] = cel.AuditAnnotation{Key: a.Key, ValueExpression: a.ValueExpression}
	}
	return out
}

// ValidatingPolicy is one compiled policies.kyverno.io ValidatingPolicy.
type ValidatingPolicy struct {
	// Spec is the policy as written.
	Spec *policiesv1.ValidatingPolicy
	// File is where it was loaded from.
	File string
	// Variants are the policy itself followed by its autogen variants.
	Variants []*ValidatingVariant
	// Actions are the validationActions (Deny, Warn, Audit); Deny by default.
	Actions []admissionregistrationv1.ValidationAction
	// Severity, Category and Title come from the policy's annotations.
	Severity, Category, Title string
	// Control and Remediation come from the portcullis.dev/control-id and
	// portcullis.dev/remediation annotations ("" when absent).
	Control, Remediation string
}

// Name returns the policy name.
func (p *ValidatingPolicy) Name() string { return p.Spec.Name }

// Enforce reports whether failures deny admission (validationActions has Deny).
func (p *ValidatingPolicy) Enforce() bool {
	for _, a := range p.Actions {
		if a == admissionregistrationv1.Deny {
			return true
		}
	}
	return false
}

// ValidatingVariant is one evaluable form of a ValidatingPolicy.
type ValidatingVariant struct {
	// Name is "" for the policy itself, "autogen" or "autogen-cronjobs".
	Name    string
	Match   *matchconstraints.Matcher
	Program *cel.Program
}

func (c *compiler) compileValidatingPolicy(d manifest.Document) (*ValidatingPolicy, Errors) {
	name := d.Name()
	fail := func(field, msg string, err error) Errors {
		return Errors{{Policy: name, Field: field, Msg: msg, Err: err}}
	}
	if name == "" {
		return nil, fail("metadata.name", "policy has no name", nil)
	}
	var p policiesv1.ValidatingPolicy
	data, err := json.Marshal(d.Object)
	if err == nil {
		err = json.Unmarshal(data, &p)
	}
	if err != nil {
		return nil, fail("", "policy does not match the ValidatingPolicy schema", err)
	}
	if len(p.Spec.Validations) == 0 {
		return nil, fail("spec.validations", "policy has no validations", nil)
	}
	for i, a := range p.Spec.ValidationActions {
		switch a {
		case admissionregistrationv1.Deny, admissionregistrationv1.Warn, admissionregistrationv1.Audit:
		default:
			return nil, fail(fmt.Sprintf("spec.validationActions[%d]", i), fmt.Sprintf("unknown action %q (want Deny, Warn or Audit)", a), nil)
		}
	}
	if msg, bad := badFailurePolicy(p.Spec.FailurePolicy); bad {
		return nil, fail("spec.failurePolicy", msg, nil)
	}
	if e := checkWebhookTimeout(p.Spec.WebhookConfiguration); e != nil {
		return nil, fail(e.Field, e.Msg, nil)
	}
	vp := &ValidatingPolicy{Spec: &p, File: d.Source, Actions: p.Spec.ValidationActions,
		Severity: p.Annotations[AnnotationSeverity], Category: p.Annotations[AnnotationCategory], Title: p.Annotations[AnnotationTitle],
		Control: p.Annotations[AnnotationControlID], Remediation: p.Annotations[AnnotationRemediation]}
	if len(vp.Actions) == 0 {
		vp.Actions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}
	}
	variants := []vpolVariant{{spec: p.Spec}}
	gen, err := vpolAutogen(&p)
	if err != nil {
		return nil, fail("spec.autogen", "cannot generate pod controller variants", err)
	}
	variants = append(variants, gen...)
	cc, err := c.cel.get()
	if err != nil {
		return nil, fail("", "cannot build the CEL environment", err)
	}
	var errs Errors
	for _, v := range variants {
		prefix := "spec"
		if v.autogen != "" {
			prefix = "spec (" + v.autogen + ")"
		}
		m, err := matchconstraints.Compile(v.spec.MatchConstraints)
		if err != nil {
			errs = append(errs, &Error{Policy: name, Field: prefix + ".matchConstraints", Msg: "invalid matchConstraints", Err: err})
		}
		prog, cerr := cc.Compile(cel.Spec{Dialect: cel.Kyverno, FieldPrefix: prefix + ".", MultilineMessages: true,
			Variables: toCELVariables(v.spec.Variables), MatchConditions: toCELConditions(v.spec.MatchConditions),
			Validations: toCELValidations(v.spec.Validations), AuditAnnotations: toCELAnnotations(v.spec.AuditAnnotations)})
		if cerr != nil {
			errs = append(errs, celErrors(Error{Policy: name, Field: prefix}, cerr)...)
		}
		if len(errs) > 0 {
			// Errors of the policy itself say it all; its autogen
			// variants would only repeat them.
			break
		}
		vp.Variants = append(vp.Variants, &ValidatingVariant{Name: v.autogen, Match: m, Program: prog})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return vp, nil
}

// celErrors turns a CEL compile error into one error per problem, each
// naming the expression's field (so that its line is found) and the
// line:column in the expression; other errors are one error at base.Field.
func celErrors(base Error, err error) Errors {
	var ce *cel.CompileError
	if !errors.As(err, &ce) || len(ce.Problems) == 0 {
		e := base
		e.Msg, e.Err = "invalid CEL", err
		return Errors{&e}
	}
	out := make(Errors, 0, len(ce.Problems))
	for _, p := range ce.Problems {
		e := base
		if p.Field != "" {
			e.Field = p.Field
		}
		e.Msg = "invalid CEL"
		if p.Line > 0 {
			e.Msg = fmt.Sprintf("invalid CEL at %d:%d", p.Line, p.Column)
		}
		e.Err = errors.New(p.Message)
		out = append(out, &e)
	}
	return out
}
