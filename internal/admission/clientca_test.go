package admission

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// testClientCA is a CA and a client certificate it issued.
type testClientCA struct {
	caPEM  []byte
	client tls.Certificate
}

func newClientCA(t *testing.T, name string) testClientCA {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testClientCA{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		client: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// TestServerClientCA: with ClientCAFile only clients presenting a
// certificate of that CA get an answer; without a certificate, or with one
// of another CA, the handshake fails before any request is read.
func TestServerClientCA(t *testing.T) {
	t.Parallel()
	apiserver, stranger := newClientCA(t, "apiserver"), newClientCA(t, "stranger")
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	if err := os.WriteFile(caFile, apiserver.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	s, err := NewServer(h, ServerOptions{Addr: "127.0.0.1:0", DNSNames: []string{"127.0.0.1"}, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, s)
	roots := certPool(t, s.CABundle())
	do := func(certs []tls.Certificate) (int, error) {
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12}}}
		defer c.CloseIdleConnections()
		body := strings.NewReader(string(reviewBody(t, reviewReq{kind: "Pod", namespace: "ns", name: "p", object: compliantPod})))
		resp, err := c.Post("https://"+s.Addr().String()+PathValidate, "application/json", body)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := do([]tls.Certificate{apiserver.client}); err != nil || code != http.StatusOK {
		t.Fatalf("with the API server's certificate: %d %v", code, err)
	}
	if code, err := do(nil); err == nil {
		t.Errorf("without a client certificate: HTTP %d, want a failed handshake", code)
	}
	if code, err := do([]tls.Certificate{stranger.client}); err == nil {
		t.Errorf("with another CA's certificate: HTTP %d, want a failed handshake", code)
	}

	for name, content := range map[string]string{"missing": "", "garbage": "not pem"} {
		f := filepath.Join(t.TempDir(), name)
		if content != "" {
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := NewServer(h, ServerOptions{Addr: "127.0.0.1:0", ClientCAFile: f}); err == nil || !strings.Contains(err.Error(), "client CA file") {
			t.Errorf("%s client CA file: %v", name, err)
		}
	}
}
