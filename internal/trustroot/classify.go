package trustroot

import (
	"errors"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
)

// Kind is the class of a keyless verification failure.
type Kind int

const (
	// KindNone: no error.
	KindNone Kind = iota
	// KindUnknown: an error Classify does not recognize (registry,
	// context, ...).
	KindUnknown
	// KindNoSignatures: the image has no signatures or attestations.
	KindNoSignatures
	// KindIdentity: the certificate's issuer/subject matched no identity.
	KindIdentity
	// KindUntrustedChain: the certificate does not chain to a trusted CA
	// (or lacks the code-signing usage).
	KindUntrustedChain
	// KindMissingSCT: an SCT is required and the certificate has none.
	KindMissingSCT
	// KindInvalidSCT: the SCT is not from a trusted CT log or does not
	// verify.
	KindInvalidSCT
	// KindTlog: the transparency-log bundle is missing, from an untrusted
	// Rekor log, or does not match the signature.
	KindTlog
	// KindExpired: the certificate was not valid when the signature was
	// made (or, without a tlog, is not valid now).
	KindExpired
	// KindSignature: the signature does not verify with the certificate
	// or key.
	KindSignature
	// KindClaim: the signed payload is for another image digest.
	KindClaim
)

var kindNames = [...]string{"none", "unknown", "no-signatures", "identity-mismatch", "untrusted-chain", "missing-sct", "invalid-sct", "tlog", "expired", "bad-signature", "claim-mismatch"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// patterns maps cosign v2.6.5 / sigstore-go error texts to kinds, most
// specific first. cosign joins the errors of all signatures into one
// message, so the first pattern found (in this order) wins.
var patterns = []struct {
	kind Kind
	text string
}{
	{KindIdentity, "none of the expected identities matched"},
	{KindUntrustedChain, "leaf certificate verification failed"},
	{KindUntrustedChain, "cert verification failed"},
	{KindMissingSCT, "does not include required embedded SCT"},
	{KindInvalidSCT, "SCT entries; unable to meet threshold"},
	{KindInvalidSCT, "ctfe public key not found"},
	{KindTlog, "error verifying bundle"},
	{KindTlog, "offline verification failed"},
	{KindTlog, "rekor client not provided"},
	{KindExpired, "expected a signed timestamp to verify an expired certificate"},
	{KindExpired, "checking expiry on certificate"},
	{KindClaim, "no matching subject digest found"},
	{KindClaim, "invalid or missing digest in claim"},
	{KindSignature, "invalid signature when validating ASN.1 encoded signature"},
	{KindSignature, "failed to verify signature"},
	{KindSignature, "accepted signatures do not match threshold"}, // DSSE
	{KindSignature, "unable to base64 decode payload"},
	{KindSignature, "signature in bundle does not match"},
	{KindNoSignatures, "no signatures found"},
}

// Classify sorts an error from cosign.VerifyImageSignatures or
// VerifyImageAttestations (run with CheckOpts from Keyless) into a Kind.
func Classify(err error) Kind {
	if err == nil {
		return KindNone
	}
	var noSigs *cosign.ErrNoSignaturesFound
	var noTag *cosign.ErrImageTagNotFound
	if errors.As(err, &noSigs) || errors.As(err, &noTag) {
		return KindNoSignatures
	}
	msg := err.Error()
	for _, p := range patterns {
		if strings.Contains(msg, p.text) {
			return p.kind
		}
	}
	return KindUnknown
}
