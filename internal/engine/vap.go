package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/matchconstraints"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// matchRequest describes req for matchConstraints.
func matchRequest(req *request) matchconstraints.Request {
	info := kinds.Lookup(req.apiVersion, req.kind)
	group, version := kinds.GroupVersion(req.apiVersion)
	return matchconstraints.Request{Group: group, Version: version, Resource: info.Resource, Subresource: req.subresource,
		Operation: req.operation, Name: req.name, Namespace: req.namespace, Namespaced: info.Namespaced,
		ObjectLabels: req.labels, NamespaceLabels: req.namespaceLabels}
}

// errNoParams reports that a paramRef resolved to nothing.
var errNoParams = errors.New("no params found")

// resolveParams finds the param objects of a paramRef in the store:
// by name (in paramRef.namespace, else the request's namespace for a
// namespaced param kind) or by label selector.
func resolveParams(ctx context.Context, store cel.ResourceStore, kind *admissionregistrationv1.ParamKind, ref *admissionregistrationv1.ParamRef, reqNamespace string) ([]map[string]any, error) {
	if store == nil {
		return nil, errNoParams
	}
	info := kinds.Lookup(kind.APIVersion, kind.Kind)
	ns := ref.Namespace
	if ns == "" && info.Namespaced {
		ns = reqNamespace
	}
	if !info.Namespaced {
		ns = ""
	}
	if ref.Name != "" {
		obj, err := store.Get(ctx, kind.APIVersion, info.Resource, ns, ref.Name)
		if errors.Is(err, cel.ErrNotFound) {
			return nil, errNoParams
		}
		if err != nil {
			return nil, err
		}
		return []map[string]any{obj}, nil
	}
	sel := labels.Everything()
	if ref.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(ref.Selector)
		if err != nil {
			return nil, err
		}
		sel = s
	}
	list, err := store.List(ctx, kind.APIVersion, info.Resource, ns)
	if err != nil && !errors.Is(err, cel.ErrNotFound) {
		return nil, err
	}
	var out []map[string]any
	for _, obj := range list {
		meta, _ := obj["metadata"].(map[string]any)
		if sel.Matches(labels.Set(stringMap(meta["labels"]))) {
			out = append(out, obj)
		}
	}
	if len(out) == 0 {
		return nil, errNoParams
	}
	return out, nil
}

// evalAdmission evaluates every bound ValidatingAdmissionPolicy that
// matches the request: one result per binding that applies.
func (e *Engine) evalAdmission(ctx context.Context, set *policy.Set, in *Input, req *request, cin *cel.Input) []Result {
	mreq := matchRequest(req)
	var out []Result
	for _, ap := range set.Admission {
		if len(ap.Bindings) == 0 || !ap.Match.Matches(mreq) {
			continue
		}
		for _, b := range ap.Bindings {
			if b.Match != nil && !b.Match.Matches(mreq) {
				continue
			}
			res := Result{Policy: ap.Name(), PolicyKind: KindValidatingAdmissionPolicy, Rule: b.Name(), Resource: req.resource(),
				Enforce: b.Enforce()}
			if r, ok := e.evalBinding(ctx, ap, b, in, req, cin, res); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

func (e *Engine) evalBinding(ctx context.Context, ap *policy.AdmissionPolicy, b *policy.AdmissionBinding, in *Input, req *request, cin *cel.Input, res Result) (Result, bool) {
	params := []map[string]any{nil}
	if pk := ap.Spec.Spec.ParamKind; pk != nil {
		ref := b.Spec.Spec.ParamRef
		if ref == nil {
			return res.with(StatusError, fmt.Sprintf("policy %s needs params (%s %s) but binding %s has no paramRef", ap.Name(), pk.APIVersion, pk.Kind, b.Name()), ""), true
		}
		found, err := resolveParams(ctx, in.Resources, pk, ref, req.namespace)
		switch {
		case errors.Is(err, errNoParams):
			if a := ref.ParameterNotFoundAction; a != nil && *a == admissionregistrationv1.AllowAction {
				return res, false
			}
			return res.with(StatusFail, fmt.Sprintf("no params found for binding %s: %s %s %q", b.Name(), pk.APIVersion, pk.Kind, ref.Name), ""), true
		case err != nil:
			return res.with(StatusError, fmt.Sprintf("failed to resolve params for binding %s: %v", b.Name(), err), ""), true
		}
		params = found
	}
	var worst outcome
	evaluated := false
	annotations := map[string]string{}
	var failures []ValidationFailure
	audit := hasAction(b, admissionregistrationv1.Audit)
	for _, p := range params {
		ci := *cin
		ci.Params = p
		m, err := ap.Program.Match(ctx, ci)
		if err != nil {
			worst = worse(worst, e.admissionError(ap, fmt.Sprintf("failed to evaluate matchConditions: %v", err)))
			evaluated = true
			continue
		}
		if !m.Matches {
			continue
		}
		evaluated = true
		r, err := ap.Program.Validate(ctx, ci)
		if err != nil {
			worst = worse(worst, e.admissionError(ap, fmt.Sprintf("failed to evaluate validations: %v", err)))
			continue
		}
		o := celOutcome(r)
		if o.status == StatusError {
			o = e.admissionError(ap, o.msg)
		}
		worst = worse(worst, o)
		for _, a := range r.AuditAnnotations {
			if _, seen := annotations[ap.Name()+"/"+a.Key]; a.Publish && !seen {
				annotations[ap.Name()+"/"+a.Key] = a.Value
			}
		}
		if audit {
			failures = append(failures, validationFailures(ap, b, r)...)
		}
	}
	if !evaluated {
		return res, false
	}
	if worst.status == StatusFail && !b.Enforce() && !hasAction(b, admissionregistrationv1.Audit) {
		worst.status = StatusWarn // Warn-only bindings warn.
	}
	if worst.status == "" || worst.status == StatusPass {
		worst = outcome{StatusPass, fmt.Sprintf("policy %s passed.", ap.Name()), ""}
	}
	if len(failures) > 0 {
		data, _ := json.Marshal(failures)
		annotations[ValidationFailureAnnotation] = string(data)
	}
	if len(annotations) > 0 {
		data, _ := json.Marshal(annotations)
		res.AuditAnnotations = string(data)
	}
	return res.with(worst.status, worst.msg, ""), true
}

// validationFailures are the failed validations of one evaluation as the
// API server records them under the Audit action.
func validationFailures(ap *policy.AdmissionPolicy, b *policy.AdmissionBinding, r *cel.Result) []ValidationFailure {
	var actions []string
	for _, a := range b.Spec.Spec.ValidationActions {
		actions = append(actions, string(a))
	}
	var out []ValidationFailure
	for _, o := range r.Validations {
		if o.Status == cel.Fail {
			out = append(out, ValidationFailure{Message: o.Message, Policy: ap.Name(), Binding: b.Name(),
				ExpressionIndex: o.Index, ValidationActions: actions})
		}
	}
	return out
}

// admissionError maps an evaluation error by failurePolicy: Fail denies,
// Ignore lets the request through (reported as skip).
func (e *Engine) admissionError(ap *policy.AdmissionPolicy, msg string) outcome {
	if ap.FailOpen() {
		return outcome{StatusSkip, "evaluation error ignored (failurePolicy Ignore): " + msg, ""}
	}
	return outcome{StatusFail, msg, ""}
}

func hasAction(b *policy.AdmissionBinding, a admissionregistrationv1.ValidationAction) bool {
	for _, x := range b.Spec.Spec.ValidationActions {
		if x == a {
			return true
		}
	}
	return false
}

// worse returns the more severe outcome (error > fail > warn > pass >
// skip > none).
func worse(a, b outcome) outcome {
	rank := map[Status]int{"": -1, StatusSkip: 0, StatusPass: 1, StatusWarn: 2, StatusFail: 3, StatusError: 4}
	if rank[b.status] > rank[a.status] {
		return b
	}
	return a
}
