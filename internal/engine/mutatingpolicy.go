package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/mutating"
	"github.com/portcullis/portcullis/internal/policy"
	"gomodules.xyz/jsonpatch/v2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Policy kinds of the mutating CEL policies (Result.PolicyKind).
const (
	KindMutatingPolicy          = policy.KindMutatingPolicy
	KindMutatingAdmissionPolicy = policy.KindMutatingAdmissionPolicy
)

// mutatingPolicies is the handler of MutatingPolicies and
// MutatingAdmissionPolicies.
//
// TODO(issue 15): register it in phaseHandlers (PhaseMutate, after the
// Kyverno mutate rules) once the mutation pipeline of engine.Evaluate
// chains the object between handlers; until then it is reached through
// evalMutatingPolicies only.
type mutatingPolicies struct{}

func (mutatingPolicies) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	if len(ev.set.Mutating) == 0 && len(ev.set.MutatingAdmission) == 0 {
		return nil, nil
	}
	out, _ := e.evalMutatingPolicies(ctx, ev.set, ev.in, ev.req, ev.celInput())
	return out, ctx.Err()
}

// evalMutatingPolicies applies every MutatingPolicy variant, then every
// bound MutatingAdmissionPolicy, that matches the request, in that order
// (each kind by name, bindings by name). Each policy receives the object
// as the policies before it left it; its Result (StatusPass) carries in
// JSONPatch the RFC 6902 operations from the object it received to the
// object it produced ("" when it changed nothing). Policies that do not
// match or whose matchConditions are false give no result. An evaluation
// error is a StatusFail result under failurePolicy Fail (Enforce: it
// denies) and a StatusSkip result under Ignore, and the object is left as
// it was. The object after every policy is returned with the results.
func (e *Engine) evalMutatingPolicies(ctx context.Context, set *policy.Set, in *Input, req *request, cin *cel.Input) ([]Result, map[string]any) {
	obj := cin.Object
	if obj == nil || req.operation == "DELETE" {
		return nil, obj
	}
	mreq := matchRequest(req)
	var out []Result
	for _, mp := range set.Mutating {
		if in.Background && !mp.Background() {
			continue
		}
		for _, v := range mp.Variants {
			if !v.Match.Matches(mreq) {
				continue
			}
			rule := ""
			if v.Name != "" {
				rule = v.Name + "-" + mp.Name()
			}
			res := Result{Policy: mp.Name(), PolicyKind: KindMutatingPolicy, Rule: rule, Resource: req.resource(),
				Severity: mp.Severity, Category: mp.Category, Enforce: !mp.FailOpen(), Autogen: v.Name != ""}
			ci := *cin
			ci.Object = obj
			r, patched, ok := mutate(ctx, v.Program, ci, res, mp.FailOpen(), mp.Name())
			if ok {
				out = append(out, r)
				obj = patched
			}
		}
	}
	for _, mp := range set.MutatingAdmission {
		if len(mp.Bindings) == 0 || !mp.Match.Matches(mreq) {
			continue
		}
		for _, b := range mp.Bindings {
			if b.Match != nil && !b.Match.Matches(mreq) {
				continue
			}
			res := Result{Policy: mp.Name(), PolicyKind: KindMutatingAdmissionPolicy, Rule: b.Name(), Resource: req.resource(),
				Enforce: !mp.FailOpen()}
			params := []map[string]any{nil}
			if pk := mp.Spec.Spec.ParamKind; pk != nil {
				ref := b.Spec.Spec.ParamRef
				if ref == nil {
					out = append(out, failure(res, mp.FailOpen(), fmt.Sprintf("policy %s needs params (%s %s) but binding %s has no paramRef", mp.Name(), pk.APIVersion, pk.Kind, b.Name())))
					continue
				}
				found, err := resolveParams(ctx, in.Resources, pk, ref, req.namespace)
				switch {
				case errors.Is(err, errNoParams):
					if a := ref.ParameterNotFoundAction; a != nil && *a == admissionregistrationv1.AllowAction {
						continue
					}
					out = append(out, failure(res, mp.FailOpen(), fmt.Sprintf("no params found for binding %s: %s %s %q", b.Name(), pk.APIVersion, pk.Kind, ref.Name)))
					continue
				case err != nil:
					out = append(out, failure(res, mp.FailOpen(), fmt.Sprintf("failed to resolve params for binding %s: %v", b.Name(), err)))
					continue
				}
				params = found
			}
			// The API server runs the policy once per param object, each
			// run on the previous one's result.
			before, current, applied := obj, obj, false
			var last Result
			for _, p := range params {
				ci := *cin
				ci.Object, ci.Params = current, p
				r, patched, ok := mutate(ctx, mp.Program, ci, res, mp.FailOpen(), mp.Name())
				if !ok {
					continue
				}
				applied, last = true, r
				if r.Status != StatusPass {
					current = before
					break
				}
				current = patched
			}
			if !applied {
				continue
			}
			if last.Status == StatusPass {
				patch, err := diffPatch(before, current)
				if err != nil {
					last = failure(res, mp.FailOpen(), err.Error())
					current = before
				} else {
					last.JSONPatch = patch
				}
			}
			out = append(out, last)
			obj = current
		}
	}
	return out, obj
}

// mutate runs one compiled mutating program on ci.Object. ok is false
// when the match conditions are false (no result); on an error the
// result is a failure and patched is ci.Object.
func mutate(ctx context.Context, prog *mutating.Program, ci cel.Input, res Result, failOpen bool, name string) (r Result, patched map[string]any, ok bool) {
	m, err := prog.Match(ctx, ci)
	if err != nil {
		return failure(res, failOpen, fmt.Sprintf("failed to evaluate matchConditions: %v", err)), ci.Object, true
	}
	if !m.Matches {
		return res, ci.Object, false
	}
	patched, err = prog.Apply(ctx, ci)
	if err != nil {
		return failure(res, failOpen, fmt.Sprintf("failed to apply mutations: %v", err)), ci.Object, true
	}
	patch, err := diffPatch(ci.Object, patched)
	if err != nil {
		return failure(res, failOpen, err.Error()), ci.Object, true
	}
	after := ci
	after.Object = patched
	annotations, err := prog.Annotations(ctx, after)
	if err != nil {
		return failure(res, failOpen, fmt.Sprintf("failed to evaluate auditAnnotations: %v", err)), ci.Object, true
	}
	if len(annotations) > 0 {
		named := make(map[string]string, len(annotations))
		for k, v := range annotations {
			named[name+"/"+k] = v
		}
		data, _ := json.Marshal(named)
		res.AuditAnnotations = string(data)
	}
	res.JSONPatch = patch
	return res.with(StatusPass, fmt.Sprintf("policy %s applied.", name), ""), patched, true
}

// failure is the result of a mutating policy that could not be applied:
// fail (denying) under failurePolicy Fail, skip under Ignore.
func failure(res Result, failOpen bool, msg string) Result {
	if failOpen {
		return res.with(StatusSkip, "evaluation error ignored (failurePolicy Ignore): "+msg, "")
	}
	return res.with(StatusFail, msg, "")
}

// diffPatch returns the RFC 6902 patch from one object to another as a
// JSON array, "" when they are equal.
func diffPatch(from, to map[string]any) (string, error) {
	a, err := json.Marshal(from)
	if err != nil {
		return "", fmt.Errorf("cannot encode the object: %w", err)
	}
	b, err := json.Marshal(to)
	if err != nil {
		return "", fmt.Errorf("cannot encode the mutated object: %w", err)
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return "", fmt.Errorf("cannot compute the JSON patch of the mutation: %w", err)
	}
	if len(ops) == 0 {
		return "", nil
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return "", fmt.Errorf("cannot encode the JSON patch of the mutation: %w", err)
	}
	return string(data), nil
}
