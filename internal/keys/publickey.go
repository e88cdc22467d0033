package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PublicKey is one public key and its canonical PEM encoding.
type PublicKey struct {
	Public crypto.PublicKey // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	PEM    []byte           // PEM "PUBLIC KEY" (PKIX), re-encoded
}

// Fingerprint is the hex SHA-256 of the key's PKIX DER encoding ("" for a
// PublicKey without PEM).
func (k PublicKey) Fingerprint() string {
	b, _ := pem.Decode(k.PEM)
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}

// ParsePublicKeys parses every PEM block of data as a public key, in
// order. Blank data, data without a PEM block, a block that is not a
// supported public key, and non-blank text after the last block are
// errors.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	return collect(data, blocks(data, "PUBLIC KEY", parsePublicKey))
}

// ParsePublicKey parses the first PEM block of data as a public key and
// ignores what follows it, as cosign does with a key file or a Secret's
// cosign.pub.
func ParsePublicKey(data []byte) (PublicKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return PublicKey{}, errors.New("empty: no PEM data")
	}
	for k, err := range blocks(data, "PUBLIC KEY", parsePublicKey) {
		return k, err
	}
	// Unreachable: non-blank data yields a block or an error.
	return PublicKey{}, leftover(data, 0, "PUBLIC KEY")
}

// parsePublicKey turns one PEM block into a PublicKey, or says what the
// block is instead.
func parsePublicKey(b *pem.Block) (PublicKey, error) {
	var pub crypto.PublicKey
	var err error
	switch {
	case b.Type == "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case b.Type == "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case strings.Contains(b.Type, "PRIVATE KEY"):
		return PublicKey{}, fmt.Errorf("is a private key (%q): give the public key (e.g. cosign.pub), and keep the private key out of policies", b.Type)
	case b.Type == "CERTIFICATE":
		return PublicKey{}, errors.New("is a certificate, not a public key: certificates go in keyless/certificate fields, not key fields")
	default:
		return PublicKey{}, fmt.Errorf("type %q is not a public key", b.Type)
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("%q does not parse: %w", b.Type, err)
	}
	if err := supported(pub); err != nil {
		return PublicKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return PublicKey{}, fmt.Errorf("re-encoding: %w", err)
	}
	return PublicKey{Public: pub, PEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, nil
}

// supported refuses key types and curves cosign cannot verify with.
func supported(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("unsupported ECDSA curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	case *rsa.PublicKey, ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported key type %T (want ECDSA, RSA or Ed25519)", pub)
}
