// Package v1 holds the Go form of Kyverno's policies.kyverno.io
// ValidatingPolicy, MutatingPolicy and GeneratingPolicy (served as
// v1alpha1, v1beta1 and v1, which share this shape for the fields
// Portcullis reads).
package v1
