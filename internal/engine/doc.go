// Package engine evaluates one Kubernetes resource against a compiled
// policy.Set and decides on the results. Every policy kind goes through
// the one Evaluate call and comes out as Result values: Kyverno validate
// rules (pattern, anyPattern, deny, foreach, podSecurity, cel) and
// verifyImages rules with Kyverno's semantics (match/exclude,
// preconditions, variables), ValidatingPolicy, ValidatingAdmissionPolicy
// with its bindings, and sigstore ClusterImagePolicy (images of Pods and
// pod templates verified through an ImagePolicyVerifier, tags pinned to
// digests in PhaseMutate). Statuses are pass, fail, warn, error and skip.
// Image verdicts established earlier (Input.Verified, a VerifiedImages)
// stand in for the registry where they answer; the engine does not know
// where they come from.
//
// Decide turns the results of one resource into a Decision (allowed or
// denied with Kyverno's wording, warnings, events, patches, which failure
// policy applies to an error); DecideFailed is the decision when
// evaluation could not run. Admission, verify and later a background
// controller use the same functions.
//
// The engine never knows where a resource came from (a file, an
// AdmissionReview, an informer) or where its results go; sources build an
// Input and sinks consume []Result. It imports languages (internal/lang)
// and policy below it, never a source or sink.
package engine
