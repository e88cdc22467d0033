// Package imagepolicy loads and validates sigstore policy-controller
// ClusterImagePolicy documents (policy.sigstore.dev/v1beta1) with the same
// rules as policy-controller's admission webhook, and matches image
// references against their globs.
//
// Problems are reported as *policyerr.Error values (inside
// policyerr.Errors, which internal/policy re-exports), so they print like
// every other policy problem. The package sits below internal/policy,
// which compiles ClusterImagePolicies into its Set through it.
//
// Attestation policies (Rego, CUE, CEL) are compiled at load by the
// AttestationCompiler given in Options (attest.Check), so that this
// package does not link OPA and CUE. It also declares the verdict of a
// ClusterImagePolicy verification (ImageResult, PolicyResult) and the
// per-call options (CallOption): internal/engine takes them from its
// verifier and internal/imageverify returns them, without the engine
// importing the verifier.
package imagepolicy
