package sigstoretest

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/sigstore/sigstore-go/pkg/root"
)

func TestLeafLooksLikeFulcio(t *testing.T) {
	s := NewStack(t)
	leaf := s.Issue(t, LeafOptions{
		Email:      "dev@example.com",
		Issuer:     "https://issuer.example.com",
		Extensions: []pkix.Extension{RawExtension(OIDGitHubWorkflowRepository, "acme/app")},
	})
	c := leaf.Cert
	if got := c.NotAfter.Sub(c.NotBefore); got != 10*time.Minute {
		t.Errorf("validity %s", got)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning || len(c.EmailAddresses) != 1 {
		t.Errorf("EKU %v SAN %v", c.ExtKeyUsage, c.EmailAddresses)
	}
	exts := map[string][]byte{}
	for _, e := range c.Extensions {
		exts[e.Id.String()] = e.Value
	}
	if string(exts[OIDIssuerV1.String()]) != "https://issuer.example.com" || string(exts[OIDGitHubWorkflowRepository.String()]) != "acme/app" {
		t.Errorf("raw extensions %q", exts)
	}
	var v2 string
	if _, err := asn1.UnmarshalWithParams(exts[OIDIssuerV2.String()], &v2, "utf8"); err != nil || v2 != "https://issuer.example.com" {
		t.Errorf("v2 issuer %q: %v", v2, err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool(s.CA.Root), Intermediates: pool(s.CA.Intermediate), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Errorf("chain: %v", err)
	}
	// The embedded SCT verifies the RFC 6962 way against the CT key.
	chain, err := ctx509.ParseCertificates(append(append([]byte{}, c.Raw...), s.CA.Intermediate.Raw...))
	if err != nil {
		t.Fatal(err)
	}
	if len(chain[0].SCTList.SCTList) != 1 {
		t.Fatalf("%d SCTs", len(chain[0].SCTList.SCTList))
	}
	scts, err := x509util.ParseSCTsFromSCTList(&chain[0].SCTList)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctutil.VerifySCT(&s.CTLog.Key.PublicKey, chain, scts[0], true); err != nil {
		t.Errorf("SCT: %v", err)
	}
	if err := ctutil.VerifySCT(&NewLog(t).Key.PublicKey, chain, scts[0], true); err == nil {
		t.Error("SCT verified with another log's key")
	}
}

func TestTrustedRootRoundTrip(t *testing.T) {
	s := NewStack(t)
	tr, err := root.NewTrustedRootFromPath(s.WriteTrustedRoot(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.FulcioCertificateAuthorities()) != 1 || tr.RekorLogs()[s.Rekor.IDHex()] == nil || tr.CTLogs()[s.CTLog.IDHex()] == nil {
		t.Fatalf("trusted root lost material: %d CAs, rekor %v, ct %v", len(tr.FulcioCertificateAuthorities()), tr.RekorLogs(), tr.CTLogs())
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
