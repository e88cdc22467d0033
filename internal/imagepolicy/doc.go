// Package imagepolicy loads and validates sigstore policy-controller
// ClusterImagePolicy documents (policy.sigstore.dev/v1beta1) with the same
// rules as policy-controller's admission webhook, and matches image
// references against their globs.
//
// Problems are reported as *policyerr.Error values (inside
// policyerr.Errors, which internal/policy re-exports), so they print like
// every other policy problem. The package sits below internal/policy,
// which compiles ClusterImagePolicies into its Set through it.
package imagepolicy
