// Package conditions evaluates Kyverno condition operators, as used in rule
// preconditions and in validate.deny.conditions, with Kyverno's exact (and
// sometimes surprising) semantics.
//
// The caller substitutes variables first: Key and Value arrive as plain
// JSON-like values (string, float64, bool, nil, []any, map[string]any). Any
// Go integer type, float32 and json.Number are accepted too and are treated
// as float64, which is what Kyverno sees after its JSON round trip of every
// condition. Inputs are never mutated.
//
// Operators (Kyverno's ConditionOperators):
//
//   - Equals, NotEquals (and the deprecated aliases Equal, NotEqual): typed
//     comparison. String keys try, in order, a duration comparison ("1h"
//     equals "60m", and a duration string equals a number of seconds), a
//     resource.Quantity comparison ("1Gi" equals "1024Mi"; a number value is
//     read as a quantity too) and finally a wildcard match of the key against
//     the value used as a '*'/'?' pattern. Numbers compare numerically with
//     numbers or numeric strings; maps and lists compare deeply. NotEquals is
//     true on a type mismatch; Equals is false.
//   - GreaterThan, GreaterThanOrEquals, LessThan, LessThanOrEquals: durations,
//     then quantities (both strings), then numbers (numeric strings accepted),
//     then semantic versions ("1.10.0" > "1.9.3").
//   - DurationGreaterThan, DurationGreaterThanOrEquals, DurationLessThan,
//     DurationLessThanOrEquals (deprecated): Go durations, numbers read as
//     seconds.
//   - AnyIn, AllIn, AnyNotIn, AllNotIn and the deprecated In, NotIn: set
//     membership. Scalar keys are formatted like Go's fmt.Sprint (so 1e6 is
//     "1e+06"), lists of keys are compared element by element, and the value
//     may be a list, a single string (matched as a wildcard pattern), a string
//     holding a JSON array of strings ('["a","b"]'), or for the Any/All forms a
//     numeric range string such as "1-10" or "0.5Gi-2Gi". Wildcards work in
//     both directions between keys and list values.
//
// Operator names are matched case-insensitively by Evaluate, as Kyverno does,
// but the comparison operators only ever hold when spelled in Kyverno's exact
// case (Kyverno compares them case-sensitively internally); ValidOperator
// accepts exactly Kyverno's spellings.
package conditions
