package imageverify

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/sigstore/cosign/v2/pkg/cosign"
)

// Check is what one authority requires of an image: a cosign signature
// (or, with Attestations, a signed in-toto attestation) that verifies with
// one of Keys or is made with a certificate Certificates trusts.
type Check struct {
	// Keys are PEM public keys; a signature verified by any one of them
	// satisfies the check.
	Keys [][]byte
	// Hash is the signature digest algorithm for Keys (zero: SHA-256).
	Hash crypto.Hash
	// Certificates, when set, accepts signatures made with certificates
	// (keyless, Fulcio-style) it trusts.
	Certificates CertificateTrust
	// Attestations verifies the image's attestations (".att" tag, DSSE
	// envelopes whose in-toto subject must be the image's digest) instead of
	// its signatures. The verified envelopes are returned in
	// Result.Attestations.
	Attestations bool
}

// CertificateTrust configures cosign for certificate-based (keyless)
// verification: trusted roots, expected identities, SCT and transparency
// log requirements. Package trustroot implements it.
type CertificateTrust interface {
	// Apply sets the certificate verification fields of co.
	Apply(co *cosign.CheckOpts) error
	// Fingerprint identifies all trust inputs, for cache keys.
	Fingerprint() string
}

// fingerprint identifies the check for the verdict cache.
func (c Check) fingerprint(keyFingerprint func([]byte) (string, error)) (string, error) {
	var parts []string
	for _, k := range c.Keys {
		fp, err := keyFingerprint(k)
		if err != nil {
			return "", err
		}
		parts = append(parts, "key:"+fp)
	}
	sort.Strings(parts)
	if c.Hash != 0 && c.Hash != crypto.SHA256 {
		parts = append(parts, fmt.Sprintf("hash:%d", c.Hash))
	}
	if c.Certificates != nil {
		parts = append(parts, "certs:"+c.Certificates.Fingerprint())
	}
	if c.Attestations {
		parts = append(parts, "attestations")
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:]), nil
}

// CallOption adjusts one Verify, VerifyPolicies or Resolve call. It is
// imagepolicy's, so that the engine can pass per-call credentials
// without importing this package.
type CallOption = imagepolicy.CallOption

// WithKeychain uses kc for this call's registry requests instead of the
// Verifier's keychain. scope names the credentials (for example
// "namespace/serviceaccount/secret,secret"): concurrent resolutions of one
// reference share a fetch only within a scope, so one caller's missing
// credentials never fail another's request. Verdicts are cached across
// scopes: a signature verdict is a fact about the image, not about who
// asked. It is imagepolicy.WithKeychain.
func WithKeychain(kc authn.Keychain, scope string) CallOption {
	return imagepolicy.WithKeychain(kc, scope)
}
