// Package cel compiles and evaluates CEL expressions with the environment
// and libraries the Kubernetes API server uses, plus Kyverno's CEL
// libraries, for validate.cel rules, ValidatingPolicy and
// ValidatingAdmissionPolicy.
//
// A Compiler builds each CEL environment once (environment.MustBaseEnvSet
// of the configured Kubernetes version, StoredExpressions by default,
// extended with the admission variables) and compiles a Spec into an
// immutable Program. A Program is evaluated any number of times,
// concurrently, with Match and Validate; nothing is compiled on that path.
//
// Semantics follow the API server's ValidatingAdmissionPolicy plugin:
//
//   - validations and match conditions must be typed bool, message
//     expressions string, audit annotation values string or null, exactly
//     (a dyn result such as `object.spec.enabled` is a compile error);
//   - variables are compiled once, in order, each typed by its output and
//     visible only to later expressions; they are evaluated lazily and at
//     most once per Match or Validate call;
//   - each expression has a runtime cost limit (PerCallLimit) and each call
//     a total budget; exceeding the first is an Error outcome ("cost limit
//     exceeded"), the second aborts the call with ErrOutOfBudget;
//     expressions whose estimated minimum cost already exceeds the limit are
//     rejected at compile time;
//   - a failing validation's message is the messageExpression result, else
//     message, else "failed expression: <expr>"; its reason defaults to
//     "Invalid".
//
// Objects are decoded JSON; see ToValue for how numbers become CEL ints.
package cel
