// Package jmespath evaluates JMESPath expressions the way Kyverno does: it is
// built on Kyverno's fork of go-jmespath (github.com/kyverno/go-jmespath) and
// registers Kyverno's custom function library (string helpers, regex and
// wildcard matching, quantity/duration-aware arithmetic, time helpers,
// parse_json/parse_yaml, lookup/items/object_from_lists, x509_decode,
// image_normalize, random, semver_compare, ...) on top of the standard
// JMESPath builtins.
//
// # Data model
//
// Inputs are JSON-like Go values as produced by encoding/json: map[string]any,
// []any, string, float64, bool and nil. Custom functions accept any Go
// numeric type (int, int64, float32, json.Number, ...) as a number, but the
// standard builtins and the comparison operators of the underlying library
// only recognise float64. Callers holding data with other numeric types should
// convert it once with [Normalize] before searching. Inputs are never
// mutated.
//
// # Missing fields (important for variable substitution)
//
// The fork reports a missing object key with a typed error instead of null.
// Exactly:
//
//   - A field lookup on an object that lacks the key fails with the fork's
//     NotFoundError, whose message is `Unknown key "<key>" in path`. Use
//     [IsNotFound] to detect it and [MissingKey] to get the key. This error
//     propagates through sub-expressions and index expressions, so
//     `a.b.c` fails when a or b (or c) is absent from an object.
//   - A field lookup on anything that is not an object (null, a string, a
//     number, an array) yields null without error. So `a.b` where a is null
//     or a string returns nil, nil.
//   - The error is swallowed (the missing value becomes null) inside function
//     arguments, comparisons (==, !=, <, ...), `||`, `&&`, `!`, pipes
//     (`a | b` never fails with NotFoundError, even if b is missing),
//     multi-select lists/hashes, projections (`a[*].b`, `a[].b`, `*.b`) and
//     filters (`a[?b == 'x']`). Example: `missing || 'default'` returns
//     "default", and `length(missing)` fails with a type error (null is not a
//     string/array/object) rather than with NotFoundError.
//   - An out-of-range array index yields null without error.
//
// Kyverno's variable substitution turns a top-level NotFoundError into a
// "variable not resolved" failure; the engine should do the same.
//
// # Errors
//
// Custom function errors follow Kyverno's wording and are prefixed with
// "JMESPath function '<name>': ". Builtin arity and type errors come from the
// library unchanged. Panics inside the library (it has a few on exotic
// inputs) are recovered and returned as errors.
package jmespath
