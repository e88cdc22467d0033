// Package imagepolicy loads and validates sigstore policy-controller
// ClusterImagePolicy documents (policy.sigstore.dev/v1beta1) with the same
// rules as policy-controller's admission webhook, and matches image
// references against their globs.
//
// Problems are reported as *policy.Error values (inside policy.Errors), so
// they print like every other policy problem.
package imagepolicy
