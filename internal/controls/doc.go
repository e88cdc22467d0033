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
//   - "runbook": operational best practices (RUNBOOK-01 …).
//
// Every policy lives in its own directory, <set>/<policy>/<policy>.yaml, next
// to a `kyverno test` suite in <set>/<policy>/.kyverno-test/ (a
// kyverno-test.yaml manifest and the resources it refers to). Every rule
// matches the Pod kind only and relies on Kyverno auto-generation to cover
// Pod controllers, so the suites expect results for Deployments under the
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
