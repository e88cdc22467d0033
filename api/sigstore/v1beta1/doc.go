// Package v1beta1 holds the Go form of sigstore policy-controller's
// policy.sigstore.dev/v1beta1 ClusterImagePolicy: the YAML/JSON shape that
// Portcullis reads. Validation lives in internal/imagepolicy.
package v1beta1
