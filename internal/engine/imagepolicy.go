package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/podspec"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/workpool"
)

// Rule names of ClusterImagePolicy results: a policy verifies images in
// the validate phase and pins their tags to digests in the mutate phase.
const (
	RuleVerifyImage = "verify-image"
	RulePinDigest   = "pin-digest"
)

// ImagePolicyVerifier is what ClusterImagePolicy evaluation needs of a
// verifier (*imageverify.Verifier implements it): verify an image against
// the policies covering it, and resolve a tag to its digest. Its types
// are imagepolicy's, so the engine does not import the verifier and an
// engine without one (scan, test) links no cosign, sigstore, OPA or CUE.
type ImagePolicyVerifier interface {
	VerifyPolicies(ctx context.Context, image string, policies []*imagepolicy.Policy, opts ...imagepolicy.CallOption) imagepolicy.ImageResult
	Resolve(ctx context.Context, ref string, opts ...imagepolicy.CallOption) (string, error)
}

// KeychainFunc returns the registry credentials for the pod spec of an
// object in namespace (its imagePullSecrets and service account's), a
// scope naming them (see imagepolicy.WithKeychain) and warnings about
// credentials that could not be read. A nil keychain means the
// verifier's default. It is called once per evaluated resource.
type KeychainFunc func(ctx context.Context, namespace string, podSpec map[string]any) (authn.Keychain, string, []string)

// ImagePolicyOptions configure ClusterImagePolicy evaluation.
type ImagePolicyOptions struct {
	// Keychain gives per-resource registry credentials (nil: the
	// verifier's own).
	Keychain KeychainFunc
	// MaxParallel bounds the concurrent image checks of one resource
	// (default 8).
	MaxParallel int
}

// WithImagePolicyVerifier sets the verifier of ClusterImagePolicies.
// Without one, each (image, policy) pair yields StatusError with
// MsgImageVerificationOffline and nothing is pinned.
func WithImagePolicyVerifier(v ImagePolicyVerifier, opts ImagePolicyOptions) Option {
	return func(e *Engine) {
		if opts.MaxParallel <= 0 {
			opts.MaxParallel = 8
		}
		e.cips, e.cipOpts = v, opts
	}
}

// image is one container image of an object.
type image struct {
	// ref is the image reference as written.
	ref string
	// pointer is the JSON pointer of the image field
	// ("/spec/containers/0/image"), for patches and Result.Path; field the
	// same location in Kubernetes field notation
	// ("spec.containers[0].image"), for messages. Both are empty for a
	// bare image (EvaluateImages).
	pointer, field string
}

// describe is how messages name the image: "ref (field)" or "ref".
func (img image) describe() string {
	if img.field == "" {
		return img.ref
	}
	return img.ref + " (" + img.field + ")"
}

// podImages lists the container images of obj (a Pod or a workload with a
// pod template), walking its pod spec with podspec.Containers. A container
// list that is not a list, a container that is not an object, or an image
// that is not a string is an error: the object is malformed and must not
// slip past verification.
func podImages(kind string, obj map[string]any) ([]image, error) {
	spec, path := podspec.Of(kind, obj)
	if spec == nil {
		return nil, nil
	}
	containers, walkErr := podspec.Containers(spec, path)
	var out []image
	for _, c := range containers {
		cm, ok := c.Object()
		if !ok {
			return nil, fmt.Errorf("%s is not an object", c.Field())
		}
		img, present := cm["image"]
		if !present {
			continue // the API server refuses it for pods; templates may omit it
		}
		ref, ok := img.(string)
		if !ok {
			return nil, fmt.Errorf("%s.image is not a string", c.Field())
		}
		if ref == "" {
			continue
		}
		out = append(out, image{ref: ref, pointer: c.Pointer() + "/image", field: c.Field() + ".image"})
	}
	if fe, ok := errors.AsType[*podspec.FieldError](walkErr); ok {
		return nil, fmt.Errorf("%s is not a list", strings.Join(fe.Path, "."))
	}
	if walkErr != nil {
		return nil, walkErr
	}
	return out, nil
}

// imagePolicyResult is the Result of ClusterImagePolicy p about img (in
// the given rule), before its outcome.
func imagePolicyResult(p *imagepolicy.Policy, rule string, res Resource, img image) Result {
	return Result{
		Policy:     p.Name(),
		PolicyKind: KindClusterImagePolicy,
		Rule:       rule,
		Resource:   res,
		Path:       img.pointer,
		Image:      img.ref,
		Severity:   p.Object.Annotations[policy.AnnotationSeverity],
		Category:   p.Object.Annotations[policy.AnnotationCategory],
		Enforce:    p.Mode() != sigv1.ModeWarn,
	}
}

// evalImagePolicies applies the set's ClusterImagePolicies to the images
// of a Pod or workload being created or updated: in the validate phase it
// verifies each image against every policy whose match (resource, labels)
// and globs cover it; in the mutate phase it pins their tags to digests.
func (e *Engine) evalImagePolicies(ctx context.Context, set *policy.Set, in *Input, req *request) []Result {
	if len(set.Images) == 0 || in.Resource == nil ||
		(req.subresource != "" && !(req.subresource == SubresourceEphemeralContainers && req.kind == "Pod")) ||
		(req.operation != "CREATE" && req.operation != "UPDATE") {
		return nil
	}
	if _, ok := podspec.Path(req.kind); !ok {
		return nil
	}
	group, version := kinds.GroupVersion(req.apiVersion)
	resource := kinds.Lookup(req.apiVersion, req.kind).Resource
	var pols []*imagepolicy.Policy
	for _, p := range set.Images {
		if p.MatchesResource(group, version, resource, req.labels) {
			pols = append(pols, p)
		}
	}
	if len(pols) == 0 {
		return nil
	}
	res := req.resource()
	images, err := podImages(req.kind, in.Resource)
	if err != nil {
		status := StatusError
		if in.Phase == PhaseMutate {
			// The validating step denies it; mutation changes nothing.
			status = StatusWarn
		}
		out := make([]Result, 0, len(pols))
		for _, p := range pols {
			r := imagePolicyResult(p, phaseRule(in.Phase), res, image{})
			out = append(out, r.with(status, fmt.Sprintf("cannot read the images of %s: %v", req.kind, err), ""))
		}
		return out
	}
	if in.Phase == PhaseMutate {
		return e.pinImages(ctx, pols, in, req, images)
	}
	return e.verifyImages(ctx, pols, res, images, in.RequireDigests, in.Verified, func() ([]imagepolicy.CallOption, []string) {
		return e.credentials(ctx, req, in.Resource)
	})
}

// MsgMustBeDigest words the denial of a tag reference under an enforce
// ClusterImagePolicy at admission: what was verified must be what runs.
const MsgMustBeDigest = "image %s must be an image digest: ClusterImagePolicy %s is enforced and the tag was not pinned to the verified digest (the mutating webhook is off or could not resolve it)"

// refError says why ref is not an image reference (nil when it parses):
// go-containerregistry's reason for the digest or tag form it has.
func refError(ref string) error {
	if strings.Contains(ref, "@") {
		_, err := name.NewDigest(ref)
		return err
	}
	_, err := name.NewTag(ref)
	return err
}

// isDigest reports whether ref (a valid reference) names a digest.
func isDigest(ref string) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	_, ok := r.(name.Digest)
	return ok
}

func phaseRule(p Phase) string {
	if p == PhaseMutate {
		return RulePinDigest
	}
	return RuleVerifyImage
}

// EvaluateImages checks bare image references (no resource, so no
// policy's match applies) against the set's ClusterImagePolicies whose
// globs cover them: one Result per (image, policy), with Resource
// {Kind: "Image", Name: ref}. Registry credentials are the verifier's.
func (e *Engine) EvaluateImages(ctx context.Context, set *policy.Set, refs []string) []Result {
	var out []Result
	for _, ref := range refs {
		res := Resource{Kind: "Image", Name: ref}
		out = append(out, e.verifyImages(ctx, set.Images, res, []image{{ref: ref}}, false, nil, nil)...)
	}
	return out
}

// verifyImages verifies images against the policies covering them, in
// parallel. An image reference that does not parse fails closed (no glob
// can match it, so it would slip past every policy otherwise). With
// requireDigest (Input.RequireDigests), a tag that satisfies an enforce
// policy still fails, as in policy-controller: the kubelet could pull
// something else under that tag than what was verified (the mutating
// webhook pins covered tags to digests first). It is verified all the
// same, so that a failing tag is denied for its real reason. An image
// whose every covering policy has a verdict in verified is not sent to
// the verifier: the verdicts stand in for the registry's.
func (e *Engine) verifyImages(ctx context.Context, pols []*imagepolicy.Policy, res Resource, images []image, requireDigest bool, verified VerifiedImages, creds func() ([]imagepolicy.CallOption, []string)) []Result {
	type job struct {
		img  image
		pols []*imagepolicy.Policy
	}
	var out []Result
	var jobs []job
	for _, img := range images {
		if _, ok := imagepolicy.NormalizeImage(img.ref); !ok {
			msg := fmt.Sprintf("image %q (%s) is not a valid image reference", img.ref, img.field)
			if img.field == "" {
				msg = fmt.Sprintf("image %q is not a valid image reference", img.ref)
			}
			if why := refError(img.ref); why != nil {
				msg += ": " + why.Error()
			}
			for _, p := range pols {
				r := imagePolicyResult(p, RuleVerifyImage, res, img)
				status := StatusFail
				if !r.Enforce {
					status = StatusWarn
				}
				out = append(out, r.with(status, msg, img.pointer))
			}
			continue
		}
		var matched []*imagepolicy.Policy
		for _, p := range pols {
			if p.Matches(img.ref) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			continue
		}
		if cached, ok := cachedImagePolicies(verified, img, matched); ok {
			for i, p := range matched {
				out = append(out, imagePolicyOutcome(p, res, img, cached[i], requireDigest))
			}
			continue
		}
		jobs = append(jobs, job{img, matched})
	}
	if len(jobs) == 0 {
		return out
	}
	if e.cips == nil {
		for _, j := range jobs {
			for _, p := range j.pols {
				r := imagePolicyResult(p, RuleVerifyImage, res, j.img)
				out = append(out, r.with(StatusError, MsgImageVerificationOffline, j.img.pointer))
			}
		}
		return out
	}
	var opts []imagepolicy.CallOption
	if creds != nil {
		var warns []string
		opts, warns = creds()
		// Credential problems concern every policy checked anonymously.
		var head []Result
		for _, w := range warns {
			for _, p := range pols {
				head = append(head, imagePolicyResult(p, RuleVerifyImage, res, image{}).with(StatusWarn, w, ""))
			}
		}
		out = append(head, out...)
	}
	verdicts := make([]imagepolicy.ImageResult, len(jobs))
	workpool.Run(len(jobs), e.cipOpts.MaxParallel, func(i int) {
		verdicts[i] = e.cips.VerifyPolicies(ctx, jobs[i].img.ref, jobs[i].pols, opts...)
	})
	for i, v := range verdicts {
		img := jobs[i].img
		for _, pr := range v.Policies {
			p := policyNamed(jobs[i].pols, pr.Policy)
			if p == nil {
				continue
			}
			r := imagePolicyResult(p, RuleVerifyImage, res, img)
			r.Digest = v.Digest
			switch {
			case pr.Passed && requireDigest && r.Enforce && !isDigest(img.ref):
				r = r.with(StatusFail, fmt.Sprintf(MsgMustBeDigest, img.describe(), pr.Policy), img.pointer)
			case pr.Passed:
				r = r.with(StatusPass, fmt.Sprintf("image %s satisfies ClusterImagePolicy %s (authority %s)", img.describe(), pr.Policy, pr.Authority), img.pointer)
			case r.Enforce:
				r = r.with(StatusFail, fmt.Sprintf("image %s fails ClusterImagePolicy %s: %s", img.describe(), pr.Policy, strings.Join(pr.Reasons, "; ")), img.pointer)
			default:
				r = r.with(StatusWarn, fmt.Sprintf("image %s fails ClusterImagePolicy %s: %s", img.describe(), pr.Policy, strings.Join(pr.Reasons, "; ")), img.pointer)
			}
			out = append(out, r)
		}
	}
	return out
}

// cachedImagePolicies returns the verdicts of every policy of pols on
// img from verified, or false when one of them has none.
func cachedImagePolicies(verified VerifiedImages, img image, pols []*imagepolicy.Policy) ([]Verdict, bool) {
	if verified == nil {
		return nil, false
	}
	out := make([]Verdict, len(pols))
	for i, p := range pols {
		v, ok := verified.ImagePolicy(img.ref, p.Name())
		if !ok {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// imagePolicyOutcome is the Result of policy p on img from a verdict
// established earlier: its status and message, under the same digest
// rule as a fresh verification.
func imagePolicyOutcome(p *imagepolicy.Policy, res Resource, img image, v Verdict, requireDigest bool) Result {
	r := imagePolicyResult(p, RuleVerifyImage, res, img)
	r.Digest, r.Cached = v.Digest, true
	status := v.Status
	if status == StatusPass && requireDigest && r.Enforce && !isDigest(img.ref) {
		return r.with(StatusFail, fmt.Sprintf(MsgMustBeDigest, img.describe(), p.Name()), img.pointer)
	}
	return r.with(status, v.Message, img.pointer)
}

func policyNamed(pols []*imagepolicy.Policy, name string) *imagepolicy.Policy {
	for _, p := range pols {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// pinImages pins the images that an applicable policy covers to the
// digests their tags resolve to now ("repo:tag" becomes
// "repo:tag@sha256:…"), so what was verified is what runs: a pass Result
// with the patch per (image, policy). Images already by digest are left
// alone. A tag that cannot be resolved is left as is with a warning: the
// validating step then decides (and fails closed for enforce policies).
func (e *Engine) pinImages(ctx context.Context, pols []*imagepolicy.Policy, in *Input, req *request, images []image) []Result {
	if e.cips == nil {
		return nil
	}
	type job struct {
		img  image
		pols []*imagepolicy.Policy
	}
	var todo []job
	for _, img := range images {
		if strings.Contains(img.ref, "@") {
			continue
		}
		var matched []*imagepolicy.Policy
		for _, p := range pols {
			if p.Matches(img.ref) {
				matched = append(matched, p)
			}
		}
		if len(matched) > 0 {
			todo = append(todo, job{img, matched})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].img.pointer < todo[j].img.pointer })
	res := req.resource()
	var out []Result
	opts, warns := e.credentials(ctx, req, in.Resource)
	for _, w := range warns {
		for _, p := range pols {
			out = append(out, imagePolicyResult(p, RulePinDigest, res, image{}).with(StatusWarn, w, ""))
		}
	}
	digests := make([]string, len(todo))
	errs := make([]error, len(todo))
	workpool.Run(len(todo), e.cipOpts.MaxParallel, func(i int) {
		if _, err := name.ParseReference(todo[i].img.ref); err != nil {
			errs[i] = err
			return
		}
		if in.Verified != nil {
			// A tag a signed verification resolved: pinned to what was
			// verified, without asking the registry what it names now.
			if d, ok := in.Verified.Digest(todo[i].img.ref); ok {
				digests[i] = d
				return
			}
		}
		digests[i], errs[i] = e.cips.Resolve(ctx, todo[i].img.ref, opts...)
	})
	for i, j := range todo {
		img := j.img
		for _, p := range j.pols {
			r := imagePolicyResult(p, RulePinDigest, res, img)
			if errs[i] != nil {
				out = append(out, r.with(StatusWarn, fmt.Sprintf("image %s not pinned to a digest: %v", img.describe(), errs[i]), img.pointer))
				continue
			}
			pinned := img.ref + "@" + digests[i]
			patch, err := json.Marshal([]Patch{{Op: "replace", Path: img.pointer, Value: pinned}})
			if err != nil {
				out = append(out, r.with(StatusWarn, fmt.Sprintf("image %s not pinned to a digest: %v", img.describe(), err), img.pointer))
				continue
			}
			r = r.with(StatusPass, fmt.Sprintf("image %s pinned to %s", img.describe(), digests[i]), img.pointer)
			r.Digest, r.JSONPatch = digests[i], string(patch)
			out = append(out, r)
		}
	}
	return out
}

// credentials are the registry credentials of the resource's pod spec.
func (e *Engine) credentials(ctx context.Context, req *request, obj map[string]any) ([]imagepolicy.CallOption, []string) {
	if e.cipOpts.Keychain == nil {
		return nil, nil
	}
	spec, _ := podspec.Of(req.kind, obj)
	kc, scope, warns := e.cipOpts.Keychain(ctx, req.namespace, spec)
	if kc == nil {
		return nil, warns
	}
	return []imagepolicy.CallOption{imagepolicy.WithKeychain(kc, scope)}, warns
}
