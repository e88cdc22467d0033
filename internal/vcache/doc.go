// Package vcache owns the signed verification cache: the record of an
// image-policy verdict that the mutating webhook writes as an annotation
// (Annotation) on the pod template of a pod controller, so that the
// objects created from it (ReplicaSets, Jobs, Pods) are admitted without
// asking the registry again.
//
// A Record binds everything the verdict depended on: the namespace, every
// image reference with its verified digest, the identity and content hash
// of every image policy applied, the result per image and policy
// (warnings included), the time of verification and an expiry. Seal
// encodes it and signs it with the current key of a KeySet; Open checks
// the signature with the current key or a previous key still inside its
// overlap window and decodes it; Check decides whether an opened record
// may stand in for registry verification of a child object, or says why
// not (Reason). Nothing here trusts the annotation's content before its
// signature verified, and a record that fails any check is worthless: the
// caller verifies from the registry as if there were none.
//
// Signatures are HMAC-SHA256. The signer and the only verifier are the
// same program (every replica of the webhook, sharing the key through a
// Secret), so no one needs a public key; HMAC is the cheapest of the
// standard choices (well under a microsecond per record, against tens of
// microseconds for Ed25519 verification) and its 32-byte tag keeps the
// annotation short. The package does no I/O: key storage (a Kubernetes
// Secret) belongs to the caller, which uses MarshalKeySet/ParseKeySet.
package vcache
