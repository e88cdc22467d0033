// Package policy loads, validates, compiles and indexes every policy kind
// into one Set: Kyverno kyverno.io/v1 ClusterPolicy and Policy,
// ValidatingPolicy, MutatingPolicy (its mutations compiled by
// internal/lang/mutating), ValidatingAdmissionPolicy and
// MutatingAdmissionPolicy with bindings, and sigstore
// ClusterImagePolicy (compiled by internal/imagepolicy, underneath this
// package).
//
// Loading is strict: a malformed policy is refused with an *Error naming
// the file, the policy, the rule and the field, and every problem in a
// file is reported, not just the first. A loaded Set is immutable and safe
// for concurrent use; patterns without variables are compiled once here,
// autogen rules for pod controllers are generated here, and rules are
// indexed by the kinds they can match.
package policy
