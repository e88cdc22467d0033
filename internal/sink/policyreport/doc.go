// Package policyreport turns engine results into wgpolicyk8s.io/v1alpha2
// PolicyReports (one per namespace, split into numbered reports past a size
// bound) and ClusterPolicyReports (cluster-scoped resources), and writes
// them through the API server only when their content changed.
//
// Reports stay small: by default only failures, warnings and errors are
// listed, while the summary counts every result; a listed result's
// timestamp is when its resource's results last changed, so re-evaluating
// an unchanged cluster rewrites nothing.
package policyreport
