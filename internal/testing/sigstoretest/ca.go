package sigstoretest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

// Fulcio certificate extension OIDs (fulcio docs/oid-info.md).
var (
	// OIDIssuerV1 holds the OIDC issuer as raw bytes (deprecated, but the
	// one cosign v2 reads).
	OIDIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	// OIDIssuerV2 holds the OIDC issuer as a DER UTF8String.
	OIDIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	// OIDGitHubWorkflowTrigger .. OIDGitHubWorkflowRef are the v1 GitHub
	// workflow extensions (raw bytes), which cosign's CertGithubWorkflow*
	// options compare.
	OIDGitHubWorkflowTrigger    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 2}
	OIDGitHubWorkflowSHA        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 3}
	OIDGitHubWorkflowName       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 4}
	OIDGitHubWorkflowRepository = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 5}
	OIDGitHubWorkflowRef        = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 6}
)

// RawExtension is a non-critical extension whose value is s itself, the
// encoding of Fulcio's v1 extensions.
func RawExtension(oid asn1.ObjectIdentifier, s string) pkix.Extension {
	return pkix.Extension{Id: oid, Value: []byte(s)}
}

// CA is a test Fulcio: a self-signed ECDSA P-384 root and an ECDSA P-384
// intermediate that issues leaves, both valid from a day ago for ten
// years.
type CA struct {
	Root, Intermediate       *x509.Certificate
	rootKey, intermediateKey *ecdsa.PrivateKey
}

// NewCA generates a CA.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	rootKey := newKey(tb, elliptic.P384())
	intKey := newKey(tb, elliptic.P384())
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	end := start.Add(10 * 365 * 24 * time.Hour)
	rootTmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "sigstoretest-root", Organization: []string{"sigstoretest"}},
		NotBefore:             start,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	root := create(tb, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	intTmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "sigstoretest-intermediate", Organization: []string{"sigstoretest"}},
		NotBefore:             start,
		NotAfter:              end,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	inter := create(tb, intTmpl, root, &intKey.PublicKey, rootKey)
	return &CA{Root: root, Intermediate: inter, rootKey: rootKey, intermediateKey: intKey}
}

// RootPEM is the root alone.
func (ca *CA) RootPEM() []byte { return certsPEM(ca.Root) }

// BundlePEM is the root followed by the intermediate, a ClusterImagePolicy
// keyless.ca-cert bundle.
func (ca *CA) BundlePEM() []byte { return certsPEM(ca.Root, ca.Intermediate) }

// ChainPEM is the intermediate followed by the root, as cosign stores it
// in a signature's certificate-chain annotation.
func (ca *CA) ChainPEM() []byte { return certsPEM(ca.Intermediate, ca.Root) }

// LeafOptions describe a leaf certificate. Email or URI is the subject.
type LeafOptions struct {
	Email string
	URI   string
	// Issuer is the OIDC issuer written in both Fulcio issuer extensions
	// (omitted when empty).
	Issuer string
	// NotBefore defaults to one minute ago; Validity to ten minutes.
	NotBefore time.Time
	Validity  time.Duration
	// CTLog, if set, logs a precertificate and embeds its SCT.
	CTLog *Log
	// SCTTime is the SCT timestamp (default NotBefore).
	SCTTime time.Time
	// Extensions are added as they are (e.g. RawExtension with the GitHub
	// workflow OIDs).
	Extensions []pkix.Extension
}

// Leaf is a short-lived code-signing certificate and its key.
type Leaf struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	Signer   signature.SignerVerifier
	CertPEM  []byte // the leaf
	ChainPEM []byte // its issuer chain: intermediate, root
}

// Issue makes a Fulcio-like leaf signed by the intermediate: ECDSA P-256
// key, empty subject, critical SAN (email or URI), digitalSignature and
// codeSigning usages, the issuer extensions, and, with CTLog, an
// embedded SCT made the RFC 6962 way (a poisoned precertificate is
// logged, then the final certificate carries the SCT list).
func (ca *CA) Issue(tb testing.TB, o LeafOptions) *Leaf {
	tb.Helper()
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Minute)
	}
	o.NotBefore = o.NotBefore.Truncate(time.Second)
	if o.Validity == 0 {
		o.Validity = 10 * time.Minute
	}
	key := newKey(tb, elliptic.P256())
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotBefore.Add(o.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if o.Email != "" {
		tmpl.EmailAddresses = []string{o.Email}
	}
	if o.URI != "" {
		u, err := url.Parse(o.URI)
		if err != nil {
			tb.Fatalf("leaf URI %q: %v", o.URI, err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	if o.Issuer != "" {
		v2, err := asn1.MarshalWithParams(o.Issuer, "utf8")
		if err != nil {
			tb.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions,
			RawExtension(OIDIssuerV1, o.Issuer),
			pkix.Extension{Id: OIDIssuerV2, Value: v2})
	}
	tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, o.Extensions...)

	var cert *x509.Certificate
	if o.CTLog == nil {
		cert = create(tb, tmpl, ca.Intermediate, &key.PublicKey, ca.intermediateKey)
	} else {
		sctTime := o.SCTTime
		if sctTime.IsZero() {
			sctTime = o.NotBefore
		}
		cert = ca.issueWithSCT(tb, tmpl, &key.PublicKey, o.CTLog, sctTime)
	}
	sv, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	return &Leaf{Cert: cert, Key: key, Signer: sv, CertPEM: certsPEM(cert), ChainPEM: ca.ChainPEM()}
}

func newKey(tb testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func create(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}
