// Package kyvernoimages evaluates the verifyImages rules of Kyverno
// ClusterPolicy and Policy documents, following Kyverno's semantics: the
// images of a Pod (or pod controller) selected by imageReferences are
// verified against the rule's attestor sets (cosign signatures by static
// keys, secrets, KMS keys or certificates) and attestations (signed in-toto
// statements whose predicates must satisfy conditions); images referenced
// by tag are rewritten to their digest (mutateDigest), and verifyDigest
// fails images left without one.
//
// A Verifier implements engine.ImageRuleVerifier on top of an
// imageverify.Verifier; keys held in Kubernetes Secrets or a KMS and
// certificate (keyless) trust come from injected dependencies.
package kyvernoimages
