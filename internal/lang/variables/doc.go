// Package variables implements Kyverno's variable substitution and the JSON
// evaluation context that variables resolve against.
//
// A [Context] holds the document that `{{ ... }}` expressions are evaluated
// against ("request", "images", "element", "serviceAccountName", values added
// with [Context.Set], ...). Expressions are JMESPath and are evaluated by a
// caller-supplied [Searcher], so this package does not depend on a particular
// JMESPath function library.
//
// [Substitute] walks a JSON-like document (map[string]any, []any, string,
// numbers, bool, nil) and replaces every variable in strings and map keys,
// following the semantics of Kyverno's SubstituteAll:
//
//   - A string that is exactly one `{{expr}}` is replaced by the typed
//     result (number, bool, map, list, null). Otherwise each result is
//     spliced into the string: strings verbatim, everything else as JSON.
//   - Nested variables (`{{ a.{{b}} }}`) are resolved innermost first, and
//     results containing variables are expanded again.
//   - `\{{ ... }}` is an escaped variable; the backslash is removed and the
//     braces are kept literally.
//   - `{{@}}` resolves to the resource value at the same path as the
//     document element (see [SubstituteAt]).
//   - For DELETE requests, "request.object" in an expression is read from
//     "request.oldObject".
//   - `$(path)` references to other fields of the same document are
//     resolved before variables, as Kyverno does for patterns.
//
// An expression that cannot be resolved (a missing key, a syntax error) is
// reported as a *[SubstitutionError]. Kyverno's preconditions mode
// ([SubstituteConditions]) behaves the same way in current Kyverno releases.
package variables
