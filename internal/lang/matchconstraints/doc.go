// Package matchconstraints decides whether a request falls under the
// matchConstraints of a ValidatingAdmissionPolicy or a Kyverno
// ValidatingPolicy (admissionregistration.k8s.io/v1 MatchResources):
// resource rules with operations, exclusions, namespace and object
// selectors, evaluated as the API server does.
package matchconstraints
