// Package imageverify resolves image tags to digests and verifies cosign
// signatures and in-toto attestations against OCI registries.
package imageverify

import (
	// Placeholders keeping the dependencies pinned until the package is written.
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/sigstore/cosign/v2/pkg/cosign"
)
