// Package trustroot turns offline keyless (Fulcio-style) trust material and
// a keyless identity policy into cosign verification options.
//
// Trust material comes from a PEM CA bundle (root plus optional
// intermediates, as a ClusterImagePolicy's keyless.ca-cert.data gives it),
// a sigstore trusted_root.json (protobuf-specs TrustedRoot), and PEM public
// keys of Rekor transparency logs and certificate-transparency (CT) logs.
// Load merges them into one sigstore-go TrustedMaterial; New binds that
// material to a Policy (identities, SCT and transparency-log
// requirements) and yields cosign.CheckOpts for the classic OCI signature
// format (.sig and .att tags), with Offline set: nothing is fetched from
// Fulcio, Rekor or TUF.
//
// Everything goes through cosign's TrustedMaterial path (cosign v2.6.5
// prefers it over the legacy RootCerts/RekorPubKeys fields): the leaf
// chains to a trusted CA at its NotBefore time, embedded SCTs are checked
// against the CT logs, and Rekor bundles (SETs) against the Rekor logs,
// each within its validity window. Intermediates come only from the trust
// material: a signature's certificate-chain annotation is not trusted to
// supply them.
//
// Classify sorts a cosign verification error into a Kind (identity
// mismatch, untrusted chain, missing or invalid SCT, transparency log,
// expired certificate, bad signature, ...) so callers can tell them apart.
package trustroot
