// Package imageref parses container image references, once, into a Ref
// that answers every view the policy languages need.
//
// The parse is go-containerregistry's name.ParseReference (weak validation,
// Docker Hub as "index.docker.io", implicit "library/" namespace, default tag
// "latest", a tag next to a digest dropped), the implementation the field
// uses and the one Kyverno's CEL image library calls. Ref keeps the
// components as written besides, so the other conventions are accessors on
// the same value:
//
//   - Registry, Repository, Tag, Digest, Identifier and Name: the
//     go-containerregistry view (CEL's parseImageReference() accessors, and
//     Name is the normalized form ClusterImagePolicy globs match against);
//   - Info: what Kyverno's `images` variable shows for the reference
//     (registry defaulting to docker.io, "library/" on single-component
//     paths, tag defaulting to latest, reference, referenceWithTag), whose
//     Reference is also the result of the JMESPath image_normalize function.
//
// Kyverno computes its `images` variable and image_normalize with
// github.com/distribution/reference instead of go-containerregistry, whose
// grammar differs in both directions; the Kyverno option applies that
// grammar (see Kyverno for the cases). Digests are checked by
// github.com/opencontainers/go-digest in both grammars.
package imageref
