// Package mutating applies the mutations of a native
// MutatingAdmissionPolicy (admissionregistration.k8s.io) or a Kyverno
// MutatingPolicy (policies.kyverno.io) to an object, as the API server's
// mutating admission policy plugin does.
//
// A Program is compiled once (Compile) from the policy's variables, match
// conditions and mutations, in internal/lang/cel's environment (the API
// server's, or Kyverno's for a MutatingPolicy) extended with the mutation
// types Object and JSONPatch and the jsonpatch library. Apply runs the
// mutations in order, each seeing the object as the previous one left it
// (and its own fresh evaluation of the variables):
//
//   - JSONPatch: the expression's list of JSONPatch values becomes an
//     RFC 6902 patch applied with the API server's JSON-patch library; a
//     failing "test" operation leaves the object unchanged;
//   - ApplyConfiguration: the Object value is merged into the object with
//     structured merge diff (k8s.io/apiserver's ApplyStructuredMergeDiff),
//     typed by the object's schema: the built-in kinds' schemas from
//     client-go, and a deduced schema (maps merged, lists atomic) for
//     other kinds; an apply configuration that sets an atomic list, map or
//     struct is refused, as in the API server (with Spec.ServerSideApply,
//     Kyverno's useServerSideApply, it replaces them instead).
//
// Each expression evaluation is cost-bounded (internal/lang/cel's per-call
// limit and runtime budget). Objects are decoded JSON; the patched object
// is decoded JSON again (numbers float64).
package mutating
