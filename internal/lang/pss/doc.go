// Package pss implements the body of a Kyverno `validate.podSecurity` rule:
// evaluating a Pod (or the pod template of a pod controller) against a Pod
// Security Standards level and version, then removing the violations that the
// rule's `exclude` list exempts.
//
// The verdict, reason and detail of every check come from the official checks
// in k8s.io/pod-security-admission (policy.DefaultChecks). On top of them the
// package enumerates the individual offending fields (path, offending values,
// container) of every failed check, mirroring the field errors of Kyverno's
// fork of that module, because Kyverno's exclusions operate on those field
// errors.
//
// Kyverno semantics reproduced on purpose (see Compile and Evaluate):
//
//   - level "baseline" runs only baseline checks; "restricted" and
//     "privileged" both run every check (Kyverno does not special-case
//     "privileged").
//   - version "latest" (or empty) runs the newest variant of each check; an
//     explicit "v1.N" runs every variant whose minimum version is <= v1.N, so
//     a check may be reported once per applicable variant.
//   - overrides between checks (for example restrictedVolumes over
//     hostPathVolumes) are not applied: both are reported.
//   - an exclusion without images is evaluated on a copy of the pod whose
//     containers are replaced by one empty container named "fake"; an exclusion
//     with images is evaluated on a pod holding only the containers whose image
//     matches. Each field error of that evaluation, for a check belonging to the
//     exclusion's control, whose normalised path (every digit run replaced by
//     "*") equals restrictedField (or any path when restrictedField is empty)
//     and whose offending values all match one of the value patterns, removes
//     one matching field error from the real result. A check whose field errors
//     are all removed no longer fails.
//   - for a CronJob the pod metadata is read from spec.jobTemplate.metadata.
//
// The package is safe for concurrent use: a Checker is immutable once built.
package pss
