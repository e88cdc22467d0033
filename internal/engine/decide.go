package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/podspec"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// Event reasons (Event.Reason).
const (
	// ReasonPolicyViolation: a rule of an Audit policy failed (or warned).
	ReasonPolicyViolation = "PolicyViolation"
	// ReasonPolicyError: a rule could not be evaluated and the resource was
	// admitted anyway (Audit policy or failurePolicy Ignore).
	ReasonPolicyError = "PolicyError"
)

// BlockedImagePolicies is the Decision.Blocked entry of a denial by
// ClusterImagePolicies; BlockedEvaluationError that of a denial because
// evaluation could not run.
const (
	BlockedImagePolicies   = "image-policies"
	BlockedEvaluationError = "evaluation-error"
)

// Decision is what to do with one resource given its results: admit or
// deny it, with what message, warnings, events and patches. Decide makes
// it; admission turns it into an AdmissionResponse, and any other caller
// (verify, a background controller) reads the same verdict.
type Decision struct {
	// Allowed is false when the resource is denied.
	Allowed bool
	// EvaluationFailed is set when the denial is because evaluation could
	// not run (deadline, namespace lookup): an internal error rather than
	// a policy verdict.
	EvaluationFailed bool
	// Message words the denial (empty when allowed): Kyverno's "resource
	// ... was blocked due to the following policies" with every denying
	// rule by policy, then the ClusterImagePolicy denials.
	Message string
	// Warnings go back to the client: one per failed Audit rule, warning
	// rule, ignored error, and warn-mode ClusterImagePolicy failure.
	Warnings []string
	// Events are to be recorded about the resource when it is admitted
	// (failed Audit rules and ignored errors of Kyverno and CEL policies).
	Events []Event
	// Blocked names the denying rules ("policy/rule", BlockedImagePolicies,
	// BlockedEvaluationError), for logs.
	Blocked []string
	// AuditAnnotations are recorded on the request's audit event
	// (ValidatingAdmissionPolicy auditAnnotations and Audit-action
	// failures), allowed or not; nil when there are none.
	AuditAnnotations map[string]string
	// Patches are the JSON patches of passing results (mutate rules,
	// verifyImages mutateDigest, ClusterImagePolicy digest pinning), in
	// result order: every operation of a mutate rule, one image pin per
	// path.
	Patches []Patch
}

// Event is one event to record about an admitted resource.
type Event struct {
	Resource Resource
	// Reason is ReasonPolicyViolation or ReasonPolicyError.
	Reason string
	// Policy and Rule name the rule; Message is "policy/rule <status>: <message>".
	Policy, Rule string
	Message      string
}

// blockedRule is one rule that denies the resource.
type blockedRule struct {
	policy, rule, message string
}

// Decide turns the results of one resource into a Decision, as Kyverno
// and policy-controller do:
//
//   - fail of an Enforce rule denies; of an Audit rule, warns (with an
//     event);
//   - warn (a policy annotated scored: "false", a Warn-only binding)
//     warns;
//   - error of an Enforce rule denies (fail closed) unless the policy's
//     failurePolicy is Ignore; otherwise it warns;
//   - ClusterImagePolicy results: fail (mode enforce) denies, warn (mode
//     warn, credentials and pinning problems) warns, error (the images
//     could not be read, verification unavailable) denies: image policies
//     have no failurePolicy and fail closed;
//   - pass and skip say nothing; the patches of passing results are
//     collected.
//
// set is the policy set the results came from (for failurePolicy).
func Decide(set *policy.Set, results []Result) Decision {
	d := Decision{Allowed: true}
	var blocked []blockedRule
	var imageDenials []string
	var resource Resource
	seenPatch := map[string]bool{}
	seenImageWarning := map[string]bool{}
	for i := range results {
		r := &results[i]
		d.addAuditAnnotations(r)
		if r.Status == StatusPass && r.JSONPatch != "" {
			if ps, err := r.Patches(); err == nil {
				for _, p := range ps {
					// Image pins of verifyImages rules and ClusterImagePolicies
					// may pin the same image twice: one per path. A mutate
					// rule's operations all apply, in order.
					if mutation := isMutation(set, r); mutation || !seenPatch[p.Path] {
						if !mutation {
							seenPatch[p.Path] = true
						}
						d.Patches = append(d.Patches, p)
					}
				}
			}
		}
		if r.PolicyKind == KindClusterImagePolicy {
			switch {
			case r.Status == StatusError || (r.Status == StatusFail && r.Enforce):
				if resource == (Resource{}) {
					resource = r.Resource
				}
				imageDenials = appendUnique(imageDenials, r.Message)
			case r.Status == StatusFail || r.Status == StatusWarn:
				if !seenImageWarning[r.Message] {
					seenImageWarning[r.Message] = true
					d.Warnings = append(d.Warnings, r.Message)
					d.Events = append(d.Events, Event{Resource: r.Resource, Reason: ReasonPolicyViolation,
						Policy: r.Policy, Rule: ruleName(r), Message: r.Message})
				}
			}
			continue
		}
		switch r.Status {
		case StatusFail:
			if r.Enforce {
				blocked = append(blocked, blockedRule{r.Policy, ruleName(r), r.Message})
				resource = r.Resource
				continue
			}
			d.warn(r, r.Message, ReasonPolicyViolation)
		case StatusWarn:
			d.warn(r, r.Message, ReasonPolicyViolation)
		case StatusError:
			msg := "evaluation error: " + r.Message
			if r.Enforce && !failOpen(set, r) {
				blocked = append(blocked, blockedRule{r.Policy, ruleName(r), msg})
				resource = r.Resource
				continue
			}
			d.warn(r, msg, ReasonPolicyError)
		}
	}
	if len(imageDenials) > 0 {
		// A warning that repeats a denial (a warn-mode policy failing the
		// same unreadable image) says nothing more.
		denied := map[string]bool{}
		for _, m := range imageDenials {
			denied[m] = true
		}
		var kept []string
		for _, w := range d.Warnings {
			if !seenImageWarning[w] || !denied[w] {
				kept = append(kept, w)
			}
		}
		d.Warnings = kept
		var keptEvents []Event
		for _, e := range d.Events {
			if !seenImageWarning[e.Message] || !denied[e.Message] {
				keptEvents = append(keptEvents, e)
			}
		}
		d.Events = keptEvents
	}
	if len(blocked) == 0 && len(imageDenials) == 0 {
		return d
	}
	d.Allowed = false
	if len(blocked) > 0 {
		d.Message = blockedMessage(resource, blocked)
		for _, b := range blocked {
			d.Blocked = append(d.Blocked, b.policy+"/"+b.rule)
		}
	}
	if len(imageDenials) > 0 {
		msg := fmt.Sprintf("resource %s was blocked by image policies:\n%s", resource, "- "+strings.Join(imageDenials, "\n- "))
		if d.Message == "" {
			d.Message = msg
		} else {
			d.Message = strings.TrimRight(d.Message, "\n") + "\n\n" + msg
		}
		d.Blocked = append(d.Blocked, BlockedImagePolicies)
	}
	return d
}

// addAuditAnnotations merges r's audit annotations into d: the first
// value of a key wins, except ValidationFailureAnnotation, whose lists
// are joined.
func (d *Decision) addAuditAnnotations(r *Result) {
	as, err := r.Annotations()
	if err != nil || len(as) == 0 {
		return
	}
	if d.AuditAnnotations == nil {
		d.AuditAnnotations = map[string]string{}
	}
	for k, v := range as {
		prev, seen := d.AuditAnnotations[k]
		switch {
		case !seen:
			d.AuditAnnotations[k] = v
		case k == ValidationFailureAnnotation:
			var a, b []ValidationFailure
			if json.Unmarshal([]byte(prev), &a) == nil && json.Unmarshal([]byte(v), &b) == nil {
				data, _ := json.Marshal(append(a, b...))
				d.AuditAnnotations[k] = string(data)
			}
		}
	}
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func (d *Decision) warn(r *Result, msg, reason string) {
	rule := ruleName(r)
	d.Warnings = append(d.Warnings, fmt.Sprintf("%s/%s: %s", r.Policy, rule, msg))
	d.Events = append(d.Events, Event{
		Resource: r.Resource,
		Reason:   reason,
		Policy:   r.Policy,
		Rule:     rule,
		Message:  fmt.Sprintf("policy %s/%s %s: %s", r.Policy, rule, r.Status, msg),
	})
}

// ruleName is the rule's name, or the policy's for results without one
// (a ValidatingPolicy itself).
func ruleName(r *Result) string {
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
func blockedMessage(res Resource, blocked []blockedRule) string {
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
func failOpen(set *policy.Set, r *Result) bool {
	switch r.PolicyKind {
	case KindValidatingPolicy:
		if vp := set.ValidatingPolicy(r.Policy); vp != nil {
			fp := vp.Spec.Spec.FailurePolicy
			return fp != nil && *fp == admissionregistrationv1.Ignore
		}
	case KindValidatingAdmissionPolicy, KindClusterImagePolicy:
	default:
		if p := set.Policy(r.Policy); p != nil {
			return p.FailOpen()
		}
	}
	return false
}

// FailClosed reports whether an evaluation of a resource of kind that
// could not run (deadline, namespace lookup) must deny it: some enforcing
// policy that does not ignore failures could apply to it.
func FailClosed(set *policy.Set, kind string) bool {
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
	if _, ok := podspec.Path(kind); ok {
		for _, p := range set.Images {
			if p.Mode() != sigv1.ModeWarn {
				return true
			}
		}
	}
	return false
}

// DecideFailed is the decision when evaluating a resource of kind could
// not complete because of err; results are those evaluated before. A
// denial by those results stands; otherwise the resource is denied (an
// internal error) when an enforcing policy could apply (FailClosed), else
// admitted with a warning (and the events of the results).
func DecideFailed(set *policy.Set, kind string, res Resource, results []Result, err error) Decision {
	d := Decide(set, results)
	if !d.Allowed {
		return d
	}
	if FailClosed(set, kind) {
		return Decision{
			EvaluationFailed: true,
			Message:          fmt.Sprintf("resource %s was blocked: policy evaluation error: %v", res, err),
			Blocked:          []string{BlockedEvaluationError},
			Warnings:         d.Warnings,
		}
	}
	d.Warnings = append(d.Warnings, fmt.Sprintf("policy evaluation error: %v", err))
	d.Patches = nil
	return d
}

// isMutation reports whether r is the result of a Kyverno mutate rule or
// a MutatingPolicy / MutatingAdmissionPolicy, whose patch operations all
// apply in order (image pins are deduplicated by path instead).
func isMutation(set *policy.Set, r *Result) bool {
	if r.PolicyKind == KindMutatingPolicy || r.PolicyKind == KindMutatingAdmissionPolicy {
		return true
	}
	if set == nil || (r.PolicyKind != KindClusterPolicy && r.PolicyKind != KindPolicy) {
		return false
	}
	p := set.Policy(r.Policy)
	if p == nil {
		return false
	}
	for _, rule := range p.Rules {
		if rule.Name() == r.Rule {
			return rule.Spec.Mutation != nil
		}
	}
	return false
}
