package v1

import "encoding/json"

// Image verification types (ImageVerification.Type).
const (
	ImageVerificationCosign         = "Cosign"
	ImageVerificationNotary         = "Notary"
	ImageVerificationSigstoreBundle = "SigstoreBundle"
)

// ImageVerification is one entry of a rule's verifyImages list: the images
// it selects must carry signatures (attestors) and/or signed in-toto
// attestations (attestations) that verify. Verified images referenced by
// tag are rewritten to their digest (MutateDigest).
type ImageVerification struct {
	// FailureAction is Audit or Enforce; when unset the policy's
	// validationFailureAction applies.
	FailureAction *string `json:"failureAction,omitempty"`
	// Type is the verification method: Cosign (default), Notary or
	// SigstoreBundle.
	Type string `json:"type,omitempty"`
	// ImageReferences are the wildcard patterns ('*', '?') of the images
	// the entry applies to, e.g. "ghcr.io/org/*". At least one is required.
	ImageReferences []string `json:"imageReferences,omitempty"`
	// SkipImageReferences are patterns of images that are not verified.
	SkipImageReferences []string `json:"skipImageReferences,omitempty"`
	// Attestors are the signature authorities; every set must verify.
	Attestors []AttestorSet `json:"attestors,omitempty"`
	// Attestations are the signed in-toto statements to check.
	Attestations []Attestation `json:"attestations,omitempty"`
	// Repository is an alternate repository for signatures.
	Repository string `json:"repository,omitempty"`
	// CosignOCI11 enables cosign's experimental OCI 1.1 signature lookup.
	CosignOCI11 bool `json:"cosignOCI11,omitempty"`
	// MutateDigest rewrites image tags to digests; default true.
	MutateDigest *bool `json:"mutateDigest,omitempty"`
	// VerifyDigest requires images to be referenced by digest; default true.
	VerifyDigest *bool `json:"verifyDigest,omitempty"`
	// Required requires images to have been verified; default true.
	Required *bool `json:"required,omitempty"`
	// UseCache caches verification verdicts; default true.
	UseCache *bool `json:"useCache,omitempty"`
	// Validation holds deny conditions checked after the attestations.
	Validation *ValidateImageVerification `json:"validate,omitempty"`
}

// ValidateImageVerification checks conditions across the verified
// attestations and context entries.
type ValidateImageVerification struct {
	Message string `json:"message,omitempty"`
	Deny    *Deny  `json:"deny,omitempty"`
}

// MutateDigestEnabled reports whether tags are rewritten to digests
// (default true).
func (iv *ImageVerification) MutateDigestEnabled() bool { return boolOr(iv.MutateDigest, true) }

// VerifyDigestEnabled reports whether images must carry a digest
// (default true).
func (iv *ImageVerification) VerifyDigestEnabled() bool { return boolOr(iv.VerifyDigest, true) }

// RequiredEnabled reports whether images must be verified (default true).
func (iv *ImageVerification) RequiredEnabled() bool { return boolOr(iv.Required, true) }

// UseCacheEnabled reports whether verdicts may be cached (default true).
func (iv *ImageVerification) UseCacheEnabled() bool { return boolOr(iv.UseCache, true) }

// VerificationType returns Type, or Cosign when unset.
func (iv *ImageVerification) VerificationType() string {
	if iv.Type == "" {
		return ImageVerificationCosign
	}
	return iv.Type
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// AttestorSet is a group of attestors of which Count must verify.
type AttestorSet struct {
	// Count is how many entries must verify; nil means all of them.
	Count *int `json:"count,omitempty"`
	// Entries are the attestors.
	Entries []Attestor `json:"entries,omitempty"`
}

// RequiredCount returns how many entries must verify: Count, or all
// entries when Count is nil or zero (as Kyverno does).
func (as *AttestorSet) RequiredCount() int {
	if as.Count == nil || *as.Count == 0 {
		return len(as.Entries)
	}
	return *as.Count
}

// Attestor is one signature authority: exactly one of Keys, Keyless,
// Certificates and Attestor (a nested AttestorSet) is set.
type Attestor struct {
	Keys         *StaticKeyAttestor   `json:"keys,omitempty"`
	Keyless      *KeylessAttestor     `json:"keyless,omitempty"`
	Certificates *CertificateAttestor `json:"certificates,omitempty"`
	// Attestor is a nested AttestorSet, kept as raw JSON as in Kyverno.
	Attestor json.RawMessage `json:"attestor,omitempty"`
	// Annotations must all be present in the signature payload.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Repository is an alternate repository for this attestor's signatures.
	Repository string `json:"repository,omitempty"`
	// SignatureAlgorithm is the digest of key signatures: sha224, sha256
	// (default), sha384 or sha512.
	SignatureAlgorithm string `json:"signatureAlgorithm,omitempty"`
}

// NestedSet decodes the nested AttestorSet (nil when there is none).
func (a *Attestor) NestedSet() (*AttestorSet, error) {
	if len(a.Attestor) == 0 || string(a.Attestor) == "null" {
		return nil, nil
	}
	var as AttestorSet
	if err := json.Unmarshal(a.Attestor, &as); err != nil {
		return nil, err
	}
	return &as, nil
}

// StaticKeyAttestor verifies signatures with public keys: PEM keys inline
// (several PEM blocks are several attestors), a Secret holding cosign.pub,
// or a KMS key URI.
type StaticKeyAttestor struct {
	PublicKeys string           `json:"publicKeys,omitempty"`
	Secret     *SecretReference `json:"secret,omitempty"`
	KMS        string           `json:"kms,omitempty"`
	// SignatureAlgorithm is deprecated in Kyverno in favour of
	// Attestor.SignatureAlgorithm; either is honoured.
	SignatureAlgorithm string `json:"signatureAlgorithm,omitempty"`
	Rekor              *Rekor `json:"rekor,omitempty"`
	CTLog              *CTLog `json:"ctlog,omitempty"`
}

// SecretReference names a Secret with a cosign.pub key.
type SecretReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// KeylessAttestor verifies Fulcio-style certificate signatures by the
// identity in the certificate.
type KeylessAttestor struct {
	Issuer               string            `json:"issuer,omitempty"`
	IssuerRegExp         string            `json:"issuerRegExp,omitempty"`
	Subject              string            `json:"subject,omitempty"`
	SubjectRegExp        string            `json:"subjectRegExp,omitempty"`
	Roots                string            `json:"roots,omitempty"`
	AdditionalExtensions map[string]string `json:"additionalExtensions,omitempty"`
	Rekor                *Rekor            `json:"rekor,omitempty"`
	CTLog                *CTLog            `json:"ctlog,omitempty"`
}

// CertificateAttestor verifies signatures made with a given certificate
// (and chain).
type CertificateAttestor struct {
	Certificate      string `json:"cert,omitempty"`
	CertificateChain string `json:"certChain,omitempty"`
	Rekor            *Rekor `json:"rekor,omitempty"`
	CTLog            *CTLog `json:"ctlog,omitempty"`
}

// Rekor configures the transparency log.
type Rekor struct {
	URL        string `json:"url,omitempty"`
	PubKey     string `json:"pubkey,omitempty"`
	IgnoreTlog bool   `json:"ignoreTlog,omitempty"`
}

// CTLog configures Signed Certificate Timestamp checks.
type CTLog struct {
	IgnoreSCT    bool   `json:"ignoreSCT,omitempty"`
	PubKey       string `json:"pubkey,omitempty"`
	TSACertChain string `json:"tsaCertChain,omitempty"`
}

// Attestation is a check of the image's signed in-toto statements of one
// predicate type.
type Attestation struct {
	// Name, when set, makes the predicate available as a variable.
	Name string `json:"name,omitempty"`
	// Type is the statement's predicateType.
	Type string `json:"type,omitempty"`
	// PredicateType is Kyverno's deprecated spelling of Type.
	PredicateType string `json:"predicateType,omitempty"`
	// Attestors sign the attestation.
	Attestors []AttestorSet `json:"attestors,omitempty"`
	// Conditions are {any, all} blocks evaluated against each statement's
	// predicate; all blocks must hold.
	Conditions []any `json:"conditions,omitempty"`
}

// PredicateTypeName returns Type, or PredicateType when Type is unset.
func (a *Attestation) PredicateTypeName() string {
	if a.Type != "" {
		return a.Type
	}
	return a.PredicateType
}
