// Package kyvernotest runs Kyverno CLI test suites: cli.kyverno.io/v1alpha1
// Test files with their policies, resources, values (variables), userinfo
// and context files, and reports each expected result the way
// `kyverno test` counts them (one test per result entry and resource).
package kyvernotest
