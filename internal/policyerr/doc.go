// Package policyerr holds the error types of policy loading: Error (one
// problem, located by file, document, policy, rule and field) and Errors
// (every problem of one load). It sits below every policy loader
// (internal/policy, internal/imagepolicy) so they report problems alike
// without importing each other; internal/policy re-exports the types.
package policyerr
