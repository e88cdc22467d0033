// Package controls holds Portcullis' built-in control library: Kyverno
// kyverno.io/v1 ClusterPolicy documents embedded in the binary and used by
// `portcullis scan` when the user gives no policy of their own.
//
// The library is split into named sets, each a directory of the embedded
// tree:
//
//   - "pss-baseline": the eleven controls of the Kubernetes Pod Security
//     Standards baseline profile (control IDs PSS-B-01 … PSS-B-11);
//   - "pss-restricted": the six additional controls of the restricted
//     profile (PSS-R-01 … PSS-R-06);
//   - "runbook": operational best practices (RUNBOOK-01 …);
//   - "hardening": the RBAC, service-account, secret and namespace controls
//     of the NSA/CISA Kubernetes Hardening Guide and the CIS Kubernetes
//     Benchmark's section 5 (PC-0001 …): cluster-admin bindings, wildcard
//     roles, secret access, pod creation, token automount, the default
//     service account, secrets in environment variables, the default
//     namespace, a NetworkPolicy per namespace (PC-0009, a ValidatingPolicy
//     using resource.List).
//
// Catalog describes the library as a posture.Catalog: each control's ID,
// title, severity, description and remediation (portcullis.dev/remediation)
// from its annotations, and the built-in frameworks of frameworks.yaml
// ("nsa", "cis") mapping to control IDs, so `portcullis scan --framework
// nsa` works without a Kubescape library.
//
// Every policy lives in its own directory, <set>/<policy>/<policy>.yaml, next
// to a `kyverno test` suite in <set>/<policy>/.kyverno-test/ (a
// kyverno-test.yaml manifest and the resources it refers to). Every rule
// of the Pod Security and runbook sets matches the Pod kind only and relies
// on Kyverno auto-generation to cover Pod controllers (the hardening set's
// RBAC rules match Roles, ClusterRoles and bindings, and its namespace rule
// pod controllers themselves), so the suites expect results for Deployments under the
// rule name "autogen-<rule>" and for CronJobs under "autogen-cronjob-<rule>".
//
// Each policy carries the annotations policies.kyverno.io/title,
// policies.kyverno.io/category, policies.kyverno.io/severity (low, medium or
// high), policies.kyverno.io/subject (Pod), policies.kyverno.io/description
// and portcullis.dev/control-id.
//
// The package only exposes the raw files; parsing and evaluating them is the
// engine's job. All functions are safe for concurrent use.
package controls
