package admission

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageadmission"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// verdict is the answer to one validation request.
type verdict struct {
	allowed bool
	// code, reason and message fill the response status when denied.
	code    int32
	reason  metav1.StatusReason
	message string
	// warnings go back to the client, one per failed Audit rule.
	warnings []string
	// events are recorded for admitted requests that failed Audit rules.
	events []Event
	// blockedRules names the denying rules ("policy/rule"), for logs.
	blockedRules []string
	// patches are the JSON patches of passing verifyImages rules
	// (mutateDigest), in result order.
	patches []engine.Patch
}

func (v *verdict) status() *metav1.Status {
	return &metav1.Status{Status: metav1.StatusFailure, Code: v.code, Reason: v.reason, Message: v.message}
}

// blockedRule is one rule that denies the request.
type blockedRule struct {
	policy, rule, message string
}

// decide turns the engine's results into a verdict, as Kyverno does:
//
//   - fail of an Enforce rule denies; of an Audit rule, warns;
//   - warn (a policy annotated scored: "false") warns;
//   - error of an Enforce rule denies (fail closed) unless the policy's
//     failurePolicy is Ignore; otherwise it warns;
//   - pass and skip say nothing.
func decide(set *policy.Set, results []engine.Result) verdict {
	v := verdict{allowed: true}
	var blocked []blockedRule
	var resource engine.Resource
	for i := range results {
		r := &results[i]
		if r.Status == engine.StatusPass && r.JSONPatch != "" {
			if ps, err := r.Patches(); err == nil {
				v.patches = append(v.patches, ps...)
			}
		}
		switch r.Status {
		case engine.StatusFail:
			if r.Enforce {
				blocked = append(blocked, blockedRule{r.Policy, ruleName(r), r.Message})
				resource = r.Resource
				continue
			}
			v.warn(r, r.Message, ReasonPolicyViolation)
		case engine.StatusWarn:
			v.warn(r, r.Message, ReasonPolicyViolation)
		case engine.StatusError:
			msg := "evaluation error: " + r.Message
			if r.Enforce && !failOpen(set, r) {
				blocked = append(blocked, blockedRule{r.Policy, ruleName(r), msg})
				resource = r.Resource
				continue
			}
			v.warn(r, msg, ReasonPolicyError)
		}
	}
	if len(blocked) == 0 {
		return v
	}
	v.allowed = false
	v.code = http.StatusForbidden
	v.reason = metav1.StatusReasonForbidden
	v.message = blockedMessage(resource, blocked)
	for _, b := range blocked {
		v.blockedRules = append(v.blockedRules, b.policy+"/"+b.rule)
	}
	return v
}

func (v *verdict) warn(r *engine.Result, msg, reason string) {
	rule := ruleName(r)
	v.warnings = append(v.warnings, fmt.Sprintf("%s/%s: %s", r.Policy, rule, msg))
	v.events = append(v.events, Event{
		Resource: r.Resource,
		Type:     "Warning",
		Reason:   reason,
		Policy:   r.Policy,
		Rule:     rule,
		Message:  fmt.Sprintf("policy %s/%s %s: %s", r.Policy, rule, r.Status, msg),
	})
}

// ruleName is the rule's name, or the policy's for results without one
// (a ValidatingPolicy itself).
func ruleName(r *engine.Result) string {
	if r.Rule != "" {
		return r.Rule
	}
	return r.Policy
}

// blockedMessage words a denial as Kyverno does: the resource, then every
// denying rule under its policy, in evaluation order (policies sorted by
// key). Continuation lines of a multi-line message are indented further.
//
//	resource Pod/ns/name was blocked due to the following policies
//
//	policy-a:
//	  rule-1: validation error: ...
//	  rule-2: ...
//	policy-b:
//	  rule: ...
func blockedMessage(res engine.Resource, blocked []blockedRule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "resource %s was blocked due to the following policies\n\n", res)
	for i, r := range blocked {
		if i == 0 || blocked[i-1].policy != r.policy {
			b.WriteString(r.policy)
			b.WriteString(":\n")
		}
		b.WriteString("  ")
		b.WriteString(r.rule)
		b.WriteString(": ")
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(r.message), "\n", "\n    "))
		b.WriteString("\n")
	}
	return b.String()
}

// failOpen reports whether errors of the result's policy are ignored
// (failurePolicy: Ignore). ValidatingAdmissionPolicy errors are already
// mapped by the engine (fail, or skip when ignored).
func failOpen(set *policy.Set, r *engine.Result) bool {
	if p := set.Policy(r.Policy); p != nil {
		return p.FailOpen()
	}
	if vp := set.ValidatingPolicy(r.Policy); vp != nil {
		fp := vp.Spec.Spec.FailurePolicy
		return fp != nil && *fp == admissionregistrationv1.Ignore
	}
	return false
}

// failClosed reports whether an evaluation that could not run (deadline,
// namespace lookup) must deny a request for kind: some enforcing policy
// that does not ignore failures could apply to it.
func failClosed(set *policy.Set, kind string) bool {
	for _, r := range set.RulesFor(kind) {
		if r.FailureAction == policy.Enforce && !r.Policy.FailOpen() {
			return true
		}
	}
	for _, vp := range set.Validating {
		if fp := vp.Spec.Spec.FailurePolicy; vp.Enforce() && (fp == nil || *fp != admissionregistrationv1.Ignore) {
			return true
		}
	}
	for _, ap := range set.Admission {
		if ap.FailOpen() {
			continue
		}
		for _, b := range ap.Bindings {
			if b.Enforce() {
				return true
			}
		}
	}
	return false
}

// evaluationFailed is the verdict when evaluation could not complete:
// deny (500) when an enforcing policy could apply, else admit with a
// warning.
func evaluationFailed(set *policy.Set, kind string, res engine.Resource, err error) verdict {
	if failClosed(set, kind) {
		return verdict{
			code:         http.StatusInternalServerError,
			reason:       metav1.StatusReasonInternalError,
			message:      fmt.Sprintf("resource %s was blocked: policy evaluation error: %v", res, err),
			blockedRules: []string{"evaluation-error"},
		}
	}
	return verdict{allowed: true, warnings: []string{fmt.Sprintf("policy evaluation error: %v", err)}}
}

// addImages merges the image policy decision into v: its denials block
// the request (after any rule denials), its warnings are returned.
func (v *verdict) addImages(dec imageadmission.Decision, res engine.Resource) {
	v.warnings = append(v.warnings, dec.Warnings...)
	if dec.Allowed {
		return
	}
	msg := fmt.Sprintf("resource %s was blocked by image policies:\n%s", res, "- "+strings.Join(dec.Denials, "\n- "))
	if v.allowed {
		v.allowed = false
		v.code = http.StatusForbidden
		v.reason = metav1.StatusReasonForbidden
		v.message = msg
	} else {
		v.message = strings.TrimRight(v.message, "\n") + "\n\n" + msg
	}
	v.blockedRules = append(v.blockedRules, "image-policies")
}
