package cel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/cel/lazy"
	"k8s.io/apiserver/pkg/cel/library"
)

// Input is what one evaluation sees. Maps are decoded JSON and are only
// read. Nil maps are CEL null (oldObject on CREATE, object on DELETE,
// namespaceObject for cluster-scoped objects, params without a param).
type Input struct {
	Object          map[string]any
	OldObject       map[string]any
	NamespaceObject map[string]any
	// Request is the admission request as JSON (an
	// admission.k8s.io/v1 AdmissionRequest without object/oldObject):
	// kind, resource, subResource, requestKind, requestResource,
	// requestSubResource, name, namespace, operation, userInfo, dryRun,
	// options.
	Request map[string]any
	// Params is the policy's parameter object (Kubernetes dialect with
	// Spec.HasParams).
	Params map[string]any

	// Authorizer answers `authorizer` and `authorizer.requestResource`
	// (Kubernetes dialect) for the user in Request.userInfo. Without one,
	// expressions using them evaluate to an error.
	Authorizer authorizer.UnconditionalAuthorizer

	// Stores answering Kyverno's resource.*, image.GetMetadata and
	// globalContext.Get (Kyverno dialect). A nil store makes those calls
	// evaluate to an error.
	Resources     ResourceStore
	Images        ImageStore
	GlobalContext GlobalContextStore
}

// Status is the result of one validation.
type Status int

const (
	// Pass means the expression evaluated to true.
	Pass Status = iota
	// Fail means the expression evaluated to false.
	Fail
	// Error means the expression could not be evaluated.
	Error
)

// String implements fmt.Stringer.
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Outcome is the result of one validation.
type Outcome struct {
	// Index is the validation's index in Spec.Validations.
	Index  int
	Status Status
	// Message is the failure message (Fail) or the error (Error).
	Message string
	// Reason is the validation's reason ("Invalid" by default) on Fail.
	Reason string
	// Cost is the runtime cost spent, including the variables first
	// evaluated by this validation.
	Cost int64
}

// AnnotationOutcome is the result of one audit annotation.
type AnnotationOutcome struct {
	Key string
	// Value is set when the annotation is published (a non-empty string).
	Value string
	// Publish is false when the value was null or empty, or on error.
	Publish bool
	// Error is set when the expression failed.
	Error string
}

// Result is the result of Validate.
type Result struct {
	Validations      []Outcome
	AuditAnnotations []AnnotationOutcome
}

// ErrOutOfBudget is wrapped by the error returned when a Match or Validate
// call exhausts its total cost budget; no further expressions are run.
var ErrOutOfBudget = errors.New("running out of cost budget")

// DefaultReason is the reason of a failed validation without one.
const DefaultReason = "Invalid"

// evaluation is the per-call state: the activation and the lazily
// evaluated variables. The call's context is passed to run; the lazy
// variables and the store receivers are bound to it by newEvaluation.
type evaluation struct {
	p *Program

	object, oldObject, namespace, request, params ref.Val
	authz, requestAuthz                           ref.Val
	resource, image, global                       ref.Val
	variables                                     *lazy.MapValue

	// variableCost accumulates the cost of variables evaluated since the
	// last takeVariableCost.
	variableCost int64

	// generator collects generator.Apply calls (Program.Generate only).
	generator *generatorRecv
}

var variablesObjectType = types.NewObjectType(variablesTypeName)

func (p *Program) newEvaluation(ctx context.Context, in *Input) *evaluation {
	e := &evaluation{
		p:         p,
		object:    adapter.NativeToValue(in.Object),
		oldObject: adapter.NativeToValue(in.OldObject),
		namespace: adapter.NativeToValue(in.NamespaceObject),
		request:   adapter.NativeToValue(in.Request),
		params:    adapter.NativeToValue(in.Params),
	}
	switch p.dialect {
	case Kubernetes:
		if in.Authorizer != nil {
			info := userInfoFromRequest(in.Request)
			e.authz = library.NewAuthorizerVal(info, in.Authorizer)
			e.requestAuthz = library.NewResourceAuthorizerVal(info, in.Authorizer, requestResource(in.Request))
		}
	case Kyverno:
		e.resource, e.image, e.global = bindReceivers(ctx, in)
	}
	e.variables = lazy.NewMapValue(variablesObjectType)
	for i := range p.variables {
		v := &p.variables[i]
		e.variables.Append(v.name, func(*lazy.MapValue) ref.Val { return e.evalVariable(ctx, v) })
	}
	return e
}

// ResolveName implements interpreter.Activation.
func (e *evaluation) ResolveName(name string) (any, bool) {
	switch name {
	case varObject:
		return e.object, true
	case varOldObject:
		return e.oldObject, true
	case varNamespaceObject:
		return e.namespace, true
	case varRequest:
		return e.request, true
	case varVariables:
		return e.variables, true
	case varParams:
		return e.params, e.p.hasParams
	case varAuthorizer:
		return e.authz, e.authz != nil
	case varRequestAuthz:
		return e.requestAuthz, e.requestAuthz != nil
	case "resource":
		return e.resource, e.resource != nil
	case "image":
		return e.image, e.image != nil
	case "globalContext":
		return e.global, e.global != nil
	case "generator":
		if e.generator == nil {
			return nil, false
		}
		return e.generator, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (e *evaluation) Parent() interpreter.Activation { return nil }

func (e *evaluation) evalVariable(ctx context.Context, v *compiledVariable) ref.Val {
	val, details, err := v.expr.program.ContextEval(ctx, e)
	if details != nil {
		if c := details.ActualCost(); c != nil {
			e.variableCost = addCost(e.variableCost, *c)
		}
	}
	if err != nil {
		return types.NewErr("composited variable %q fails to evaluate: %v", v.name, err)
	}
	return val
}

func addCost(total int64, c uint64) int64 {
	if c > math.MaxInt64 || total > math.MaxInt64-int64(c) {
		return math.MaxInt64
	}
	return total + int64(c)
}

// run evaluates one expression against the remaining budget. exprErr is
// the expression's own failure (reported per expression); fatal stops the
// whole call (budget exhausted, cancelled).
func (e *evaluation) run(ctx context.Context, x *compiledExpr, remaining *int64) (val ref.Val, cost int64, exprErr, fatal error) {
	val, details, err := x.program.ContextEval(ctx, e)
	cost, e.variableCost = e.variableCost, 0
	if details != nil {
		if c := details.ActualCost(); c != nil {
			cost = addCost(cost, *c)
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, cost, nil, fmt.Errorf("%s: evaluation cancelled: %w", x.field, ctxErr)
	}
	if cost > *remaining {
		*remaining = -1
		return nil, cost, nil, fmt.Errorf("%s: validation failed due to %w, no further expressions will be run", x.field, ErrOutOfBudget)
	}
	*remaining -= cost
	if err != nil {
		hint := ""
		if x.usesParams && e.params == types.NullValue {
			hint = " (params is null: no parameter object was provided)"
		} else if x.usesAuthorizer && e.authz == nil {
			hint = " (no authorizer is available to this evaluation)"
		}
		return nil, cost, fmt.Errorf("expression '%s' resulted in error: %v%s", strings.TrimSpace(x.expression), err, hint), nil
	}
	return val, cost, nil, nil
}

// MatchResult is the result of Match.
type MatchResult struct {
	// Matches is true when no condition evaluated to false and none failed.
	Matches bool
	// FailedCondition names the first condition that evaluated to false.
	FailedCondition string
}

// Match evaluates the match conditions like the API server: any false
// condition means no match (even if others errored); otherwise evaluation
// errors are returned joined (the caller applies its failure policy) and
// Matches is false. A Program without match conditions matches.
func (p *Program) Match(ctx context.Context, in Input) (MatchResult, error) {
	if len(p.matchConditions) == 0 {
		return MatchResult{Matches: true}, nil
	}
	e := p.newEvaluation(ctx, &in)
	remaining := p.opts.MatchConditionsBudget
	var errs []error
	for i := range p.matchConditions {
		mc := &p.matchConditions[i]
		val, _, exprErr, fatal := e.run(ctx, mc.expr, &remaining)
		if fatal != nil {
			return MatchResult{}, fatal
		}
		if exprErr != nil {
			errs = append(errs, fmt.Errorf("matchCondition %q: %w", mc.name, exprErr))
			continue
		}
		if val != types.True {
			return MatchResult{FailedCondition: mc.name}, nil
		}
	}
	if len(errs) > 0 {
		return MatchResult{}, errors.Join(errs...)
	}
	return MatchResult{Matches: true}, nil
}

// Validate evaluates the validations and audit annotations. Per-expression
// errors (runtime errors, the per-expression cost limit) are Error
// outcomes; exhausting the total budget or cancellation of ctx returns an
// error.
func (p *Program) Validate(ctx context.Context, in Input) (*Result, error) {
	e := p.newEvaluation(ctx, &in)
	remaining := p.opts.RuntimeBudget
	res := &Result{Validations: make([]Outcome, len(p.validations))}
	for i := range p.validations {
		v := &p.validations[i]
		out := &res.Validations[i]
		out.Index = i
		val, cost, exprErr, fatal := e.run(ctx, v.expr, &remaining)
		out.Cost = cost
		if fatal != nil {
			return nil, fatal
		}
		switch {
		case exprErr != nil:
			out.Status, out.Message = Error, exprErr.Error()
		case val == types.True:
			out.Status = Pass
		default:
			out.Status = Fail
			out.Reason = v.reason
			if out.Reason == "" {
				out.Reason = DefaultReason
			}
			msg, err := e.message(ctx, v, &remaining)
			if err != nil {
				return nil, err
			}
			out.Message = msg
		}
	}
	for i := range p.auditAnnotations {
		a := &p.auditAnnotations[i]
		out := AnnotationOutcome{Key: a.key}
		val, _, exprErr, fatal := e.run(ctx, a.expr, &remaining)
		if fatal != nil {
			return nil, fatal
		}
		switch {
		case exprErr != nil:
			out.Error = exprErr.Error()
		case val == types.NullValue:
		default:
			if s, ok := val.(types.String); ok {
				if t := strings.TrimSpace(string(s)); t != "" {
					out.Value, out.Publish = t, true
				}
			} else {
				out.Error = fmt.Sprintf("valueExpression '%v' resulted in unsupported return type: %v. Return type must be either string or null.", a.expr.expression, val.Type().TypeName())
			}
		}
		res.AuditAnnotations = append(res.AuditAnnotations, out)
	}
	return res, nil
}

// message decides a failed validation's message like the API server:
// messageExpression (trimmed; rejected when erroring, empty, longer than
// 5 KiB or multi-line), else message, else "failed expression: <expr>".
func (e *evaluation) message(ctx context.Context, v *compiledValidation, remaining *int64) (string, error) {
	if v.messageExpression != nil {
		val, _, exprErr, fatal := e.run(ctx, v.messageExpression, remaining)
		if fatal != nil {
			return "", fatal
		}
		if exprErr == nil {
			if s, ok := val.(types.String); ok {
				msg := strings.TrimSpace(string(s))
				if msg != "" && len(msg) <= celconfig.MaxEvaluatedMessageExpressionSizeBytes && !strings.Contains(msg, "\n") {
					return msg, nil
				}
			}
		}
	}
	if v.message != "" {
		return v.message, nil
	}
	return "failed expression: " + strings.TrimSpace(v.expr.expression), nil
}

// userInfoFromRequest reads request.userInfo.
func userInfoFromRequest(req map[string]any) user.Info {
	info := &user.DefaultInfo{}
	ui, _ := req["userInfo"].(map[string]any)
	info.Name, _ = ui["username"].(string)
	info.UID, _ = ui["uid"].(string)
	info.Groups = stringSlice(ui["groups"])
	if extra, ok := ui["extra"].(map[string]any); ok {
		info.Extra = map[string][]string{}
		for k, v := range extra {
			info.Extra[k] = stringSlice(v)
		}
	}
	return info
}

func stringSlice(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// requestAttributes adapts request fields to library.Resource.
type requestAttributes struct {
	gvr                   schema.GroupVersionResource
	subresource, ns, name string
}

func (r requestAttributes) GetName() string                          { return r.name }
func (r requestAttributes) GetNamespace() string                     { return r.ns }
func (r requestAttributes) GetResource() schema.GroupVersionResource { return r.gvr }
func (r requestAttributes) GetSubresource() string                   { return r.subresource }

func requestResource(req map[string]any) library.Resource {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	res, _ := req["resource"].(map[string]any)
	return requestAttributes{
		gvr:         schema.GroupVersionResource{Group: str(res, "group"), Version: str(res, "version"), Resource: str(res, "resource")},
		subresource: str(req, "subResource"),
		ns:          str(req, "namespace"),
		name:        str(req, "name"),
	}
}
