package keyref

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Key is one public key and its PKIX PEM encoding.
type Key struct {
	Public crypto.PublicKey // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	PEM    []byte           // PEM "PUBLIC KEY" (PKIX), re-encoded
}

// Fingerprint is the hex SHA-256 of the key's PKIX DER encoding.
func (k Key) Fingerprint() string {
	b, _ := pem.Decode(k.PEM)
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}

// ParsePEM parses every PEM block of data as a public key. Text before the
// first block is allowed (as in openssl output); anything else that is not
// a public key block, or non-blank text after the last block, is an error
// wrapping ErrInvalidKey. Messages name block types and positions, never
// contents.
func ParsePEM(data []byte) ([]Key, error) {
	return parse(data, false)
}

// parse decodes public keys from data; firstOnly keeps cosign's behaviour
// of reading only the first PEM block.
func parse(data []byte, firstOnly bool) ([]Key, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("empty: no PEM data")
	}
	var keys []Key
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		k, err := parseBlock(block)
		if err != nil {
			return nil, invalid(fmt.Sprintf("PEM block %d: %s", n, err))
		}
		keys = append(keys, k)
		if firstOnly {
			return keys, nil
		}
	}
	if len(keys) == 0 {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, invalid("malformed PEM (truncated block or bad base64)")
		}
		return nil, invalid("no PEM block found (want -----BEGIN PUBLIC KEY-----)")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, invalid(fmt.Sprintf("unparseable data after PEM block %d (truncated block or stray text)", len(keys)))
	}
	return keys, nil
}

// parseBlock turns one PEM block into a Key, or says what it is instead.
func parseBlock(b *pem.Block) (Key, error) {
	var pub crypto.PublicKey
	var err error
	switch {
	case b.Type == "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(b.Bytes)
	case b.Type == "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
	case strings.Contains(b.Type, "PRIVATE KEY"):
		return Key{}, fmt.Errorf("is a private key (%q): give the public key (e.g. cosign.pub), and keep the private key out of policies", b.Type)
	case b.Type == "CERTIFICATE":
		return Key{}, fmt.Errorf("is a certificate, not a public key: certificates go in keyless/certificate fields, not key fields")
	default:
		return Key{}, fmt.Errorf("type %q is not a public key", b.Type)
	}
	if err != nil {
		return Key{}, fmt.Errorf("%q does not parse: %v", b.Type, err)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
	default:
		return Key{}, fmt.Errorf("unsupported key type %T (want ECDSA, RSA or Ed25519)", pub)
	}
	out, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return Key{}, fmt.Errorf("re-encoding: %v", err)
	}
	return Key{Public: pub, PEM: out}, nil
}

// invalid is an ErrInvalidKey without a source; Load fills it in.
func invalid(msg string) error { return &Error{Kind: ErrInvalidKey, Msg: msg} }
