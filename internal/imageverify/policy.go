package imageverify

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/keyref"
)

// ImageResult is the verdict for one image against ClusterImagePolicies
// (imagepolicy's type: the engine reads it without importing this
// package).
type ImageResult = imagepolicy.ImageResult

// PolicyResult is one matching policy's verdict: it passes when at least
// one of its authorities passes (policy-controller's semantics).
type PolicyResult = imagepolicy.PolicyResult

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
		authorities := p.Authorities()
		if p.Object.Spec.Policy != nil {
			// A policy over the authorities' results could refuse what
			// they accept: not evaluating it must not admit.
			authorities = nil
			pr.Reasons = append(pr.Reasons, "spec.policy (a policy over the authorities' results) is not supported yet")
		}
		for _, a := range authorities {
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
	if spec.Static != nil {
		if spec.Static.Action == "pass" {
			return "", true, ""
		}
		msg := spec.Static.Message
		if msg == "" {
			msg = "static authority fails every image"
		}
		return "", false, msg
	}
	var c Check
	switch {
	case spec.Key != nil && spec.Key.Data != "":
		c = Check{Hash: a.Hash}
		for _, k := range a.Keys {
			c.Keys = append(c.Keys, k.PEM)
		}
		if len(c.Keys) == 0 {
			// Data imagepolicy could not parse: verifying with it as
			// written fails closed with ErrInvalidKey.
			c.Keys = [][]byte{[]byte(spec.Key.Data)}
		}
	case spec.Key != nil && spec.Key.SecretRef != nil:
		if v.opts.Secrets == nil {
			return "", false, "keys from secretRef need cluster access (not available here)"
		}
		ns := spec.Key.SecretRef.Namespace
		if ns == "" {
			ns = v.opts.SecretNamespace
		}
		keys, err := keyref.Load(ctx, v.opts.Secrets, keyref.PolicyControllerSecret(ns, spec.Key.SecretRef.Name))
		if err != nil {
			return "", false, "key: " + err.Error()
		}
		c = Check{Hash: a.Hash}
		for _, k := range keys {
			c.Keys = append(c.Keys, k.PEM)
		}
	case spec.Key != nil:
		return "", false, "KMS keys are not supported (no cloud credentials): give the public key in key.data or a secretRef"
	case spec.Keyless != nil:
		kl, err := v.keylessFor(ctx, a)
		if err != nil {
			return "", false, "keyless: " + err.Error()
		}
		c = Check{Certificates: Keyless(kl)}
	default:
		return "", false, "authority has no supported verification"
	}
	if len(spec.Attestations) == 0 {
		return verdict(v.Verify(ctx, image, c, opts...))
	}
	c.Attestations = true
	res, err := v.Verify(ctx, image, c, opts...)
	if err != nil || !res.Verified {
		d, _, why := verdict(res, err)
		if errors.Is(err, ErrNoSignatures) {
			why = "no attestations"
		}
		return d, false, why
	}
	ok, why := v.checkAttestations(ctx, res, spec.Attestations)
	return res.Digest, ok, why
}

// checkAttestations applies the authority's attestation requirements to
// the verified envelopes: for each, at least one statement of its
// predicate type about this digest, and every such statement passing its
// policy (when it has one). It returns whether all hold and, if not, why.
func (v *Verifier) checkAttestations(ctx context.Context, res Result, wanted []sigv1.Attestation) (bool, string) {
	var statements []*attest.Statement
	for _, env := range res.Attestations {
		st, err := attest.DecodeEnvelope(env)
		if err != nil {
			return false, fmt.Sprintf("a verified attestation is malformed: %v", err)
		}
		if st.HasSubjectDigest(res.Digest) {
			statements = append(statements, st)
		}
	}
	for _, w := range wanted {
		want, err := attest.PredicateTypeURL(w.PredicateType)
		if err != nil {
			return false, fmt.Sprintf("attestation %s: %v", w.Name, err)
		}
		var pol attest.Policy
		if w.Policy != nil {
			if w.Policy.Data == "" {
				return false, fmt.Sprintf("attestation %s: policies from a configMapRef or URL are not supported: give policy.data", w.Name)
			}
			if pol, err = v.compiledPolicy(w.Policy.Type, w.Policy.Data); err != nil {
				return false, fmt.Sprintf("attestation %s: %v", w.Name, err)
			}
		}
		found := 0
		for _, st := range statements {
			if st.PredicateType != want {
				continue
			}
			found++
			if pol == nil {
				continue
			}
			verdict, err := pol.Evaluate(ctx, st)
			if err != nil {
				return false, fmt.Sprintf("attestation %s (%s): policy could not be evaluated: %v", w.Name, want, err)
			}
			if !verdict.Passed {
				msg := verdict.Message
				if msg == "" {
					msg = "policy not satisfied"
				}
				return false, fmt.Sprintf("attestation %s (%s): predicate fails the %s policy: %s", w.Name, want, w.Policy.Type, msg)
			}
		}
		if found == 0 {
			return false, fmt.Sprintf("attestation %s: no verified attestation of type %s", w.Name, want)
		}
	}
	return true, ""
}

// compiledPolicy compiles an attestation policy once per (type, source).
func (v *Verifier) compiledPolicy(kind, source string) (attest.Policy, error) {
	sum := sha256.Sum256([]byte(kind + "\x00" + source))
	v.policies.mu.Lock()
	defer v.policies.mu.Unlock()
	if e, ok := v.policies.m[sum]; ok {
		return e.p, e.err
	}
	p, err := attest.Compile(kind, source)
	if v.policies.m == nil {
		v.policies.m = map[[32]byte]compiledEntry{}
	}
	if len(v.policies.m) > 1000 {
		clear(v.policies.m)
	}
	v.policies.m[sum] = compiledEntry{p, err}
	return p, err
}

type compiledEntry struct {
	p   attest.Policy
	err error
}

type policyCache struct {
	mu sync.Mutex
	m  map[[32]byte]compiledEntry
}
