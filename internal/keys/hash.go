package keys

import (
	"crypto"
	"fmt"
)

// ParseHash returns the signature digest named by name: "sha224",
// "sha256", "sha384" or "sha512", exactly as cosign and Kyverno spell
// them; "" is the default, SHA-256. Callers that accept other spellings
// (policy-controller ignores case and surrounding space) normalise first.
func ParseHash(name string) (crypto.Hash, error) {
	switch name {
	case "", "sha256":
		return crypto.SHA256, nil
	case "sha224":
		return crypto.SHA224, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unsupported hash algorithm %q (want sha224, sha256, sha384 or sha512)", name)
}
