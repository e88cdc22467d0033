package kyvernoimages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// Checker verifies and resolves images; *imageverify.Verifier implements it.
type Checker interface {
	Verify(ctx context.Context, ref string, c imageverify.Check, opts ...imageverify.CallOption) (imageverify.Result, error)
	Resolve(ctx context.Context, ref string, opts ...imageverify.CallOption) (string, error)
}

var _ Checker = (*imageverify.Verifier)(nil)

// KeyLoader loads public keys that a policy names by reference:
// "k8s://<namespace>/<name>" for a Secret's cosign.pub, or a KMS key URI
// (awskms://, gcpkms://, azurekms://, hashivault://).
type KeyLoader interface {
	// PublicKeys returns the PEM public keys ref names; any one verifying
	// satisfies the attestor.
	PublicKeys(ctx context.Context, ref string) ([][]byte, error)
}

// KeyLoaderFunc adapts a function to KeyLoader.
type KeyLoaderFunc func(ctx context.Context, ref string) ([][]byte, error)

// PublicKeys implements KeyLoader.
func (f KeyLoaderFunc) PublicKeys(ctx context.Context, ref string) ([][]byte, error) {
	return f(ctx, ref)
}

var _ KeyLoader = KeyLoaderFunc(nil)

// CertificateTrustFunc builds the certificate trust of a keyless or
// certificates attestor (a has Keyless or Certificates set; variables are
// already substituted).
type CertificateTrustFunc func(ctx context.Context, a *kyvernov1.Attestor) (imageverify.CertificateTrust, error)

// Options are the optional dependencies of a Verifier.
type Options struct {
	// Keys loads keys.secret and keys.kms keys; nil makes such attestors
	// an error.
	Keys KeyLoader
	// Certificates builds the trust of keyless and certificates
	// attestors; nil makes such attestors an error.
	Certificates CertificateTrustFunc
}

// Verifier evaluates verifyImages rules. It is safe for concurrent use.
type Verifier struct {
	check Checker
	opts  Options
}

// New returns a Verifier that checks images with c.
func New(c Checker, opts Options) *Verifier {
	return &Verifier{check: c, opts: opts}
}

var _ engine.ImageRuleVerifier = (*Verifier)(nil)

// VerifyImages implements engine.ImageRuleVerifier: one outcome per image
// of the resource selected by an entry of the rule's verifyImages.
func (v *Verifier) VerifyImages(ctx context.Context, rule *policy.Rule, resource map[string]any, vars *variables.Context) engine.ImageRuleOutcome {
	var out engine.ImageRuleOutcome
	images, err := resourceImages(resource)
	if err != nil {
		// An image that does not parse (uppercase repository, truncated
		// digest, ...) matches no imageReferences pattern reliably: it is a
		// failure, not an evaluation error that failurePolicy Ignore would
		// admit, so an Enforce rule denies it (fails closed).
		out.Images = append(out.Images, engine.ImageOutcome{Status: engine.StatusFail,
			Message: fmt.Sprintf("failed to extract images: %v", err), Enforce: rule.FailureAction == policy.Enforce})
		return out
	}
	for i := range rule.Spec.VerifyImages {
		iv, err := substitute(vars, &rule.Spec.VerifyImages[i])
		if err != nil {
			out.Images = append(out.Images, engine.ImageOutcome{Status: engine.StatusError,
				Message: fmt.Sprintf("failed to substitute variables: %v", err), Enforce: enforce(rule, &rule.Spec.VerifyImages[i])})
			continue
		}
		for _, im := range images {
			if !matchAny(iv.ImageReferences, im.name) {
				continue
			}
			r := &run{v: v, rule: rule, iv: iv, vars: vars}
			io := r.image(ctx, im)
			io.Enforce = enforce(rule, iv)
			out.Images = append(out.Images, io)
		}
	}
	return out
}

// enforce reports whether a failure of iv denies admission.
func enforce(rule *policy.Rule, iv *kyvernov1.ImageVerification) bool {
	if iv.FailureAction != nil {
		return strings.EqualFold(*iv.FailureAction, policy.Enforce)
	}
	return rule.FailureAction == policy.Enforce
}

// substitute resolves the variables of iv, except in attestation
// conditions and validate.deny, which are evaluated later against the
// attestations (as Kyverno does).
func substitute(vars *variables.Context, iv *kyvernov1.ImageVerification) (*kyvernov1.ImageVerification, error) {
	data, err := json.Marshal(iv)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	delete(doc, "validate")
	if atts, ok := doc["attestations"].([]any); ok {
		for _, a := range atts {
			if am, ok := a.(map[string]any); ok {
				delete(am, "conditions")
			}
		}
	}
	if !variables.HasVariables(doc) {
		return iv, nil
	}
	sub, err := variables.Substitute(vars, doc)
	if err != nil {
		return nil, err
	}
	if data, err = json.Marshal(sub); err != nil {
		return nil, err
	}
	var out kyvernov1.ImageVerification
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("verifyImages after substitution: %w", err)
	}
	out.Validation = iv.Validation
	for i := range out.Attestations {
		if i < len(iv.Attestations) {
			out.Attestations[i].Conditions = iv.Attestations[i].Conditions
		}
	}
	return &out, nil
}

// run is the evaluation of one verifyImages entry.
type run struct {
	v    *Verifier
	rule *policy.Rule
	iv   *kyvernov1.ImageVerification
	vars *variables.Context
}

// image verifies one image selected by imageReferences.
func (r *run) image(ctx context.Context, im image) engine.ImageOutcome {
	io := engine.ImageOutcome{Image: im.name, Path: im.pointer, DigestRequired: r.iv.VerifyDigestEnabled()}
	digest := ""
	switch {
	case matchAny(r.iv.SkipImageReferences, im.name):
		io.Status = engine.StatusSkip
		io.Message = fmt.Sprintf("skipping image reference image %s, policy %s ruleName %s", im.name, r.rule.Policy.Name(), r.rule.Name())
	default:
		io.Status, io.Message, digest = r.verify(ctx, im)
	}
	if io.Status != engine.StatusPass && io.Status != engine.StatusSkip {
		return io
	}
	if im.digest == "" && r.iv.MutateDigestEnabled() {
		if digest == "" {
			d, err := r.v.check.Resolve(ctx, im.name)
			if err != nil {
				io.Status, io.Message = engine.StatusError, fmt.Sprintf("failed to update digest: %v", err)
				return io
			}
			digest = d
		}
		io.Patches = []engine.Patch{{Op: "replace", Path: im.pointer, Value: im.withDigest(digest)}}
		return io
	}
	if im.digest == "" && r.iv.VerifyDigestEnabled() {
		io.Status, io.Message = engine.StatusFail, fmt.Sprintf("missing digest for %s", im.name)
	}
	return io
}

// verify checks the attestors, then the attestations, and returns the
// status, Kyverno's message and the verified digest.
func (r *run) verify(ctx context.Context, im image) (engine.Status, string, string) {
	digest := im.digest
	for i := range r.iv.Attestors {
		d, err := r.attestorSet(ctx, &r.iv.Attestors[i], fmt.Sprintf(".attestors[%d]", i), im, r.signatureEntry)
		if err != nil {
			return statusOf(err), fmt.Sprintf("failed to verify image %s: %s", im.name, err), ""
		}
		if digest == "" {
			digest = d
		}
	}
	if len(r.iv.Attestations) == 0 {
		return engine.StatusPass, fmt.Sprintf("verified image signatures for %s", im.name), digest
	}
	for i := range r.iv.Attestations {
		a := &r.iv.Attestations[i]
		for j := range a.Attestors {
			set := &a.Attestors[j]
			d, err := r.attestorSet(ctx, set, fmt.Sprintf(".attestations[%d].attestors[%d]", i, j), im, r.attestationEntry(a))
			if err != nil {
				var se *setError
				verified, required := 0, set.RequiredCount()
				if errors.As(err, &se) {
					verified, required = se.verified, se.required
				}
				msg := fmt.Sprintf("image attestations verification failed, verifiedCount: %d, requiredCount: %d, error: %s", verified, required, err)
				return statusOf(err), msg, ""
			}
			if digest == "" {
				digest = d
			}
		}
	}
	if val := r.iv.Validation; val != nil && val.Deny != nil {
		denied, msg, err := r.deny(val)
		switch {
		case err != nil:
			return engine.StatusFail, fmt.Sprintf("validation in verifyImages failed: failed to check deny conditions: %v", err), digest
		case denied:
			return engine.StatusFail, fmt.Sprintf("validation in verifyImages failed: %s", msg), digest
		}
		return engine.StatusPass, fmt.Sprintf("verifyImages validation is passed in %s rule", r.rule.Name()), digest
	}
	return engine.StatusPass, fmt.Sprintf("verified image attestations for %s", im.name), digest
}
