package keys

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"iter"
	"strings"
)

// ParseCertificates parses a PEM certificate chain or bundle: every block
// of data must be a CERTIFICATE that parses. Blank data, data without a
// PEM block and non-blank text after the last block are errors.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	return collect(data, Certificates(data))
}

// Certificates yields the certificate of every PEM block of data, in
// order, or the block's error (the block is not a CERTIFICATE or does not
// parse) and then goes on with the next block; non-blank text after the
// last block (or data without any block) yields a final error. Readers that
// keep what they can, such as a rotation that drops expired CAs, range over
// it and skip errors.
func Certificates(data []byte) iter.Seq2[*x509.Certificate, error] {
	return blocks(data, "CERTIFICATE", parseCertificate)
}

func parseCertificate(b *pem.Block) (*x509.Certificate, error) {
	switch {
	case b.Type == "CERTIFICATE":
	case strings.Contains(b.Type, "PRIVATE KEY"):
		return nil, fmt.Errorf("is a private key (%q): give only certificates, and keep the private key out of policies", b.Type)
	case b.Type == "PUBLIC KEY" || b.Type == "RSA PUBLIC KEY":
		return nil, fmt.Errorf("is a public key (%q), not a certificate", b.Type)
	default:
		return nil, fmt.Errorf("type %q is not a certificate", b.Type)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate does not parse: %w", err)
	}
	return c, nil
}
