// Package v1alpha2 holds the Go form of the Kubernetes Policy Working
// Group's report resources, wgpolicyk8s.io/v1alpha2 PolicyReport
// (namespaced) and ClusterPolicyReport (cluster scoped), as Kyverno,
// Kubescape and Policy Reporter read and write them. Portcullis writes them
// from the background controller; the CRDs ship in the Helm chart's crds/
// directory.
package v1alpha2
