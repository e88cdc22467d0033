// Package keyref loads the public keys that cosign signatures are verified
// with, from where policies say they are: inline PEM, a Kubernetes Secret,
// a file, or cosign's "k8s://namespace/name" reference. KMS references are
// recognised and refused with ErrUnsupported (no cloud credentials here).
//
// Secrets follow the semantics of the policy engine that names them:
//
//   - sigstore policy-controller (ClusterImagePolicy key.secretRef): the
//     Secret must hold exactly one data entry, of any name, whose value is
//     one or more PEM public keys. policy-controller always reads the
//     Secret from its own namespace; callers pass that namespace.
//   - Kyverno (verifyImages keys.secret) and cosign's k8s://ns/name: the
//     key is the "cosign.pub" entry (other entries such as cosign.key and
//     cosign.password, which `cosign generate-key-pair k8s://...` writes,
//     are ignored); like cosign, only the first PEM block is used.
//
// Only public keys are accepted ("PUBLIC KEY", PKIX; "RSA PUBLIC KEY",
// PKCS#1, as cosign accepts): a certificate or a private key given as a key
// is an ErrInvalidKey naming what it is, as neither policy-controller's key
// data nor Kyverno's keys take certificates (both have separate fields for
// them). PEM is read by package keys: every key is a keys.PublicKey with
// its canonical PKIX PEM and fingerprint.
//
// A Scope confines what a policy may name (LoadScoped): a namespaced Kyverno
// Policy reads Secrets of its own namespace only, and files are read only
// where the user passed them (scan, verify, test), never for policies
// loaded from the cluster, whose authors must not choose files of the
// webhook's file system.
//
// Errors are *Error values naming the source (never its contents) and
// matching one of ErrNotFound, ErrInvalidKey, ErrUnsupported,
// ErrInvalidSource, ErrUnavailable or ErrForbidden with errors.Is.
package keyref
