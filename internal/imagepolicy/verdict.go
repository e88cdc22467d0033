package imagepolicy

import "github.com/google/go-containerregistry/pkg/authn"

// ImageResult is the verdict for one image against ClusterImagePolicies.
// It is what a verifier of these policies (internal/imageverify) returns
// and what the engine turns into results: declared here, below both, so
// that the engine does not import the verifier (and with it cosign,
// sigstore, OPA and CUE).
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

// CallOption configures one call of a verifier (a verification or a
// resolution).
type CallOption func(*CallOptions)

// CallOptions are the settings CallOptions set. The zero value uses the
// verifier's own registry credentials.
type CallOptions struct {
	// Keychain, when not nil, replaces the verifier's keychain for the
	// call's registry requests.
	Keychain authn.Keychain
	// Scope names the credentials of Keychain (see WithKeychain).
	Scope string
}

// WithKeychain uses kc for this call's registry requests instead of the
// verifier's keychain. scope names the credentials (for example
// "namespace/serviceaccount/secret,secret"): concurrent resolutions of one
// reference share a fetch only within a scope, so one caller's missing
// credentials never fail another's request. Verdicts are cached across
// scopes: a signature verdict is a fact about the image, not about who
// asked.
func WithKeychain(kc authn.Keychain, scope string) CallOption {
	return func(o *CallOptions) { o.Keychain, o.Scope = kc, scope }
}

// ApplyCallOptions returns the settings opts give.
func ApplyCallOptions(opts []CallOption) CallOptions {
	var o CallOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
