package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/mutate"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/wildcard"
)

// mutateExistingRule evaluates mutate rules with targets (Kyverno's
// "mutate existing resources", PhaseMutateExisting) as Kyverno's
// mutateExisting handler does: the rule's context and preconditions on
// the trigger (request.object), then for each target spec its fields with
// variables substituted, the matching objects read through
// Input.Resources, and for each object the target's own context and
// preconditions with the object as the `target` variable, and the patch
// applied to it. One result per patched target (Result.Target,
// Result.Patched); a rule that selects no target is skipped.
//
// On DELETE (the trigger is Input.OldResource) only rules whose match
// names the DELETE operation apply, as Kyverno skips the others.
type mutateExistingRule struct{}

func (mutateExistingRule) handles(r *policy.Rule) bool {
	return r.Spec.Mutation != nil && len(r.Spec.Mutation.Targets) > 0
}

func (mutateExistingRule) process(ctx context.Context, e *Engine, ev *evaluation, r *policy.Rule, out []Result) []Result {
	if ev.req.operation == "DELETE" && !matchesDelete(r.Spec.MatchResources) {
		return out
	}
	res := ruleResult(r, ev.req)
	c := ev.vars(ctx, e)
	c.Checkpoint()
	defer c.Restore()
	var values map[string]any
	if ev.in.Values != nil {
		values = ev.in.Values.For(r.Policy.Name(), r.Name(), ev.req.name)
		if err := applyValues(c, values); err != nil {
			return append(out, res.with(StatusError, fmt.Sprintf("invalid values: %v", err), ""))
		}
	}
	if err := e.loadContext(ctx, c, r.Spec.Context, values, ev.in.Cluster); err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to load context: %v", err), ""))
	}
	ok, err := checkPreconditions(c, r.Spec.Preconditions)
	if err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), ""))
	}
	if !ok {
		return append(out, res.with(StatusSkip, "preconditions not met", ""))
	}
	mu := &mutator{e: e, c: c, values: values, cluster: ev.in.Cluster}
	n := len(out)
	for i, t := range r.Spec.Mutation.Targets {
		objs, err := e.loadTargets(ctx, c, ev.in.Resources, r.Policy.Namespace(), t)
		if err != nil {
			return append(out, res.with(StatusError, fmt.Sprintf("failed to load targets[%d]: %v", i, err), ""))
		}
		for _, obj := range objs {
			tr, skip := e.mutateTarget(ctx, mu, res, r, t, obj)
			if !skip {
				out = append(out, tr)
			}
			if tr.Status == StatusError {
				return out
			}
		}
	}
	if len(out) == n {
		return append(out, res.with(StatusSkip, "no target resources found or patched", ""))
	}
	return out
}

// mutateTarget patches one target object. skip is true when the target's
// preconditions do not hold or the patch changes nothing (no result, as
// Kyverno drops such targets).
func (e *Engine) mutateTarget(ctx context.Context, mu *mutator, res Result, r *policy.Rule, t kyvernov1.TargetResource, obj map[string]any) (Result, bool) {
	c := mu.c
	c.Checkpoint()
	defer c.Restore()
	res.Target = resourceOf(obj)
	if err := c.Set("target", obj); err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to add the target %s: %v", res.Target, err), ""), false
	}
	if err := e.loadContext(ctx, c, t.Context, mu.values, mu.cluster); err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to load the context of target %s: %v", res.Target, err), ""), false
	}
	ok, err := checkPreconditions(c, t.Preconditions)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to evaluate the preconditions of target %s: %v", res.Target, err), ""), false
	}
	if !ok {
		return res, true
	}
	after, _, err := mu.apply(ctx, r.Spec.Mutation, obj)
	switch {
	case errors.Is(err, errNoPatch):
		return res.with(StatusError, err.Error(), ""), false
	case mutate.IsSkip(err):
		return res, true
	case err != nil:
		return res.with(StatusError, fmt.Sprintf("failed to mutate the target %s: %v", res.Target, err), ""), false
	}
	patch, err := mutate.Diff(obj, after)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to compute the patch of target %s: %v", res.Target, err), ""), false
	}
	if patch == "" {
		return res, true
	}
	data, err := json.Marshal(after)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to encode the target %s: %v", res.Target, err), ""), false
	}
	res = res.with(StatusPass, fmt.Sprintf("mutated target %s", res.Target), "")
	res.JSONPatch, res.Patched = patch, string(data)
	return res, false
}

// loadTargets returns the objects one target spec selects: apiVersion,
// kind, namespace and name with variables substituted (name and namespace
// may hold wildcards; an empty name selects every object, an empty
// namespace every namespace), filtered by uid and selector. A namespaced
// Policy only reaches its own namespace, as in Kyverno.
func (e *Engine) loadTargets(ctx context.Context, c *variables.Context, store cel.ResourceStore, policyNamespace string, t kyvernov1.TargetResource) ([]map[string]any, error) {
	str := func(field, s string) (string, error) {
		v, err := variables.Substitute(c, s)
		if err != nil {
			return "", fmt.Errorf("%s: variable substitution failed: %w", field, err)
		}
		out, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s: %q is not a string after substitution", field, s)
		}
		return out, nil
	}
	apiVersion, err := str("apiVersion", t.APIVersion)
	if err != nil {
		return nil, err
	}
	kind, err := str("kind", t.Kind)
	if err != nil {
		return nil, err
	}
	ns, err := str("namespace", t.Namespace)
	if err != nil {
		return nil, err
	}
	name, err := str("name", t.Name)
	if err != nil {
		return nil, err
	}
	uid, err := str("uid", t.UID)
	if err != nil {
		return nil, err
	}
	if strings.Contains(kind, "/") {
		return nil, fmt.Errorf("kind %q: subresource targets are not supported", kind)
	}
	if strings.ContainsAny(apiVersion+kind, "*?") {
		return nil, fmt.Errorf("%s %s: wildcards in a target's apiVersion or kind are not supported", apiVersion, kind)
	}
	if store == nil {
		return nil, fmt.Errorf("%s: no resource lookup available", kind)
	}
	info := kinds.Lookup(apiVersion, kind)
	switch {
	case !info.Namespaced:
		ns = ""
	case policyNamespace != "":
		ns = policyNamespace
	}
	var objs []map[string]any
	if name != "" && !strings.ContainsAny(name, "*?") && !strings.ContainsAny(ns, "*?") && (ns != "" || !info.Namespaced) {
		obj, err := store.Get(ctx, apiVersion, info.Resource, ns, name)
		switch {
		case errors.Is(err, cel.ErrNotFound):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("get %s %s/%s: %w", kind, ns, name, err)
		}
		objs = []map[string]any{obj}
	} else {
		listNS := ns
		if strings.ContainsAny(ns, "*?") {
			listNS = ""
		}
		objs, err = store.List(ctx, apiVersion, info.Resource, listNS)
		if err != nil && !errors.Is(err, cel.ErrNotFound) {
			return nil, fmt.Errorf("list %s in %q: %w", kind, listNS, err)
		}
	}
	out := objs[:0:0]
	for _, obj := range objs {
		meta, _ := obj["metadata"].(map[string]any)
		oname, _ := meta["name"].(string)
		ons, _ := meta["namespace"].(string)
		ouid, _ := meta["uid"].(string)
		switch {
		case name != "" && !wildcard.Match(name, oname),
			ns != "" && !wildcard.Match(ns, ons),
			uid != "" && uid != ouid,
			t.Selector != nil && !selectorMatches(t.Selector, stringMap(meta["labels"])):
			continue
		}
		if _, ok := obj["kind"]; !ok {
			obj["apiVersion"], obj["kind"] = apiVersion, kind
		}
		out = append(out, obj)
	}
	return out, nil
}

// resourceOf identifies obj.
func resourceOf(obj map[string]any) Resource {
	meta, _ := obj["metadata"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	return Resource{APIVersion: str(obj, "apiVersion"), Kind: str(obj, "kind"), Namespace: str(meta, "namespace"), Name: str(meta, "name")}
}

// matchesDelete reports whether a rule's match names the DELETE
// operation (Kyverno's webhookutils.MatchDeleteOperation): only those
// rules mutate existing resources when their trigger is deleted.
func matchesDelete(m kyvernov1.MatchResources) bool {
	if slices.Contains(m.ResourceDescription.Operations, "DELETE") {
		return true
	}
	for _, f := range append(append([]kyvernov1.ResourceFilter(nil), m.Any...), m.All...) {
		if slices.Contains(f.ResourceDescription.Operations, "DELETE") {
			return true
		}
	}
	return false
}
