package jmespath

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// rsaKey is how x509_decode renders an RSA public key, as Kyverno does:
// the modulus as a decimal string and the exponent as a number.
type rsaKey struct {
	N string
	E int
}

// x509Decode parses a PEM CERTIFICATE or CERTIFICATE REQUEST with an RSA
// key and returns the Go x509 structure rendered through encoding/json
// (field names as in crypto/x509, e.g. "Subject", "NotAfter",
// "PublicKey": {"N": "...", "E": 65537}).
func x509Decode(s string) (any, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("failed to decode PEM block")
	}
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		pk, ok := cert.PublicKey.(*rsa.PublicKey)
		if cert.PublicKeyAlgorithm != x509.RSA || !ok {
			return nil, errors.New("certificate should use rsa algorithm")
		}
		cert.PublicKey = rsaKey{N: pk.N.String(), E: pk.E}
		return toJSONObject(cert)
	case "CERTIFICATE REQUEST":
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, err
		}
		pk, ok := csr.PublicKey.(*rsa.PublicKey)
		if csr.PublicKeyAlgorithm != x509.RSA || !ok {
			return nil, errors.New("certificate should use rsa algorithm")
		}
		csr.PublicKey = rsaKey{N: pk.N.String(), E: pk.E}
		return toJSONObject(csr)
	}
	return nil, errors.New("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST")
}

func toJSONObject(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding certificate: %w", err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding certificate: %w", err)
	}
	return out, nil
}
