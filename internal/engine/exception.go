package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/pss"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// MsgException is the message of a result a PolicyException exempted,
// followed by the exceptions' keys ("namespace/name", comma-separated),
// as Kyverno words it for kyverno.io exceptions.
const MsgException = "rule is skipped due to policy exception "

// MsgCELException is the message of a CEL policy's result a
// policies.kyverno.io exception exempted ("%s": skipped or passed),
// followed by the exceptions' keys, as Kyverno words it.
const MsgCELException = "rule is %s due to policy exception: "

// ruleExceptions returns the kyverno.io PolicyExceptions of the set that
// name rule r and apply to the request: spec.match selects it (with the
// same matcher as a rule's match) and spec.conditions hold in the rule's
// variable context c (an error in them leaves the exception out, as in
// Kyverno). In a background evaluation exceptions with background: false
// do not apply.
func ruleExceptions(set *policy.Set, r *policy.Rule, in *Input, req *request, c *variables.Context) []*policy.Exception {
	if len(set.Exceptions) == 0 {
		return nil
	}
	var out []*policy.Exception
	for _, x := range set.ExceptionsFor(r.Policy.Key(), r.Name()) {
		if in.Background && !x.Background() {
			continue
		}
		if !matchSelects(x.Match, req) {
			continue
		}
		if x.Conditions != nil {
			ok, err := checkPreconditions(c, x.Conditions)
			if err != nil || !ok {
				continue
			}
		}
		out = append(out, x)
	}
	return out
}

// exceptionKeys joins the keys of xs as Kyverno's messages list them.
func exceptionKeys(xs []*policy.Exception) string {
	keys := make([]string, len(xs))
	for i, x := range xs {
		keys[i] = x.Key()
	}
	return strings.Join(keys, ", ")
}

// exempted is the skip result of a rule whose exceptions xs apply.
func exempted(res Result, xs []*policy.Exception) Result {
	res = res.with(StatusSkip, MsgException+exceptionKeys(xs), "")
	res.Exceptions = exceptionKeys(xs)
	return res
}

// fullExemption reports whether the exceptions exempt rule r as a whole:
// for a podSecurity rule only an exception without podSecurity controls
// does (the others exempt their controls, see podSecurityExempted).
func fullExemption(r *policy.Rule, xs []*policy.Exception) []*policy.Exception {
	if r.PodSecurity == nil {
		return xs
	}
	for _, x := range xs {
		if len(x.PodSecurity) == 0 {
			return []*policy.Exception{x}
		}
	}
	return nil
}

// podSecurityExempted evaluates podSecurity rule r with the controls the
// exceptions xs exempt added to the rule's own exclusions, as Kyverno
// applies an exception's podSecurity: the excluded controls no longer
// fail, the others still do. A rule that then passes is skipped (naming
// the exceptions); otherwise it fails with the remaining checks.
func (v *validator) podSecurityExempted(xs []*policy.Exception) (outcome, bool) {
	if v.deleting {
		return outcome{}, false
	}
	if o := v.podSecurity(); o.status != StatusFail {
		// Exclusions only matter to a failing rule.
		return o, false
	}
	spec := v.rule.PodSecuritySpec
	extra := spec
	extra.Exclude = append([]pss.Exclusion(nil), spec.Exclude...)
	for _, x := range xs {
		for _, ex := range x.PodSecurity {
			// An exclusion of a control the rule's level does not check
			// (a restricted control in a baseline rule) exempts nothing.
			if _, err := pss.Compile(pss.Spec{Level: spec.Level, Version: spec.Version, Exclude: []pss.Exclusion{ex}}); err != nil {
				continue
			}
			extra.Exclude = append(extra.Exclude, ex)
		}
	}
	chk, err := pss.Compile(extra)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to apply the podSecurity exclusions of policy exceptions %s: %v", exceptionKeys(xs), err), ""}, false
	}
	res, err := chk.Evaluate(v.resource)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to evaluate podSecurity: %v", err), ""}, false
	}
	if res.Allowed {
		// Kyverno says "exceptions" here, with every matched key.
		return outcome{StatusSkip, "rule is skipped due to policy exceptions " + exceptionKeys(xs), ""}, true
	}
	return outcome{StatusFail, res.Message(v.rule.Name(), spec), ""}, false
}

// celExceptions returns the policies.kyverno.io exceptions of the set
// that name the CEL policy of kind and name and exempt the request: not
// expired, not partial (images, allowedValues), and their matchConditions
// all true. An exception whose conditions cannot be evaluated is an
// error, unless another exception already exempts the request (as in
// Kyverno).
func celExceptions(ctx context.Context, set *policy.Set, kind, name string, cin cel.Input, now time.Time) ([]*policy.Exception, error) {
	if len(set.Exceptions) == 0 {
		return nil, nil
	}
	var out []*policy.Exception
	var firstErr error
	for _, x := range set.CELExceptionsFor(kind, name) {
		if x.Expired(now) || x.Partial() {
			continue
		}
		if x.Program != nil {
			m, err := x.Program.Match(ctx, cin)
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("matchConditions of policy exception %s: %w", x.Key(), err)
				}
				continue
			}
			if !m.Matches {
				continue
			}
		}
		out = append(out, x)
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// celExempted is the result of a CEL policy exempted by xs: skip, or pass
// when the first exception asks for it (reportResult: pass).
func celExempted(res Result, xs []*policy.Exception) Result {
	status, word := StatusSkip, "skipped"
	if xs[0].ReportPass() {
		status, word = StatusPass, "passed"
	}
	res = res.with(status, fmt.Sprintf(MsgCELException, word)+exceptionKeys(xs), "")
	res.Exceptions = exceptionKeys(xs)
	return res
}
