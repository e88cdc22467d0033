// Package pattern implements the matcher behind Kyverno's validate.pattern,
// validate.anyPattern and foreach[*].pattern: the overlay-style "pattern
// language" with its anchors, operators, wildcards, quantities and durations.
//
// The semantics follow Kyverno's engine (pkg/engine/validate,
// pkg/engine/pattern, pkg/engine/anchor, pkg/engine/operator and
// pkg/engine/wildcards), including its quirks, so that a rule ends as pass,
// fail, skip or error exactly as it does in Kyverno:
//
//   - A map pattern requires every key to match. An array pattern whose first
//     element is a map applies that map to every resource element (the other
//     pattern elements are ignored, as in Kyverno); a first element that is a
//     scalar applies that scalar to every resource element; any other array
//     pattern is compared position by position.
//   - String patterns support '*' and '?' wildcards, '|' (or) and '&' (and),
//     the operators '!', '<', '>', '<=', '>=' and the ranges "a-b" and
//     "a!-b", and compare Go durations ("30m") and Kubernetes quantities
//     ("1Gi" equals "1024Mi") numerically.
//   - Key anchors: conditional "(key)", equality "=(key)", existence
//     "^(key)", negation "X(key)" and global "<(key)". The mutation-only
//     add-if-not-present anchor "+(key)" is accepted and ignored.
//
// Variables ("{{ ... }}") must be substituted by the caller before
// compiling; a leftover variable is matched literally.
//
// Typical use compiles a pattern once with Compile and calls
// (*Pattern).Validate for every resource. A nil result means the resource
// matches; otherwise the error is a *Error that carries the Kyverno-style
// path of the failing field, a message and whether the rule must be
// skipped. Check performs the stricter load-time syntax check on a raw
// policy pattern.
package pattern
