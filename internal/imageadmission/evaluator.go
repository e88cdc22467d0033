package imageadmission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/workpool"
)

// Verifier is what the Evaluator needs of an *imageverify.Verifier.
type Verifier interface {
	VerifyPolicies(ctx context.Context, image string, policies []*imagepolicy.Policy, opts ...imageverify.CallOption) imageverify.ImageResult
	Resolve(ctx context.Context, ref string, opts ...imageverify.CallOption) (string, error)
}

// KeychainFunc returns the registry credentials for the pod spec of an
// object in namespace (its imagePullSecrets and service account's), a
// scope naming them (see imageverify.WithKeychain) and warnings about
// credentials that could not be read. A nil keychain means the
// Verifier's default.
type KeychainFunc func(ctx context.Context, namespace string, podSpec map[string]any) (authn.Keychain, string, []string)

// Options configure an Evaluator.
type Options struct {
	// Verifier checks images (required).
	Verifier Verifier
	// Keychain gives per-request registry credentials (nil: the
	// Verifier's own).
	Keychain KeychainFunc
	// MaxParallel bounds concurrent image checks of one request (default 8).
	MaxParallel int
}

// Evaluator applies ClusterImagePolicies to the images of admitted
// objects. It is safe for concurrent use.
type Evaluator struct {
	opts Options
}

// New returns an Evaluator.
func New(opts Options) (*Evaluator, error) {
	if opts.Verifier == nil {
		return nil, fmt.Errorf("imageadmission: Options.Verifier is required")
	}
	if opts.MaxParallel <= 0 {
		opts.MaxParallel = 8
	}
	return &Evaluator{opts: opts}, nil
}

// Request is the object under admission.
type Request struct {
	// Kind is the object's kind; Group, Version and Resource its API
	// resource (from the AdmissionRequest), for the policies' match.
	Kind, Group, Version, Resource string
	Namespace                      string
	Object                         map[string]any
}

// Patch is one RFC 6902 operation.
type Patch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Decision is the outcome for one request.
type Decision struct {
	// Allowed is false when an enforce-mode policy is not satisfied by an
	// image (or an image could not be read).
	Allowed bool
	// Denials say, one per failing image and policy, which image (and
	// where), which policy and what failed.
	Denials []string
	// Warnings are failures of warn-mode policies and credential problems.
	Warnings []string
	// Patches pin image tags to the digests they resolved to (Mutate only).
	Patches []Patch
	// Checked counts the images at least one policy applied to.
	Checked int
}

// Message words the denials as one admission message.
func (d Decision) Message() string {
	if len(d.Denials) == 1 {
		return d.Denials[0]
	}
	return "image policy failures:\n- " + strings.Join(d.Denials, "\n- ")
}

// applicable filters policies to those whose match covers the request.
func applicable(policies []*imagepolicy.Policy, req Request) []*imagepolicy.Policy {
	labels := objectLabels(req.Object)
	var out []*imagepolicy.Policy
	for _, p := range policies {
		if p.MatchesResource(req.Group, req.Version, req.Resource, labels) {
			out = append(out, p)
		}
	}
	return out
}

// enforcing reports whether one of policies is in enforce mode.
func enforcing(policies []*imagepolicy.Policy) bool {
	for _, p := range policies {
		if p.Mode() != sigv1.ModeWarn {
			return true
		}
	}
	return false
}

func objectLabels(obj map[string]any) map[string]string {
	meta, _ := obj["metadata"].(map[string]any)
	raw, _ := meta["labels"].(map[string]any)
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Validate checks every image of req against the policies that apply to
// it. Images no policy's globs cover are allowed, as in policy-controller.
func (e *Evaluator) Validate(ctx context.Context, policies []*imagepolicy.Policy, req Request) Decision {
	d := Decision{Allowed: true}
	pols := applicable(policies, req)
	if len(pols) == 0 {
		return d
	}
	images, err := Images(req.Kind, req.Object)
	if err != nil {
		return Decision{Denials: []string{fmt.Sprintf("cannot read the images of %s: %v", req.Kind, err)}}
	}
	opts, warns := e.credentials(ctx, req)
	d.Warnings = append(d.Warnings, warns...)

	type job struct {
		img  Image
		pols []*imagepolicy.Policy
	}
	var jobs []job
	for _, img := range images {
		if _, ok := imagepolicy.NormalizeImage(img.Ref); !ok {
			// No glob can match what does not parse: fail closed rather
			// than let a malformed reference slip past every policy.
			msg := fmt.Sprintf("image %q (%s) is not a valid image reference", img.Ref, img.Field)
			if enforcing(pols) {
				d.Allowed = false
				d.Denials = append(d.Denials, msg)
			} else {
				d.Warnings = append(d.Warnings, msg)
			}
			continue
		}
		var matched []*imagepolicy.Policy
		for _, p := range pols {
			if p.Matches(img.Ref) {
				matched = append(matched, p)
			}
		}
		if len(matched) > 0 {
			jobs = append(jobs, job{img, matched})
		}
	}
	d.Checked = len(jobs)
	results := make([]imageverify.ImageResult, len(jobs))
	workpool.Run(len(jobs), e.opts.MaxParallel, func(i int) {
		results[i] = e.opts.Verifier.VerifyPolicies(ctx, jobs[i].img.Ref, jobs[i].pols, opts...)
	})
	for i, r := range results {
		img := jobs[i].img
		for _, pr := range r.Policies {
			if pr.Passed {
				continue
			}
			msg := fmt.Sprintf("image %s (%s) fails ClusterImagePolicy %s: %s", img.Ref, img.Field, pr.Policy, strings.Join(pr.Reasons, "; "))
			if pr.Mode == sigv1.ModeWarn {
				d.Warnings = append(d.Warnings, msg)
				continue
			}
			d.Allowed = false
			d.Denials = append(d.Denials, msg)
		}
	}
	return d
}

// Mutate pins the images that an applicable policy covers to the digests
// their tags resolve to now ("repo:tag" becomes "repo:tag@sha256:…"), so
// what was verified is what runs. Images already by digest are left
// alone. A tag that cannot be resolved is left as is with a warning: the
// validating step then decides (and fails closed for enforce policies).
func (e *Evaluator) Mutate(ctx context.Context, policies []*imagepolicy.Policy, req Request) Decision {
	d := Decision{Allowed: true}
	pols := applicable(policies, req)
	if len(pols) == 0 {
		return d
	}
	images, err := Images(req.Kind, req.Object)
	if err != nil {
		// The validating step denies it; mutation changes nothing.
		d.Warnings = append(d.Warnings, fmt.Sprintf("cannot read the images of %s: %v", req.Kind, err))
		return d
	}
	var todo []Image
	for _, img := range images {
		if strings.Contains(img.Ref, "@") {
			continue
		}
		for _, p := range pols {
			if p.Matches(img.Ref) {
				todo = append(todo, img)
				break
			}
		}
	}
	if len(todo) == 0 {
		return d
	}
	d.Checked = len(todo)
	opts, warns := e.credentials(ctx, req)
	d.Warnings = append(d.Warnings, warns...)
	digests := make([]string, len(todo))
	errs := make([]error, len(todo))
	workpool.Run(len(todo), e.opts.MaxParallel, func(i int) {
		if _, err := name.ParseReference(todo[i].Ref); err != nil {
			errs[i] = err
			return
		}
		digests[i], errs[i] = e.opts.Verifier.Resolve(ctx, todo[i].Ref, opts...)
	})
	for i, img := range todo {
		if errs[i] != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("image %s (%s) not pinned to a digest: %v", img.Ref, img.Field, errs[i]))
			continue
		}
		d.Patches = append(d.Patches, Patch{Op: "replace", Path: img.Pointer, Value: img.Ref + "@" + digests[i]})
	}
	sort.Slice(d.Patches, func(i, j int) bool { return d.Patches[i].Path < d.Patches[j].Path })
	return d
}

func (e *Evaluator) credentials(ctx context.Context, req Request) ([]imageverify.CallOption, []string) {
	if e.opts.Keychain == nil {
		return nil, nil
	}
	spec, _ := PodSpec(req.Kind, req.Object)
	kc, scope, warns := e.opts.Keychain(ctx, req.Namespace, spec)
	if kc == nil {
		return nil, warns
	}
	return []imageverify.CallOption{imageverify.WithKeychain(kc, scope)}, warns
}
