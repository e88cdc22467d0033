package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

type equaler interface{ Equal(crypto.PublicKey) bool }

func pkixPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wantKey checks that k is pub, with canonical PKIX PEM and fingerprint.
func wantKey(t testing.TB, k PublicKey, pub crypto.PublicKey) {
	t.Helper()
	if !pub.(equaler).Equal(k.Public) {
		t.Fatalf("parsed %T is not the original key", k.Public)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}); !bytes.Equal(k.PEM, want) {
		t.Fatalf("PEM not canonical PKIX:\n%s", k.PEM)
	}
	sum := sha256.Sum256(der)
	if k.Fingerprint() != hex.EncodeToString(sum[:]) {
		t.Fatalf("fingerprint %s", k.Fingerprint())
	}
}

func TestParsePublicKeysEveryType(t *testing.T) {
	rs := rsaKey(t)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		note string
		pub  crypto.PublicKey
		pem  []byte
	}{
		{"ecdsa p256", &ecKey(t, elliptic.P256()).PublicKey, nil},
		{"ecdsa p384", &ecKey(t, elliptic.P384()).PublicKey, nil},
		{"ecdsa p521", &ecKey(t, elliptic.P521()).PublicKey, nil},
		{"rsa pkix", &rs.PublicKey, nil},
		{"rsa pkcs1", &rs.PublicKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rs.PublicKey)})},
		{"ed25519", edPub, nil},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			data := c.pem
			if data == nil {
				data = pkixPEM(t, c.pub)
			}
			ks, err := ParsePublicKeys(data)
			if err != nil || len(ks) != 1 {
				t.Fatalf("ParsePublicKeys: %d keys, %v", len(ks), err)
			}
			wantKey(t, ks[0], c.pub)
			k, err := ParsePublicKey(data)
			if err != nil {
				t.Fatal(err)
			}
			wantKey(t, k, c.pub)
		})
	}
}

func TestParsePublicKeysSeveral(t *testing.T) {
	a, b := &ecKey(t, elliptic.P256()).PublicKey, &rsaKey(t).PublicKey
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(b)})
	data := "# team keys\n" + string(pkixPEM(t, a)) + "\nbetween blocks\n" + string(pkcs1) + "\n\n"
	ks, err := ParsePublicKeys([]byte(data))
	if err != nil || len(ks) != 2 {
		t.Fatalf("%d keys, %v", len(ks), err)
	}
	wantKey(t, ks[0], a)
	wantKey(t, ks[1], b)
	if ks[0].Fingerprint() == ks[1].Fingerprint() {
		t.Fatal("two keys, one fingerprint")
	}
	// The first block only; what follows is not read.
	k, err := ParsePublicKey([]byte(data + "trailing text"))
	if err != nil {
		t.Fatal(err)
	}
	wantKey(t, k, a)
}

func TestParsePublicKeysBad(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	pub := pkixPEM(t, &ec.PublicKey)
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := selfSigned(t, "root", nil, nil)
	cases := []struct {
		note string
		data string
		want string
	}{
		{"empty", "", "empty: no PEM data"},
		{"blank", " \n\t", "empty: no PEM data"},
		{"garbage", "this is not a key", "no PEM block found (want -----BEGIN PUBLIC KEY-----)"},
		{"truncated", string(pub[:len(pub)-30]), "malformed PEM"},
		{"bad DER", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", `PEM block 1: "PUBLIC KEY" does not parse`},
		{"trailing text", string(pub) + "oops", "unparseable data after PEM block 1"},
		{"truncated second block", string(pub) + string(pub[:len(pub)-30]), "unparseable data after PEM block 1"},
		{"second block bad", string(pub) + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PEM block 2:"},
		{"private key", string(priv), `PEM block 1: is a private key ("EC PRIVATE KEY")`},
		{"public then private", string(pub) + string(priv), "PEM block 2: is a private key"},
		{"certificate", string(cert), "PEM block 1: is a certificate, not a public key"},
		{"unknown type", "-----BEGIN PGP MESSAGE-----\nZm9v\n-----END PGP MESSAGE-----\n", `PEM block 1: type "PGP MESSAGE" is not a public key`},
		{"p224", string(pkixPEM(t, &ecKey(t, elliptic.P224()).PublicKey)), "unsupported ECDSA curve P-224 (want P-256, P-384 or P-521)"},
		{"x25519", string(pkixPEM(t, x.PublicKey())), "unsupported key type *ecdh.PublicKey"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			ks, err := ParsePublicKeys([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error with %q, got %d keys, %v", c.want, len(ks), err)
			}
			if strings.Contains(err.Error(), "MHcCAQEE") || bytes.Contains([]byte(err.Error()), ecDER[:8]) {
				t.Fatalf("error echoes key material: %v", err)
			}
		})
	}
	// The first block decides for ParsePublicKey.
	for _, c := range []struct{ data, want string }{
		{"", "empty"},
		{"garbage", "no PEM block found"},
		{string(priv) + string(pub), "PEM block 1: is a private key"},
		{string(cert), "is a certificate"},
	} {
		if _, err := ParsePublicKey([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParsePublicKey(%.20q): want %q, got %v", c.data, c.want, err)
		}
	}
}

// selfSigned returns a CA certificate signed by parent (itself when nil).
func selfSigned(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k := ecKey(t, elliptic.P256())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	if parent == nil {
		parent, parentKey = tmpl, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), k
}

func TestParseCertificates(t *testing.T) {
	rootPEM, rootKey := selfSigned(t, "root", nil, nil)
	root, err := ParseCertificates(rootPEM)
	if err != nil || len(root) != 1 || root[0].Subject.CommonName != "root" {
		t.Fatalf("root: %v %v", root, err)
	}
	interPEM, _ := selfSigned(t, "intermediate", root[0], rootKey)
	chain := "subject=CN=intermediate\n" + string(interPEM) + "\n" + string(rootPEM) + "\n"
	certs, err := ParseCertificates([]byte(chain))
	if err != nil || len(certs) != 2 {
		t.Fatalf("chain: %d %v", len(certs), err)
	}
	if certs[0].Subject.CommonName != "intermediate" || certs[1].Subject.CommonName != "root" {
		t.Fatalf("order: %s, %s", certs[0].Subject, certs[1].Subject)
	}
	if err := certs[0].CheckSignatureFrom(certs[1]); err != nil {
		t.Fatal(err)
	}
	pub := pkixPEM(t, &rootKey.PublicKey)
	ecDER, _ := x509.MarshalECPrivateKey(rootKey)
	priv := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	cases := []struct {
		note, data, want string
	}{
		{"empty", "\n\n", "empty: no PEM data"},
		{"garbage", "not a certificate", "no PEM block found (want -----BEGIN CERTIFICATE-----)"},
		{"truncated", string(rootPEM[:len(rootPEM)-40]), "malformed PEM"},
		{"trailing", chain + "junk", "unparseable data after PEM block 2"},
		{"private key", chain + string(priv), `PEM block 3: is a private key ("EC PRIVATE KEY")`},
		{"public key", string(pub), `PEM block 1: is a public key ("PUBLIC KEY"), not a certificate`},
		{"other type", "-----BEGIN X509 CRL-----\nZm9v\n-----END X509 CRL-----\n", `PEM block 1: type "X509 CRL" is not a certificate`},
		{"bad DER", string(rootPEM) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM block 2: certificate does not parse"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			certs, err := ParseCertificates([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want error with %q, got %d certificates, %v", c.want, len(certs), err)
			}
		})
	}
}

func TestCertificatesKeepsGoing(t *testing.T) {
	a, _ := selfSigned(t, "a", nil, nil)
	b, _ := selfSigned(t, "b", nil, nil)
	data := string(a) + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + string(b) + "tail"
	var got []string
	for c, err := range Certificates([]byte(data)) {
		if err != nil {
			got = append(got, "error: "+err.Error())
			continue
		}
		got = append(got, c.Subject.CommonName)
	}
	if len(got) != 4 || got[0] != "a" || !strings.HasPrefix(got[1], "error: PEM block 2:") || got[2] != "b" ||
		!strings.HasPrefix(got[3], "error: unparseable data after PEM block 3") {
		t.Fatalf("%q", got)
	}
	// A consumer that stops early is not called again.
	n := 0
	for range Certificates([]byte(data)) {
		n++
		break
	}
	if n != 1 {
		t.Fatal(n)
	}
	for range Certificates(nil) {
		t.Fatal("no data, no values")
	}
}

func TestSplitPEMAndFirstBlockType(t *testing.T) {
	a, b := pkixPEM(t, &ecKey(t, elliptic.P256()).PublicKey), pkixPEM(t, &ecKey(t, elliptic.P256()).PublicKey)
	got := SplitPEM([]byte("comment\n" + string(a) + "middle\n" + string(b) + "tail"))
	if len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("%q", got)
	}
	if got := SplitPEM([]byte("nothing")); len(got) != 0 {
		t.Fatalf("%q", got)
	}
	cert, _ := selfSigned(t, "c", nil, nil)
	for data, want := range map[string]string{string(a): "PUBLIC KEY", "x\n" + string(cert): "CERTIFICATE", "none": ""} {
		if got := FirstBlockType([]byte(data)); got != want {
			t.Errorf("FirstBlockType = %q, want %q", got, want)
		}
	}
}

func TestParseHash(t *testing.T) {
	for name, want := range map[string]crypto.Hash{"": crypto.SHA256, "sha224": crypto.SHA224, "sha256": crypto.SHA256, "sha384": crypto.SHA384, "sha512": crypto.SHA512} {
		if h, err := ParseHash(name); err != nil || h != want {
			t.Errorf("ParseHash(%q) = %v, %v", name, h, err)
		}
	}
	for _, name := range []string{"md5", "sha1", "SHA256", " sha256", "sha3-256"} {
		if _, err := ParseHash(name); err == nil || !strings.Contains(err.Error(), `unsupported hash algorithm "`+name+`" (want sha224, sha256, sha384 or sha512)`) {
			t.Errorf("ParseHash(%q): %v", name, err)
		}
	}
}

func FuzzParsePublicKeys(f *testing.F) {
	f.Add(pkixPEM(f, &ecKey(f, elliptic.P256()).PublicKey))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := ParsePublicKeys(data)
		if err != nil {
			return
		}
		if len(ks) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, k := range ks {
			again, err := ParsePublicKeys(k.PEM)
			if err != nil || len(again) != 1 || !bytes.Equal(again[0].PEM, k.PEM) || again[0].Fingerprint() != k.Fingerprint() {
				t.Fatalf("re-encoded key does not round-trip: %v", err)
			}
		}
	})
}
