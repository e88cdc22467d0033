package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// MsgImageVerificationOffline is the error message of verifyImages rules
// evaluated by an Engine without an ImageRuleVerifier (scan, test).
const MsgImageVerificationOffline = "image verification is not available offline"

// Patch is one JSON patch operation (RFC 6902).
type Patch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
	// From is the source of a move or copy.
	From string `json:"from,omitempty"`
}

// MarshalJSON writes the value of add, replace and test operations even
// when it is null (a mutate rule may set a field to null).
func (p Patch) MarshalJSON() ([]byte, error) {
	type plain Patch
	if p.Value == nil && (p.Op == "add" || p.Op == "replace" || p.Op == "test") {
		return json.Marshal(struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		}{p.Op, p.Path, nil})
	}
	return json.Marshal(plain(p))
}

// ImageRuleVerifier evaluates the verifyImages body of a rule that matched
// a resource (match, exclude, context and preconditions already passed).
// vars is the rule's variable context; the verifier may change it between
// Checkpoint and Restore only.
type ImageRuleVerifier interface {
	VerifyImages(ctx context.Context, rule *policy.Rule, resource map[string]any, vars *variables.Context) ImageRuleOutcome
}

// ImageRuleVerifierFunc adapts a function to ImageRuleVerifier.
type ImageRuleVerifierFunc func(ctx context.Context, rule *policy.Rule, resource map[string]any, vars *variables.Context) ImageRuleOutcome

// VerifyImages implements ImageRuleVerifier.
func (f ImageRuleVerifierFunc) VerifyImages(ctx context.Context, rule *policy.Rule, resource map[string]any, vars *variables.Context) ImageRuleOutcome {
	return f(ctx, rule, resource, vars)
}

var _ ImageRuleVerifier = ImageRuleVerifierFunc(nil)

// ImageRuleOutcome is the result of a verifyImages rule: one entry per
// verified image (as Kyverno gives one rule response per image), or one
// entry without Image for a rule-level problem. No entries means no image
// of the resource was selected: the rule produces no result.
type ImageRuleOutcome struct {
	Images []ImageOutcome
}

// ImageOutcome is the verdict for one image (or the whole rule when Image
// is empty).
type ImageOutcome struct {
	// Image is the image as Kyverno names it ("docker.io/nginx:1.25").
	Image string
	// Status is pass, fail, error or skip.
	Status Status
	// Message explains the status in Kyverno's words.
	Message string
	// Path is the JSON pointer of the image field in the resource.
	Path string
	// Enforce is true when a failure denies admission (the entry's
	// failureAction, else the policy's).
	Enforce bool
	// Patches rewrite the image to its digest (mutateDigest).
	Patches []Patch
	// DigestRequired is the entry's verifyDigest: the image is admitted
	// only by digest. In PhaseValidate an outcome that still carries a
	// digest patch (a tag the mutating phase did not pin) then fails.
	DigestRequired bool
}

// MsgMissingDigest words the failure of a tag that verifyDigest requires
// by digest at validation (Kyverno's "missing digest for <image>").
const MsgMissingDigest = "missing digest for %s: verifyDigest requires the image by digest and the tag was not pinned to the verified digest (the mutating webhook is off or could not resolve it)"

// Patches decodes r.JSONPatch (nil when there is none).
func (r Result) Patches() ([]Patch, error) {
	if r.JSONPatch == "" {
		return nil, nil
	}
	var out []Patch
	if err := json.Unmarshal([]byte(r.JSONPatch), &out); err != nil {
		return nil, fmt.Errorf("decode patch of rule %s: %w", r.Rule, err)
	}
	return out, nil
}

// WithImageVerifier sets the verifier of verifyImages rules. Without one,
// those rules yield StatusError with MsgImageVerificationOffline.
func WithImageVerifier(iv ImageRuleVerifier) Option {
	return func(e *Engine) { e.images = iv }
}

// evalImageRule evaluates one applicable verifyImages rule.
func (e *Engine) evalImageRule(ctx context.Context, r *policy.Rule, ev *evaluation, c *variables.Context) []Result {
	in, req := ev.in, ev.req
	if in.Resource == nil || req.operation == "DELETE" {
		// Kyverno verifies images when they are admitted, not deleted.
		return nil
	}
	res := ruleResult(r, req)
	c.Checkpoint()
	defer c.Restore()
	var values map[string]any
	if in.Values != nil {
		values = in.Values.For(r.Policy.Name(), r.Name(), req.name)
		if err := applyValues(c, values); err != nil {
			return []Result{res.with(StatusError, fmt.Sprintf("invalid values: %v", err), "")}
		}
	}
	if err := e.loadContext(ctx, c, r.Spec.Context, values, in.Cluster); err != nil {
		return []Result{res.with(StatusError, fmt.Sprintf("failed to load context: %v", err), "")}
	}
	ok, err := checkPreconditions(c, r.Spec.Preconditions)
	if err != nil {
		return []Result{res.with(StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), "")}
	}
	if !ok {
		return []Result{res.with(StatusSkip, "preconditions not met", "")}
	}
	if xs := ruleExceptions(ev.set, r, in, req, c); len(xs) > 0 {
		// One skip for the rule: no image is verified or pinned.
		return []Result{exempted(res, xs)}
	}
	if cached, ok := e.cachedImageRule(r, in, req); ok {
		return cached
	}
	if e.images == nil {
		return []Result{res.with(StatusError, MsgImageVerificationOffline, "")}
	}
	out := e.images.VerifyImages(ctx, r, in.Resource, c)
	results := make([]Result, 0, len(out.Images))
	for _, io := range out.Images {
		if in.RequireDigests && in.Phase == PhaseValidate && io.DigestRequired && len(io.Patches) > 0 && io.Status == StatusPass {
			// Verified by tag, but what runs is what the tag names when
			// the kubelet pulls: only the pinned digest is admitted.
			io.Status, io.Message, io.Patches = StatusFail, fmt.Sprintf(MsgMissingDigest, io.Image), nil
		}
		ir := res.with(io.Status, io.Message, io.Path)
		ir.Enforce, ir.Image = io.Enforce, io.Image
		if ir.Status == StatusFail && !r.Policy.Scored {
			ir.Status = StatusWarn
		}
		if len(io.Patches) > 0 {
			data, err := json.Marshal(io.Patches)
			if err != nil {
				ir = ir.with(StatusError, fmt.Sprintf("failed to encode the digest patch: %v", err), io.Path)
			} else {
				ir.JSONPatch = string(data)
			}
		}
		results = append(results, ir)
	}
	return results
}

// BaseRule is the name of the rule r is about without an autogen prefix
// (see BaseRuleName), from the kind of its resource.
func (r Result) BaseRule() string {
	if !r.Autogen {
		return r.Rule
	}
	if r.Resource.Kind == "CronJob" {
		return strings.TrimPrefix(r.Rule, "autogen-cronjob-")
	}
	return strings.TrimPrefix(r.Rule, "autogen-")
}

// BaseRuleName is the name of the rule an autogen rule was generated
// from ("autogen-check" and "autogen-cronjob-check" are "check"): the
// same verifyImages body, whatever the kind it was applied to.
func BaseRuleName(r *policy.Rule) string {
	name := r.Name()
	switch r.Autogen {
	case policy.AutogenCronJob:
		return strings.TrimPrefix(name, "autogen-cronjob-")
	case policy.AutogenControllers:
		return strings.TrimPrefix(name, "autogen-")
	}
	return name
}

// cachedImageRule gives the results of verifyImages rule r from
// in.Verified, when it answers for the rule on every image of the
// resource: one Result per cached verdict, at the image's place in this
// resource.
func (e *Engine) cachedImageRule(r *policy.Rule, in *Input, req *request) ([]Result, bool) {
	if in.Verified == nil {
		return nil, false
	}
	res := ruleResult(r, req)
	verdicts, ok := in.Verified.ImageRule(res.PolicyKind, res.Policy, BaseRuleName(r))
	if !ok {
		return nil, false
	}
	images, err := podImages(req.kind, in.Resource)
	if err != nil {
		return nil, false
	}
	pointer := make(map[string]string, len(images))
	for _, img := range images {
		if _, seen := pointer[img.ref]; !seen {
			pointer[img.ref] = img.pointer
		}
	}
	out := make([]Result, 0, len(verdicts))
	for _, v := range verdicts {
		path, ok := pointer[v.Image]
		if !ok {
			return nil, false
		}
		ir := res.with(v.Status, v.Message, path)
		ir.Enforce, ir.Image, ir.Digest, ir.Cached = v.Enforce, v.Image, v.Digest, true
		out = append(out, ir)
	}
	return out, true
}
