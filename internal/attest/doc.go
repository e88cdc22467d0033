// Package attest decodes in-toto attestation statements from cosign DSSE
// envelopes and evaluates predicate policies on them.
//
// Signature checking is not done here: callers pass the payload of an
// attestation that cosign's VerifyImageAttestations has already verified.
// DecodeEnvelope parses and bounds that payload into a Statement, whose
// HasSubjectDigest says whether it is about a given image and whose
// MatchesPredicateType compares its predicate type with the short names
// cosign and sigstore policy-controller accept (see PredicateTypeURL).
//
// Compile turns a policy into a Policy once; Evaluate then decides any
// number of statements, concurrently. Three kinds are supported:
//
//   - "rego": policy-controller's convention. The module is in package
//     sigstore and defines isCompliant, either a boolean or a set of
//     {"result": bool, "error": string, "warning": string} objects. The
//     input is the whole statement. Rego v1 syntax is tried first, then v0.
//   - "cue": policy-controller's convention. The statement must unify with
//     the CUE value, and the result must be concrete.
//   - "cel": a Portcullis extension. A boolean expression over the
//     variables statement, predicate, predicateType and subject.
//
// A policy that does not hold yields a Verdict with Passed false; a policy
// that cannot be evaluated (runtime error, cost limit, cancelled context)
// yields an *EvalError, which callers must treat as a failure.
package attest
