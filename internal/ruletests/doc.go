// Package ruletests knows the on-disk layout of the rule tests of a
// Kubescape control library (rules/<rule>/test/<case>/ with input/,
// data.json, expected.json and expected-filter.json), so that a command
// can recognise such a directory without linking the library's runtime
// (internal/kubescape, which brings OPA): the offline build says it
// cannot run them instead of looking for kyverno-test.yaml files there.
package ruletests
