package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Version and APIVersion of the resources in this package.
const (
	Version    = "v1alpha1"
	APIVersion = "policy.sigstore.dev/" + Version
)

// ClusterImagePolicy is a policy.sigstore.dev/v1alpha1 ClusterImagePolicy.
type ClusterImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ClusterImagePolicySpec `json:"spec"`
	// Status is ignored (present on exported objects).
	Status map[string]any `json:"status,omitempty"`
}

// ClusterImagePolicySpec is the body of a v1alpha1 ClusterImagePolicy.
type ClusterImagePolicySpec struct {
	Images      []ImagePattern  `json:"images"`
	Authorities []Authority     `json:"authorities,omitempty"`
	Policy      *Policy         `json:"policy,omitempty"`
	Mode        string          `json:"mode,omitempty"`
	Match       []MatchResource `json:"match,omitempty"`
}

// ImagePattern is one image glob.
type ImagePattern struct {
	Glob string `json:"glob"`
}

// Authority is one way to admit an image: key, keyless or static.
type Authority struct {
	Name             string            `json:"name,omitempty"`
	Key              *KeyRef           `json:"key,omitempty"`
	Keyless          *KeylessRef       `json:"keyless,omitempty"`
	Static           *StaticRef        `json:"static,omitempty"`
	Sources          []Source          `json:"source,omitempty"`
	CTLog            *TLog             `json:"ctlog,omitempty"`
	Attestations     []Attestation     `json:"attestations,omitempty"`
	RFC3161Timestamp *RFC3161Timestamp `json:"rfc3161timestamp,omitempty"`
}

// KeyRef is a public key: inline, in a Secret or in a KMS.
type KeyRef struct {
	SecretRef     *SecretReference `json:"secretRef,omitempty"`
	Data          string           `json:"data,omitempty"`
	KMS           string           `json:"kms,omitempty"`
	HashAlgorithm string           `json:"hashAlgorithm,omitempty"`
}

// SecretReference names a Secret.
type SecretReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// StaticRef admits or refuses without verification.
type StaticRef struct {
	Action string `json:"action"`
}

// Source is where signatures are pulled from.
type Source struct {
	OCI                  string                 `json:"oci,omitempty"`
	SignaturePullSecrets []LocalObjectReference `json:"signaturePullSecrets,omitempty"`
}

// TLog is a transparency log.
type TLog struct {
	URL          string `json:"url,omitempty"`
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// RFC3161Timestamp names the trust root of timestamp authorities.
type RFC3161Timestamp struct {
	TrustRootRef string `json:"trustRootRef,omitempty"`
}

// KeylessRef is keyless (Fulcio) verification.
type KeylessRef struct {
	URL          string     `json:"url,omitempty"`
	Identities   []Identity `json:"identities,omitempty"`
	CACert       *KeyRef    `json:"ca-cert,omitempty"`
	TrustRootRef string     `json:"trustRootRef,omitempty"`
}

// Identity is a keyless certificate identity.
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	Subject       string `json:"subject,omitempty"`
	IssuerRegExp  string `json:"issuerRegExp,omitempty"`
	SubjectRegExp string `json:"subjectRegExp,omitempty"`
}

// Attestation is an attestation to verify, with an optional policy.
type Attestation struct {
	Name          string  `json:"name"`
	PredicateType string  `json:"predicateType"`
	Policy        *Policy `json:"policy,omitempty"`
}

// Policy is a CUE, Rego or CEL policy, inline, remote or in a ConfigMap.
type Policy struct {
	Type              string              `json:"type"`
	Data              string              `json:"data,omitempty"`
	URL               string              `json:"url,omitempty"`
	ConfigMapRef      *ConfigMapReference `json:"configMapRef,omitempty"`
	FetchConfigFile   *bool               `json:"fetchConfigFile,omitempty"`
	IncludeSpec       *bool               `json:"includeSpec,omitempty"`
	IncludeObjectMeta *bool               `json:"includeObjectMeta,omitempty"`
	IncludeTypeMeta   *bool               `json:"includeTypeMeta,omitempty"`
}

// ConfigMapReference names a ConfigMap key.
type ConfigMapReference struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key,omitempty"`
}

// MatchResource selects the resources a policy applies to.
type MatchResource struct {
	Group    string                `json:"group,omitempty"`
	Version  string                `json:"version,omitempty"`
	Resource string                `json:"resource,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}
