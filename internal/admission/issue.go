package admission

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/keys"
)

// Bundle is a self-generated CA and a serving certificate issued by it, in
// PEM, as stored in a Secret shared by several replicas.
type Bundle struct {
	// CA is the CA bundle to publish (the new CA, followed by previous CAs
	// that are still valid during a rotation).
	CA []byte
	// Cert and Key are the serving certificate and its key.
	Cert, Key []byte
	// RenewAt is when the bundle should be replaced (two thirds into the
	// serving certificate's life).
	RenewAt time.Time
}

// IssueBundle creates a new CA and a serving certificate for hosts (DNS
// names or IP addresses) valid for validity (default one year). previousCA
// (PEM, may be empty) is appended to the new bundle while still valid, so
// clients holding the old bundle keep trusting replicas that have not yet
// switched.
func IssueBundle(hosts []string, validity time.Duration, previousCA []byte, now time.Time) (Bundle, error) {
	g, err := newGenerator("", hosts, validity, 0)
	if err != nil {
		return Bundle{}, err
	}
	ca, err := g.newCA(now)
	if err != nil {
		return Bundle{}, err
	}
	g.ca = ca
	// The serving certificate lives as long as asked, within the CA.
	g.caValidity = g.validity
	serving, err := g.newServing(now)
	if err != nil {
		return Bundle{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(serving.key)
	if err != nil {
		return Bundle{}, fmt.Errorf("admission: encode key: %w", err)
	}
	b := Bundle{
		CA:      ca.pem(),
		Cert:    serving.pem(),
		Key:     pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		RenewAt: serving.renewAt(),
	}
	// Keep what can be kept: a block that is not a certificate is dropped
	// like an expired CA.
	for c, err := range keys.Certificates(previousCA) {
		if err == nil && c.NotAfter.After(now) {
			b.CA = append(b.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	return b, nil
}

// BundleRenewAt reads when a stored serving certificate (PEM) should be
// renewed: two thirds into its life. An unreadable certificate is due now.
func BundleRenewAt(certPEM []byte, now time.Time) time.Time {
	for c, err := range keys.Certificates(certPEM) {
		if err != nil {
			return now
		}
		start := c.NotBefore.Add(clockSkew)
		return start.Add(c.NotAfter.Sub(start) * renewNum / renewDen)
	}
	return now
}
