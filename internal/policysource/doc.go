// Package policysource keeps the current policy.Set in step with the
// policies stored in a cluster: it watches the ClusterPolicy and Policy
// custom resources (Portcullis's own group by default, or kyverno.io), and
// optionally sigstore ClusterImagePolicies, the kyverno.io PolicyExceptions
// of the allowed exceptions namespaces and the policies.kyverno.io CEL
// kinds (ValidatingPolicy, MutatingPolicy, GeneratingPolicy and their
// PolicyException) whose CRDs are installed, and recompiles the set (all of
// them, with policy.Compile) whenever one changes, swapping it atomically so
// admission requests always see one consistent set.
package policysource
