// Package engine decides whether one Kubernetes resource satisfies a
// compiled policy.Set, with Kyverno's validate semantics: match/exclude,
// preconditions, pattern, anyPattern, deny, foreach, podSecurity and
// variables, with results pass, fail, warn, error and skip.
//
// The engine never knows where a resource came from (a file, an
// AdmissionReview, an informer) or where its results go; sources build an
// Input and sinks consume []Result.
package engine
