package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/mutate"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// mutateRules runs the Kyverno mutate rules that match the request, in
// policy order, each on the object as mutated by the rules before it (as
// Kyverno's mutation handler does). Each rule's Result carries in
// JSONPatch the RFC 6902 operations from the object it received to the
// object it produced; the evaluation's resource is replaced by the
// mutated object, so the handlers after this one (image pinning, and in
// PhaseScan every validate handler) see it.
//
// Rules with mutate.targets (mutate existing resources) are not applied
// here: they patch other objects than the request's, which needs the
// cluster (PhaseMutateExisting, mutateExistingRule); background evaluation (Input.Background) mutates nothing, as
// Kyverno's background scans report no mutate rules.
type mutateRules struct{}

func (mutateRules) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	if ev.in.Background || ev.in.Resource == nil {
		return nil, nil
	}
	rules := ev.set.RulesFor(ev.req.kind)
	var results []Result
	var done map[*policy.Policy]bool
	for _, r := range rules {
		m := r.Spec.Mutation
		if m == nil || len(m.Targets) > 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return results, fmt.Errorf("mutate %s: %w", ev.req.kind, err)
		}
		pol := r.Policy
		if done[pol] {
			continue
		}
		if ns := pol.Namespace(); ns != "" && ns != ev.req.namespace {
			continue
		}
		if !ruleApplies(r, ev.req) {
			continue
		}
		if ok, res := ev.policyMatches(ctx, r); !ok {
			if res != nil {
				results = append(results, *res)
			}
			continue
		}
		res, obj := e.evalMutateRule(ctx, r, ev)
		results = append(results, res)
		if obj != nil {
			ev.setResource(obj)
		}
		if res.Status == StatusPass && pol.Spec.Spec.ApplyRules == "One" {
			if done == nil {
				done = map[*policy.Policy]bool{}
			}
			done[pol] = true
		}
	}
	return results, nil
}

// setResource makes obj the evaluation's resource (request.object) for
// the rules and handlers that follow.
func (ev *evaluation) setResource(obj map[string]any) {
	in := *ev.in
	in.Resource = obj
	ev.in = &in
	ev.req = newRequest(obj, ev.in)
	ev.vctx, ev.cin = nil, nil
}

// evalMutateRule applies one matching mutate rule to the evaluation's
// resource. It returns the rule's result and the mutated object (nil
// when the rule changed nothing).
func (e *Engine) evalMutateRule(ctx context.Context, r *policy.Rule, ev *evaluation) (Result, map[string]any) {
	res := ruleResult(r, ev.req)
	// A mutation that could not be applied denies the request unless the
	// policy's failurePolicy is Ignore (Kyverno blocks on mutate errors
	// whatever the validationFailureAction); nothing else a mutate rule
	// returns denies.
	res.Enforce = true
	c := ev.vars(ctx, e)
	c.Checkpoint()
	defer c.Restore()
	var values map[string]any
	if ev.in.Values != nil {
		values = ev.in.Values.For(r.Policy.Name(), r.Name(), ev.req.name)
		if err := applyValues(c, values); err != nil {
			return res.with(StatusError, fmt.Sprintf("invalid values: %v", err), ""), nil
		}
	}
	if err := e.loadContext(ctx, c, r.Spec.Context, values, ev.in.Cluster); err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to load context: %v", err), ""), nil
	}
	ok, err := checkPreconditions(c, r.Spec.Preconditions)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), ""), nil
	}
	if !ok {
		return res.with(StatusSkip, "preconditions not met", ""), nil
	}
	before := ev.in.Resource
	mu := &mutator{e: e, c: c, values: values, cluster: ev.in.Cluster}
	after, applied, err := mu.apply(ctx, r.Spec.Mutation, before)
	if err == nil && applied == 0 {
		return res.with(StatusSkip, "rule skipped", ""), nil
	}
	switch {
	case errors.Is(err, errNoPatch):
		return res.with(StatusError, err.Error(), ""), nil
	case mutate.IsSkip(err):
		return res.with(StatusSkip, err.Error(), ""), nil
	case err != nil:
		return res.with(StatusError, fmt.Sprintf("failed to mutate the resource: %v", err), ""), nil
	}
	patch, err := mutate.Diff(before, after)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to compute the patch: %v", err), ""), nil
	}
	if patch == "" {
		return res.with(StatusSkip, "no patches applied", ""), nil
	}
	res = res.with(StatusPass, fmt.Sprintf("mutated %s", res.Resource), "")
	res.JSONPatch = patch
	return res, after
}

// mutator applies the patches of one mutate rule.
type mutator struct {
	e      *Engine
	c      *variables.Context
	values map[string]any
	// cluster answers the foreach context entries that read the cluster.
	cluster cel.ResourceStore
}

// errNoPatch is the error of a mutate rule that names no patch.
var errNoPatch = errors.New("mutate rule has no patch")

// apply applies the patch of m to obj: a strategic merge, a JSON patch or
// a foreach list. applied is how many patches took effect (foreach lists
// count their elements; the other patches count 1).
func (mu *mutator) apply(ctx context.Context, m *kyvernov1.Mutation, obj map[string]any) (after map[string]any, applied int, err error) {
	switch {
	case m.PatchStrategicMerge != nil:
		after, err = mu.strategicMerge(obj, m.PatchStrategicMerge)
		return after, 1, err
	case m.PatchesJSON6902 != "":
		after, err = mu.jsonPatch(obj, m.PatchesJSON6902)
		return after, 1, err
	case len(m.ForEach) > 0:
		return mu.forEach(ctx, obj, m.ForEach, 0)
	default:
		return nil, 0, errNoPatch
	}
}

// strategicMerge substitutes the variables of patch, evaluates its
// anchors against obj and merges it.
func (mu *mutator) strategicMerge(obj map[string]any, patch any) (map[string]any, error) {
	sub, err := variables.Substitute(mu.c, patch)
	if err != nil {
		return nil, fmt.Errorf("variable substitution failed: %w", err)
	}
	plain, err := mutate.Preprocess(sub, obj)
	if err != nil {
		return nil, err
	}
	return mutate.StrategicMerge(obj, plain)
}

// jsonPatch substitutes the variables of a patchesJson6902 text and
// applies it.
func (mu *mutator) jsonPatch(obj map[string]any, text string) (map[string]any, error) {
	sub, err := variables.Substitute(mu.c, text)
	if err != nil {
		return nil, fmt.Errorf("variable substitution failed: %w", err)
	}
	s, ok := sub.(string)
	if !ok {
		b, err := json.Marshal(sub)
		if err != nil {
			return nil, fmt.Errorf("encode patchesJson6902: %w", err)
		}
		s = string(b)
	}
	ops, err := policy.DecodeJSON6902(s)
	if err != nil {
		return nil, err
	}
	return mutate.ApplyJSONPatch(obj, ops)
}

// forEach applies each foreach block to obj in turn and returns the
// result and the number of elements a patch was applied for. Elements
// go in list order, or reversed with order: Descending; a
// patchStrategicMerge without an order goes in reverse, as in Kyverno.
// elementIndex is the element's index in the list either way.
func (mu *mutator) forEach(ctx context.Context, obj map[string]any, list []kyvernov1.ForEachMutation, depth int) (map[string]any, int, error) {
	applied := 0
	for _, fe := range list {
		elements, err := mu.list(fe.List)
		if err != nil {
			return nil, applied, fmt.Errorf("failed to evaluate list %s: %w", fe.List, err)
		}
		reverse := fe.PatchStrategicMerge != nil
		if fe.Order != nil {
			reverse = *fe.Order == "Descending"
		}
		idx := make([]int, len(elements))
		for i := range idx {
			idx[i] = i
		}
		if reverse {
			slices.Reverse(idx)
		}
		out, n, err := mu.forEachElements(ctx, obj, fe, elements, idx, depth)
		if err != nil {
			return nil, applied, err
		}
		obj = out
		applied += n
	}
	return obj, applied, nil
}

func (mu *mutator) forEachElements(ctx context.Context, obj map[string]any, fe kyvernov1.ForEachMutation, elements []any, idx []int, depth int) (map[string]any, int, error) {
	c := mu.c
	c.Checkpoint()
	defer c.Restore()
	applied := 0
	for _, i := range idx {
		el := elements[i]
		if el == nil {
			continue
		}
		c.Reset()
		c.SetElement(el, i, depth)
		if err := mu.e.loadContext(ctx, c, fe.Context, mu.values, mu.cluster); err != nil {
			return nil, applied, fmt.Errorf("failed to load context: %w", err)
		}
		ok, err := checkPreconditions(c, fe.Preconditions)
		if err != nil {
			return nil, applied, fmt.Errorf("failed to evaluate preconditions: %w", err)
		}
		if !ok {
			continue
		}
		var out map[string]any
		switch {
		case fe.PatchStrategicMerge != nil:
			out, err = mu.strategicMerge(obj, fe.PatchStrategicMerge)
		case fe.PatchesJSON6902 != "":
			out, err = mu.jsonPatch(obj, fe.PatchesJSON6902)
		case len(fe.ForEach) > 0:
			var n int
			out, n, err = mu.forEach(ctx, obj, fe.ForEach, depth+1)
			if err == nil && n == 0 {
				continue
			}
		default:
			return nil, applied, fmt.Errorf("foreach has no patch")
		}
		if mutate.IsSkip(err) {
			// An anchor that does not hold skips this element.
			continue
		}
		if err != nil {
			return nil, applied, err
		}
		obj = out
		applied++
	}
	return obj, applied, nil
}

// list evaluates a foreach list expression; a value that is not a list
// is a list of one element, as in Kyverno.
func (mu *mutator) list(expr string) ([]any, error) {
	v := &validator{c: mu.c}
	return v.evaluateList(expr)
}

// Mutated returns obj with the patches of results applied in order: the
// mutated object an admission request or a test resource ends as. Only
// passing results change it (a mutate rule's patch is relative to the
// object as the results before it left it, an image pin to the object
// after the mutate rules). obj is not modified; without patches obj
// itself is returned.
func Mutated(obj map[string]any, results []Result) (map[string]any, error) {
	out := obj
	for _, r := range results {
		if r.Status != StatusPass || r.JSONPatch == "" {
			continue
		}
		next, err := mutate.ApplyJSONPatch(out, []byte(r.JSONPatch))
		if err != nil {
			return nil, fmt.Errorf("apply the patch of %s/%s: %w", r.Policy, r.Rule, err)
		}
		out = next
	}
	return out, nil
}
