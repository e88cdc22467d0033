// Package sigstoretest makes keyless cosign signatures locally, the way
// Fulcio, Rekor and a CT log would, for tests: a test CA (root and
// intermediate) issuing short-lived code-signing leaves with the Fulcio
// issuer extensions and an embedded SCT from a test CT log key, offline
// Rekor bundles signed by a test Rekor key, signatures and DSSE in-toto
// attestations pushed to a registrytest.Registry, and a trusted_root.json
// naming all of it.
//
// It is imported only by tests.
package sigstoretest
