package admission

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/internal/keys"
)

// requireClientCerts makes cfg demand a client certificate signed by one of
// the CAs in the PEM file caFile.
func requireClientCerts(cfg *tls.Config, caFile string) error {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("admission: client CA file: %w", err)
	}
	certs, err := keys.ParseCertificates(data)
	if err != nil {
		return fmt.Errorf("admission: client CA file %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return nil
}
