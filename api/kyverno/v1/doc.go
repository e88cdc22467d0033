// Package v1 holds the Go form of Kyverno's kyverno.io/v1 ClusterPolicy and
// Policy resources: the YAML-compatible subset that Portcullis reads.
//
// Free-form fields (patterns, conditions, values) are kept as decoded JSON
// (map[string]any, []any, string, float64, bool, nil); the policy package
// validates and compiles them.
package v1
