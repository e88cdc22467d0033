package engine

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// handler evaluates one kind of policy of a Set against one request and
// returns its results. Evaluate runs the handlers of the input's phase in
// order; a new policy kind is a new handler. An error means the
// evaluation cannot go on (the context is done); the results returned
// with it are kept.
type handler interface {
	evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error)
}

// ruleHandler evaluates one type of Kyverno rule body (validate,
// verifyImages; mutate and generate later) once the rule matched the
// request, as Kyverno's pkg/engine/handlers do.
type ruleHandler interface {
	// handles reports whether r has this handler's rule body.
	handles(r *policy.Rule) bool
	// process evaluates r and appends its results to out (none when the
	// rule gives no response).
	process(ctx context.Context, e *Engine, ev *evaluation, r *policy.Rule, out []Result) []Result
}

// evaluation is the state of one Evaluate call shared by its handlers:
// the request and the evaluation contexts, built on first use.
type evaluation struct {
	set  *policy.Set
	in   *Input
	req  *request
	vctx *variables.Context
	cin  *cel.Input
	// webhookMatch caches, per Kyverno policy with
	// webhookConfiguration.matchConditions, whether they hold.
	webhookMatch map[*policy.Policy]bool
}

// MsgWebhookMatchError prefixes the error result of a Kyverno policy whose
// webhookConfiguration.matchConditions cannot be evaluated.
const MsgWebhookMatchError = "failed to evaluate webhookConfiguration.matchConditions: "

// policyMatches reports whether the Kyverno policy of r applies to the
// request under its webhookConfiguration.matchConditions, as the API
// server filters a webhook's requests (and Kyverno's engine its
// policies): every condition must be true. They are evaluated once per
// policy and evaluation, on the request as it came. A condition that
// cannot be evaluated gives an error result (res) that denies unless
// the policy's failure policy is Ignore, as the API server rejects the
// request when a condition of a webhook with failurePolicy Fail fails,
// whatever the policy's validationFailureAction.
func (ev *evaluation) policyMatches(ctx context.Context, r *policy.Rule) (ok bool, res *Result) {
	pol := r.Policy
	if pol.WebhookMatch == nil {
		return true, nil
	}
	if m, seen := ev.webhookMatch[pol]; seen {
		return m, nil
	}
	if ev.webhookMatch == nil {
		ev.webhookMatch = map[*policy.Policy]bool{}
	}
	m, err := pol.WebhookMatch.Match(ctx, *ev.celInput())
	ev.webhookMatch[pol] = err == nil && m.Matches
	if err != nil {
		out := ruleResult(r, ev.req).with(StatusError, MsgWebhookMatchError+err.Error(), "")
		out.Enforce = true
		return false, &out
	}
	return m.Matches, nil
}

// vars is the variable context of Kyverno rules. Its JMESPath queries
// run under ctx, the evaluation's deadline, which is the same for every
// rule of one Evaluate call.
func (ev *evaluation) vars(ctx context.Context, e *Engine) *variables.Context {
	if ev.vctx == nil {
		ev.vctx = e.newContext(ctx, ev.in, ev.req)
	}
	return ev.vctx
}

// celInput is the activation data of CEL programs.
func (ev *evaluation) celInput() *cel.Input {
	if ev.cin == nil {
		ci := celInput(ev.in, ev.req)
		ev.cin = &ci
	}
	return ev.cin
}

// phaseHandlers are the handlers of each phase, in evaluation order.
func phaseHandlers() map[Phase][]handler {
	return map[Phase][]handler{
		PhaseValidate: {
			kyvernoRules{rules: []ruleHandler{verifyImagesRule{}, validateRule{}}},
			validatingPolicies{},
			admissionPolicies{},
			imagePolicies{},
		},
		PhaseMutate: {
			mutateRules{},
			mutatingPolicies{},
			kyvernoRules{rules: []ruleHandler{verifyImagesRule{}}},
			imagePolicies{},
		},
		PhaseScan: {
			mutateRules{},
			mutatingPolicies{},
			kyvernoRules{rules: []ruleHandler{verifyImagesRule{}, validateRule{}}},
			validatingPolicies{},
			admissionPolicies{},
			imagePolicies{},
		},
		PhaseVerifyImages: {
			kyvernoRules{rules: []ruleHandler{verifyImagesRule{}}},
			imagePolicies{},
		},
		PhaseGenerate: {
			kyvernoRules{rules: []ruleHandler{generateRule{}}},
			generatingPolicies{},
		},
		PhaseMutateExisting: {
			kyvernoRules{rules: []ruleHandler{mutateExistingRule{}}},
		},
	}
}

// kyvernoRules evaluates the ClusterPolicy/Policy rules that can match
// the request's kind, in policy order: namespace, match/exclude and
// applyRules here, the rule body by its ruleHandler.
type kyvernoRules struct {
	rules []ruleHandler
}

func (k kyvernoRules) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	req := ev.req
	rules := ev.set.RulesFor(req.kind)
	if len(rules) == 0 {
		return nil, nil
	}
	// About one result per rule: allocate once instead of growing.
	results := make([]Result, 0, len(rules))
	var done map[*policy.Policy]bool
	for _, r := range rules {
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("evaluate %s: %w", req.kind, err)
		}
		pol := r.Policy
		if done[pol] {
			continue
		}
		if ns := pol.Namespace(); ns != "" && ns != req.namespace {
			continue
		}
		if ev.in.Background && (!pol.Background() || r.AdmissionOnly) {
			continue
		}
		var h ruleHandler
		for _, rh := range k.rules {
			if rh.handles(r) {
				h = rh
				break
			}
		}
		if h == nil || !ruleApplies(r, req) {
			continue
		}
		if ok, res := ev.policyMatches(ctx, r); !ok {
			if res != nil {
				results = append(results, *res)
			}
			continue
		}
		n := len(results)
		results = h.process(ctx, e, ev, r, results)
		if _, validate := h.(validateRule); validate && len(results) == n+1 && pol.Spec.Spec.ApplyRules == "One" && applied(results[n].Status) {
			// applyRules: One stops the policy after the first validate
			// rule that passed or failed (skips and errors do not count,
			// as in Kyverno).
			if done == nil {
				done = map[*policy.Policy]bool{}
			}
			done[pol] = true
		}
	}
	return results, nil
}

// validateRule evaluates validate bodies: pattern, anyPattern, deny,
// foreach, podSecurity, cel.
type validateRule struct{}

func (validateRule) handles(r *policy.Rule) bool {
	return r.Spec.Validation != nil && len(r.Spec.VerifyImages) == 0
}

func (validateRule) process(ctx context.Context, e *Engine, ev *evaluation, r *policy.Rule, out []Result) []Result {
	var cin *cel.Input
	if r.CEL != nil {
		cin = ev.celInput()
	}
	res := e.evalRule(ctx, r, ev, ev.vars(ctx, e), cin)
	if res.Status == "" {
		// No response, as Kyverno gives none (a pattern on a deleted resource).
		return out
	}
	return append(out, res)
}

// verifyImagesRule evaluates verifyImages bodies through the engine's
// ImageRuleVerifier: one result per image.
type verifyImagesRule struct{}

func (verifyImagesRule) handles(r *policy.Rule) bool { return len(r.Spec.VerifyImages) > 0 }

func (verifyImagesRule) process(ctx context.Context, e *Engine, ev *evaluation, r *policy.Rule, out []Result) []Result {
	return append(out, e.evalImageRule(ctx, r, ev, ev.vars(ctx, e))...)
}

// validatingPolicies evaluates ValidatingPolicies.
type validatingPolicies struct{}

func (validatingPolicies) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	if len(ev.set.Validating) == 0 {
		return nil, nil
	}
	return e.evalValidating(ctx, ev.set, ev.in, ev.req, ev.celInput()), nil
}

// admissionPolicies evaluates ValidatingAdmissionPolicies with their
// bindings.
type admissionPolicies struct{}

func (admissionPolicies) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	if len(ev.set.Admission) == 0 {
		return nil, nil
	}
	return e.evalAdmission(ctx, ev.set, ev.in, ev.req, ev.celInput()), nil
}

// imagePolicies evaluates sigstore ClusterImagePolicies: verification in
// the validate phase, digest pinning in the mutate phase.
type imagePolicies struct{}

func (imagePolicies) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	return e.evalImagePolicies(ctx, ev.set, ev.in, ev.req), nil
}
