// Package imageverify resolves image tags to digests and verifies cosign
// signatures against OCI registries.
//
// This first slice verifies key-based cosign signatures (the
// "sha256-<digest>.sig" tag layout) with a PEM public key. Transparency-log
// and certificate checks are not done: VerifyKey sets cosign's IgnoreTlog
// and IgnoreSCT because no Rekor or CT log is reachable from the cluster.
//
// A Verifier caches verdicts per (repository, digest, key fingerprint),
// deduplicates concurrent verifications of one image, and bounds every
// registry call by the caller's context (the admission deadline).
//
// A registry fault (unreachable, no answer, 429, 5xx) is remembered per
// repository for a few seconds (Options.FaultTTL), so the next caller (the
// /validate call after /mutate, another replica of a rollout) fails at once
// with the same message instead of waiting again; see faultMemory for why
// this is shared by every caller and what is never remembered.
//
// Failures are reported with typed errors (ErrNoSignatures, ErrSignatureMismatch,
// ErrRegistry, ErrNotFound) for errors.Is.
package imageverify
