// Package keys reads the PEM material of signature verification: public
// keys, certificate chains, and the names of signature hash algorithms. It
// is the one implementation for every policy format (Kyverno verifyImages,
// sigstore ClusterImagePolicy, trust roots, key files and Secrets) and
// imports nothing of Portcullis, so every layer can use it.
//
// Public keys are accepted as cosign accepts them: "PUBLIC KEY" (PKIX) and
// "RSA PUBLIC KEY" (PKCS#1) blocks holding an ECDSA (P-256, P-384, P-521),
// RSA or Ed25519 key. They are returned with a canonical PKIX PEM encoding
// and a fingerprint, so callers can compare and cache them.
//
// Readers are strict unless their name says otherwise: text before the
// first PEM block is allowed (as in openssl output), but a block of the
// wrong type, a block that does not parse, or non-blank text after the
// last block is an error. Error messages name block types and positions
// (counted from 1), never the data itself, so they are safe to log.
package keys
