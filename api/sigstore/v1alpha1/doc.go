// Package v1alpha1 holds the Go form of sigstore policy-controller's
// policy.sigstore.dev/v1alpha1 ClusterImagePolicy, the older served
// version. Policies written in it are converted to v1beta1 (the shape the
// rest of Portcullis reads) as policy-controller converts them; see
// internal/imagepolicy.
package v1alpha1
