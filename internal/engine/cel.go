package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
)

// celInput builds the CEL activation data for a request, once per Evaluate.
func celInput(in *Input, req *request) cel.Input {
	gv := kinds.Lookup(req.apiVersion, req.kind)
	group, version := kinds.GroupVersion(req.apiVersion)
	user := map[string]any{"username": in.UserInfo.Username}
	if in.UserInfo.UID != "" {
		user["uid"] = in.UserInfo.UID
	}
	if len(in.UserInfo.Groups) > 0 {
		groups := make([]any, len(in.UserInfo.Groups))
		for i, g := range in.UserInfo.Groups {
			groups[i] = g
		}
		user["groups"] = groups
	}
	request := map[string]any{
		"operation": req.operation,
		"name":      req.name,
		"namespace": req.namespace,
		"kind":      map[string]any{"group": group, "version": version, "kind": req.kind},
		"resource":  map[string]any{"group": group, "version": version, "resource": gv.Resource},
		"userInfo":  user,
		"dryRun":    false,
	}
	if req.subresource != "" {
		request["subResource"] = req.subresource
	}
	ci := cel.Input{Object: in.Resource, OldObject: in.OldResource, Request: request, Params: in.Params,
		Resources: in.Resources, Images: in.Images, GlobalContext: in.GlobalContext}
	if in.NamespaceObject != nil {
		ci.NamespaceObject = in.NamespaceObject
	} else if req.namespace != "" && gv.Namespaced {
		labels := map[string]any{}
		for k, v := range in.NamespaceLabels {
			labels[k] = v
		}
		ci.NamespaceObject = map[string]any{"apiVersion": "v1", "kind": "Namespace",
			"metadata": map[string]any{"name": req.namespace, "labels": labels}}
	}
	return ci
}

// celOutcome turns a CEL evaluation into a rule outcome: the first failed
// validation fails the rule, a runtime error makes it an error.
func celOutcome(res *cel.Result) outcome {
	var failed, errored []string
	for _, o := range res.Validations {
		switch o.Status {
		case cel.Fail:
			failed = append(failed, o.Message)
		case cel.Error:
			errored = append(errored, o.Message)
		}
	}
	switch {
	case len(errored) > 0:
		return outcome{StatusError, strings.Join(errored, "; "), ""}
	case len(failed) > 0:
		return outcome{StatusFail, strings.Join(failed, "; "), ""}
	}
	return outcome{StatusPass, "", ""}
}

// celRule evaluates a validate.cel rule.
func (v *validator) celRule(ctx context.Context) outcome {
	prog := v.rule.CEL
	if prog == nil {
		return outcome{StatusError, "validate.cel was not compiled", ""}
	}
	if pk := v.rule.CELParamKind; pk != nil && v.cin.Params == nil {
		found, err := resolveParams(ctx, v.cin.Resources, pk, v.rule.CELParamRef, manifestNamespace(v.resource))
		if err != nil {
			return outcome{StatusError, fmt.Sprintf("params of kind %s %s not found for rule %s: %v", pk.APIVersion, pk.Kind, v.rule.Name(), err), ""}
		}
		v.cin.Params = found[0]
	}
	m, err := prog.Match(ctx, v.cin)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to evaluate celPreconditions: %v", err), ""}
	}
	if !m.Matches {
		return outcome{StatusSkip, fmt.Sprintf("celPreconditions not met: %s", m.FailedCondition), ""}
	}
	res, err := prog.Validate(ctx, v.cin)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to evaluate cel expressions: %v", err), ""}
	}
	o := celOutcome(res)
	if o.status == StatusError && !v.rule.Policy.FailOpen() {
		// The API server's validator (which Kyverno runs validate.cel
		// through) denies on an evaluation error under failurePolicy Fail.
		o.status = StatusFail
	}
	return o
}

// evalValidating evaluates every ValidatingPolicy variant that matches the
// request and returns one result per evaluated variant.
func (e *Engine) evalValidating(ctx context.Context, set *policy.Set, in *Input, req *request, cin *cel.Input) []Result {
	if len(set.Validating) == 0 {
		return nil
	}
	mreq := matchRequest(req)
	var out []Result
	for _, vp := range set.Validating {
		if in.Background && !vp.Background() {
			continue
		}
		for _, variant := range vp.Variants {
			if !variant.Match.Matches(mreq) {
				continue
			}
			rule := ""
			if variant.Name != "" {
				rule = variant.Name + "-" + vp.Name()
			}
			res := Result{Policy: vp.Name(), PolicyKind: KindValidatingPolicy, Rule: rule, Resource: req.resource(),
				Severity: vp.Severity, Category: vp.Category, Enforce: vp.Enforce(), Autogen: variant.Name != "",
				Control: vp.Control, Remediation: vp.Remediation}
			m, err := variant.Program.Match(ctx, *cin)
			switch {
			case err != nil:
				out = append(out, res.with(StatusError, fmt.Sprintf("failed to evaluate matchConditions: %v", err), ""))
				continue
			case !m.Matches:
				continue
			}
			r, err := variant.Program.Validate(ctx, *cin)
			if err != nil {
				out = append(out, res.with(StatusError, fmt.Sprintf("failed to evaluate validations: %v", err), ""))
				continue
			}
			o := celOutcome(r)
			if o.status == StatusPass {
				o.msg = fmt.Sprintf("policy %s passed.", vp.Name())
			}
			out = append(out, res.with(o.status, o.msg, ""))
		}
	}
	return out
}

func manifestNamespace(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return ns
}
