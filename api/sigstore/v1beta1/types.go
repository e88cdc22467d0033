package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group, version and kind of the resource in this package.
const (
	Group                  = "policy.sigstore.dev"
	Version                = "v1beta1"
	APIVersion             = Group + "/" + Version
	KindClusterImagePolicy = "ClusterImagePolicy"
)

// Values of Spec.Mode.
const (
	ModeEnforce = "enforce"
	ModeWarn    = "warn"
)

// Values of StaticRef.Action.
const (
	StaticActionPass = "pass"
	StaticActionFail = "fail"
)

// Values of Policy.Type.
const (
	PolicyTypeCue  = "cue"
	PolicyTypeRego = "rego"
	// PolicyTypeCEL is a Portcullis extension for attestation policies: a
	// boolean CEL expression over statement, predicate, predicateType and
	// subject.
	PolicyTypeCEL = "cel"
)

// ClusterImagePolicy selects images by glob and lists the authorities
// (keys, keyless identities, static verdicts) that must vouch for them.
type ClusterImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ClusterImagePolicySpec `json:"spec"`
	// Status is kept opaque: policies exported from a cluster carry it,
	// Portcullis never reads it.
	Status map[string]any `json:"status,omitempty"`
}

// ClusterImagePolicySpec is the body of a ClusterImagePolicy.
type ClusterImagePolicySpec struct {
	// Images are the glob patterns of the image references the policy covers.
	Images []ImagePattern `json:"images"`
	// Authorities verify signatures or attestations; an image passes when
	// any one of them is satisfied.
	Authorities []Authority `json:"authorities,omitempty"`
	// Policy is evaluated over the results of the authorities that passed.
	Policy *Policy `json:"policy,omitempty"`
	// Mode is "enforce" (default: reject) or "warn" (admit with a warning).
	Mode string `json:"mode,omitempty"`
	// Match restricts the kinds of resources (and their labels) the policy
	// applies to.
	Match []MatchResource `json:"match,omitempty"`
}

// ImagePattern is one image glob.
type ImagePattern struct {
	Glob string `json:"glob"`
}

// Authority is one way of vouching for an image: exactly one of Key,
// Keyless or Static (RFC3161Timestamp may stand alone or accompany Key /
// Keyless).
type Authority struct {
	// Name identifies the authority; it defaults to "authority-<index>".
	Name             string            `json:"name,omitempty"`
	Key              *KeyRef           `json:"key,omitempty"`
	Keyless          *KeylessRef       `json:"keyless,omitempty"`
	Static           *StaticRef        `json:"static,omitempty"`
	Sources          []Source          `json:"source,omitempty"`
	CTLog            *TLog             `json:"ctlog,omitempty"`
	Attestations     []Attestation     `json:"attestations,omitempty"`
	RFC3161Timestamp *RFC3161Timestamp `json:"rfc3161timestamp,omitempty"`
	// SignatureFormat is "legacy" (default) or "bundle".
	SignatureFormat string `json:"signatureFormat,omitempty"`
}

// KeyRef names a public key: exactly one of SecretRef, Data or KMS.
type KeyRef struct {
	SecretRef *SecretReference `json:"secretRef,omitempty"`
	// Data is an inline PEM public key.
	Data string `json:"data,omitempty"`
	// KMS is a key URI: awskms://, gcpkms://, azurekms:// or hashivault://.
	KMS string `json:"kms,omitempty"`
	// HashAlgorithm is sha224, sha256 (default), sha384 or sha512.
	HashAlgorithm string `json:"hashAlgorithm,omitempty"`
}

// SecretReference points at a Secret holding a key.
type SecretReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// KeylessRef verifies Fulcio-issued certificates against identities.
type KeylessRef struct {
	// URL of the Fulcio instance; defaults to https://fulcio.sigstore.dev
	// when CACert is not set either.
	URL        string     `json:"url,omitempty"`
	Identities []Identity `json:"identities"`
	// CACert is a CA certificate instead of a Fulcio URL.
	CACert            *KeyRef `json:"ca-cert,omitempty"`
	TrustRootRef      string  `json:"trustRootRef,omitempty"`
	InsecureIgnoreSCT *bool   `json:"insecureIgnoreSCT,omitempty"`
}

// Identity is an accepted certificate issuer and subject, each either
// exact or a regular expression.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	Subject       string `json:"subject,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

// StaticRef is a fixed verdict for matching images.
type StaticRef struct {
	// Action is "pass" or "fail".
	Action string `json:"action"`
	// Message is reported for "fail".
	Message string `json:"message,omitempty"`
}

// Source is where signatures and attestations are stored.
type Source struct {
	OCI                  string                 `json:"oci,omitempty"`
	SignaturePullSecrets []LocalObjectReference `json:"signaturePullSecrets,omitempty"`
	TagPrefix            *string                `json:"tagPrefix,omitempty"`
}

// TLog is a transparency log (Rekor). An empty TLog disables tlog checks.
type TLog struct {
	URL          string `json:"url,omitempty"`
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// RFC3161Timestamp verifies signature timestamps with a TSA.
type RFC3161Timestamp struct {
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// Attestation is an in-toto attestation to verify, with an optional
// policy over its predicate.
type Attestation struct {
	Name string `json:"name"`
	// PredicateType is custom, slsaprovenance, spdx, spdxjson, cyclonedx,
	// link, vuln, or a predicate type URL.
	PredicateType string  `json:"predicateType"`
	Policy        *Policy `json:"policy,omitempty"`
}

// Policy is a CUE or Rego policy, inline (Data), in a ConfigMap or remote.
type Policy struct {
	Type         string              `json:"type"`
	Data         string              `json:"data,omitempty"`
	Remote       *RemotePolicy       `json:"remote,omitempty"`
	ConfigMapRef *ConfigMapReference `json:"configMapRef,omitempty"`
	// The following are only allowed on spec.policy.
	FetchConfigFile   *bool `json:"fetchConfigFile,omitempty"`
	IncludeSpec       *bool `json:"includeSpec,omitempty"`
	IncludeObjectMeta *bool `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   *bool `json:"includeTypeMeta,omitempty"`
}

// RemotePolicy is a policy fetched over HTTP(S).
type RemotePolicy struct {
	URL       string `json:"url,omitempty"`
	Sha256sum string `json:"sha256sum,omitempty"`
}

// ConfigMapReference is a key of a ConfigMap holding a policy.
type ConfigMapReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key,omitempty"`
}

// MatchResource selects resources by group/version/resource and labels.
type MatchResource struct {
	Group    string                `json:"group,omitempty"`
	Version  string                `json:"version,omitempty"`
	Resource string                `json:"resource,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// EffectiveMode is Spec.Mode with its default applied.
func (s *ClusterImagePolicySpec) EffectiveMode() string {
	if s.Mode == "" {
		return ModeEnforce
	}
	return s.Mode
}
