package imageverify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
)

// ImageResult is the verdict for one image against ClusterImagePolicies.
type ImageResult struct {
	// Image is the reference as given; Digest what it resolved to ("" when
	// it could not be resolved).
	Image  string `json:"image"`
	Digest string `json:"digest,omitempty"`
	// Allowed is false when a matching enforce-mode policy is not satisfied.
	Allowed bool `json:"allowed"`
	// Warnings are the failures of warn-mode policies.
	Warnings []string `json:"warnings,omitempty"`
	// Policies are the matching policies, by name.
	Policies []PolicyResult `json:"policies"`
}

// PolicyResult is one matching policy's verdict: it passes when at least
// one of its authorities passes (policy-controller's semantics).
type PolicyResult struct {
	Policy string `json:"policy"`
	Mode   string `json:"mode"`
	Passed bool   `json:"passed"`
	// Authority names the authority that passed.
	Authority string `json:"authority,omitempty"`
	// Reasons say why each authority failed.
	Reasons []string `json:"reasons,omitempty"`
}

// VerifyPolicies checks image against every policy whose globs match it:
// each must be satisfied by at least one authority. Images no policy
// matches are allowed (the result has no policies). Key authorities with
// inline data are verified against the registry; static authorities pass
// or fail as written. Keyless, KMS and secretRef keys and attestations are
// not supported yet and fail their authority with that reason, so a
// policy relying on them fails closed.
func (v *Verifier) VerifyPolicies(ctx context.Context, image string, policies []*imagepolicy.Policy, opts ...CallOption) ImageResult {
	res := ImageResult{Image: image, Allowed: true, Policies: []PolicyResult{}}
	for _, p := range policies {
		if !p.Matches(image) {
			continue
		}
		pr := PolicyResult{Policy: p.Name(), Mode: p.Mode()}
		for _, a := range p.Authorities() {
			digest, ok, reason := v.checkAuthority(ctx, image, a, opts)
			if digest != "" {
				res.Digest = digest
			}
			if ok {
				pr.Passed, pr.Authority, pr.Reasons = true, a.Name, nil
				break
			}
			pr.Reasons = append(pr.Reasons, fmt.Sprintf("%s: %s", a.Name, reason))
		}
		if !pr.Passed {
			msg := fmt.Sprintf("image %s fails policy %s: %s", image, p.Name(), strings.Join(pr.Reasons, "; "))
			if pr.Mode == sigv1.ModeWarn {
				res.Warnings = append(res.Warnings, msg)
			} else {
				res.Allowed = false
			}
		}
		res.Policies = append(res.Policies, pr)
	}
	return res
}

// verdict words a Verify outcome for an authority.
func verdict(r Result, err error) (string, bool, string) {
	switch {
	case err == nil && r.Verified:
		return r.Digest, true, ""
	case errors.Is(err, ErrNoSignatures):
		return r.Digest, false, "no signature"
	case errors.Is(err, ErrSignatureMismatch):
		return r.Digest, false, "no signature verifies with the key (wrong key, tampered payload or a signature for another digest)"
	case errors.Is(err, ErrUntrusted):
		if _, why, ok := strings.Cut(err.Error(), ErrUntrusted.Error()+": "); ok && why != "" {
			return r.Digest, false, why
		}
		return r.Digest, false, err.Error()
	case errors.Is(err, ErrRegistry):
		return r.Digest, false, "registry unreachable: " + err.Error()
	case err != nil:
		return r.Digest, false, err.Error()
	}
	return r.Digest, false, r.Reason
}

// checkAuthority returns the resolved digest (when known), whether the
// authority is satisfied, and why not.
func (v *Verifier) checkAuthority(ctx context.Context, image string, a imagepolicy.Authority, opts []CallOption) (string, bool, string) {
	spec := a.Spec
	switch {
	case len(spec.Attestations) > 0:
		return "", false, "attestation checks are not supported yet"
	case spec.Static != nil:
		if spec.Static.Action == "pass" {
			return "", true, ""
		}
		msg := spec.Static.Message
		if msg == "" {
			msg = "static authority fails every image"
		}
		return "", false, msg
	case spec.Key != nil && spec.Key.Data != "":
		return verdict(v.Verify(ctx, image, Check{Keys: [][]byte{[]byte(spec.Key.Data)}, Hash: a.Hash}, opts...))
	case spec.Key != nil:
		return "", false, "keys from secretRef or KMS are not supported yet"
	case spec.Keyless != nil:
		kl, err := v.keylessFor(ctx, a)
		if err != nil {
			return "", false, "keyless: " + err.Error()
		}
		return verdict(v.Verify(ctx, image, Check{Certificates: Keyless(kl)}, opts...))
	}
	return "", false, "authority has no supported verification"
}
