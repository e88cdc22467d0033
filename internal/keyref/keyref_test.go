package keyref

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/regauth"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// keyPair is a real generated key with its public PEM.
type keyPair struct {
	priv   crypto.Signer
	pubPEM []byte
}

func newKey(t testing.TB, kind string) keyPair {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{priv: priv, pubPEM: pubPEM}
}

// wantVerifies checks that k verifies a signature made by kp's private key.
func wantVerifies(t testing.TB, k keys.PublicKey, kp keyPair) {
	t.Helper()
	if err := cryptoutils.EqualKeys(k.Public, kp.priv.Public()); err != nil {
		t.Fatal(err)
	}
	hash := crypto.SHA256
	if _, ok := kp.priv.(ed25519.PrivateKey); ok {
		hash = crypto.Hash(0)
	}
	signer, err := signature.LoadSigner(kp.priv, hash)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("portcullis payload")
	sig, err := signer.SignMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadVerifier(k.Public, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(msg)); err != nil {
		t.Fatalf("loaded key does not verify: %v", err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader([]byte("other"))); err == nil {
		t.Fatal("loaded key verifies a signature over other data")
	}
	der, _ := pem.Decode(k.PEM)
	sum := sha256.Sum256(der.Bytes)
	if k.Fingerprint() != hex.EncodeToString(sum[:]) || der.Type != "PUBLIC KEY" {
		t.Fatalf("PEM/fingerprint: %s %s", der.Type, k.Fingerprint())
	}
}

// wantErr checks the failure class, that the message names the source and
// contains every part, and that it does not echo forbidden text.
func wantErr(t testing.TB, err, kind error, source string, parts ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("want %v, got %v", kind, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Source != source {
		t.Fatalf("want source %q in %#v", source, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("want %q in %q", p, err)
		}
	}
}

func secret(ns, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func TestInlineKeys(t *testing.T) {
	ec, rs, ed := newKey(t, "ecdsa"), newKey(t, "rsa"), newKey(t, "ed25519")
	rsaPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rs.priv.Public().(*rsa.PublicKey))})
	data := "# team keys\n" + string(ec.pubPEM) + "\n" + string(rsaPKCS1) + string(ed.pubPEM) + "\n\n"
	keys, err := Load(context.Background(), nil, Source{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("want 3 keys, got %d", len(keys))
	}
	wantVerifies(t, keys[0], ec)
	wantVerifies(t, keys[1], rs) // PKCS#1 input, PKIX output
	wantVerifies(t, keys[2], ed)
}

func TestBadPEM(t *testing.T) {
	ec := newKey(t, "ecdsa")
	ecPriv, err := x509.MarshalECPrivateKey(ec.priv.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec.priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, ec.priv)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecPriv})
	cases := []struct {
		note  string
		data  string
		parts []string
	}{
		{"garbage", "this is not a key", []string{"no PEM block found"}},
		{"blank", " \n\t", []string{"empty"}},
		{"truncated", string(ec.pubPEM[:len(ec.pubPEM)-30]), []string{"malformed PEM"}},
		{"bad DER", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", []string{"block 1", "does not parse"}},
		{"trailing text", string(ec.pubPEM) + "oops", []string{"after PEM block 1"}},
		{"second block bad", string(ec.pubPEM) + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", []string{"block 2"}},
		{"ec private key", string(ecPEM), []string{"private key", `"EC PRIVATE KEY"`, "cosign.pub"}},
		{"pkcs8 private key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), []string{"private key"}},
		{"cosign encrypted key", "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nZm9v\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n", []string{"private key"}},
		{"public then private", string(ec.pubPEM) + string(ecPEM), []string{"block 2", "private key"}},
		{"certificate", string(cert), []string{"is a certificate"}},
		{"other type", "-----BEGIN OPENSSH PRIVATE KEY-----\nZm9v\n-----END OPENSSH PRIVATE KEY-----\n", []string{"private key"}},
		{"unknown type", "-----BEGIN PGP MESSAGE-----\nZm9v\n-----END PGP MESSAGE-----\n", []string{`"PGP MESSAGE" is not a public key`}},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			_, err := Load(context.Background(), nil, Source{Data: c.data})
			wantErr(t, err, ErrInvalidKey, "inline data", c.parts...)
			if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(ecPriv)[:16]) ||
				strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(pkcs8)[:16]) {
				t.Fatalf("error echoes key material: %v", err)
			}
		})
	}
}

func selfSigned(t testing.TB, priv crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestPolicyControllerSecret(t *testing.T) {
	ec, other := newKey(t, "ecdsa"), newKey(t, "ecdsa")
	cs := fake.NewClientset(
		secret("cosign-system", "one", map[string][]byte{"any-name.pem": append(append([]byte{}, ec.pubPEM...), other.pubPEM...)}),
		secret("cosign-system", "two", map[string][]byte{"a": ec.pubPEM, "b": other.pubPEM}),
		secret("cosign-system", "empty", nil),
		secret("cosign-system", "bad", map[string][]byte{"key": []byte("nope")}),
	)
	r := regauth.ClientsetReader(cs)
	ctx := context.Background()

	keys, err := Load(ctx, r, PolicyControllerSecret("cosign-system", "one"))
	if err != nil || len(keys) != 2 {
		t.Fatalf("one entry with two keys: %d %v", len(keys), err)
	}
	wantVerifies(t, keys[0], ec)
	wantVerifies(t, keys[1], other)

	_, err = Load(ctx, r, PolicyControllerSecret("cosign-system", "two"))
	wantErr(t, err, ErrInvalidKey, "secret cosign-system/two", "2 data entries (a, b)", "exactly one")
	_, err = Load(ctx, r, PolicyControllerSecret("cosign-system", "empty"))
	wantErr(t, err, ErrNotFound, "secret cosign-system/empty", "no data")
	_, err = Load(ctx, r, PolicyControllerSecret("cosign-system", "bad"))
	wantErr(t, err, ErrInvalidKey, "secret cosign-system/bad", `entry "key"`, "no PEM block")
	_, err = Load(ctx, r, PolicyControllerSecret("cosign-system", "absent"))
	wantErr(t, err, ErrNotFound, "secret cosign-system/absent", "does not exist")
	if !apierrors.IsNotFound(err) {
		t.Fatalf("cause not kept: %v", err)
	}
	_, err = Load(ctx, r, PolicyControllerSecret("other-ns", "one"))
	wantErr(t, err, ErrNotFound, "secret other-ns/one")
}

func TestKyvernoSecret(t *testing.T) {
	ec, second := newKey(t, "ecdsa"), newKey(t, "ecdsa")
	// What `cosign generate-key-pair k8s://ns/name` writes, plus a second
	// key in cosign.pub that cosign (and so Kyverno) ignores.
	gen := secret("kyverno", "cosign", map[string][]byte{
		"cosign.pub":      append(append([]byte{}, ec.pubPEM...), second.pubPEM...),
		"cosign.key":      []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nZm9v\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
		"cosign.password": []byte("hunter2"),
	})
	noPub := secret("kyverno", "nopub", map[string][]byte{"key.pem": ec.pubPEM})
	r := SecretReaderFunc(func(_ context.Context, ns, name string) (*corev1.Secret, error) {
		for _, s := range []*corev1.Secret{gen, noPub} {
			if s.Namespace == ns && s.Name == name {
				return s, nil
			}
		}
		return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
	})
	ctx := context.Background()
	keys, err := Load(ctx, r, KyvernoSecret("kyverno", "cosign"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("kyverno secret: %d %v", len(keys), err)
	}
	wantVerifies(t, keys[0], ec)

	src, err := ParseKeyRef("k8s://kyverno/cosign")
	if err != nil {
		t.Fatal(err)
	}
	keys, err = Load(ctx, r, src)
	if err != nil || len(keys) != 1 {
		t.Fatalf("k8s:// reference: %d %v", len(keys), err)
	}
	wantVerifies(t, keys[0], ec)

	_, err = Load(ctx, r, KyvernoSecret("kyverno", "nopub"))
	wantErr(t, err, ErrNotFound, "secret kyverno/nopub entry cosign.pub", `no "cosign.pub" entry (entries: key.pem)`)
	_, err = Load(ctx, r, KyvernoSecret("kyverno", "absent"))
	wantErr(t, err, ErrNotFound, "secret kyverno/absent entry cosign.pub")
	_, err = Load(ctx, nil, KyvernoSecret("kyverno", "cosign"))
	wantErr(t, err, ErrInvalidSource, "secret kyverno/cosign entry cosign.pub", "no secret reader")

	failing := SecretReaderFunc(func(context.Context, string, string) (*corev1.Secret, error) {
		return nil, apierrors.NewForbidden(corev1.Resource("secrets"), "cosign", errors.New("RBAC"))
	})
	_, err = Load(ctx, failing, KyvernoSecret("kyverno", "cosign"))
	wantErr(t, err, ErrUnavailable, "secret kyverno/cosign entry cosign.pub", "forbidden")
	if !apierrors.IsForbidden(err) {
		t.Fatalf("cause not kept: %v", err)
	}
}

func TestFile(t *testing.T) {
	ec := newKey(t, "ecdsa")
	dir := t.TempDir()
	path := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(path, ec.pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, err := ParseKeyRef(path)
	if err != nil || src.File != path {
		t.Fatalf("ParseKeyRef(path) = %+v, %v", src, err)
	}
	keys, err := Load(ctx, nil, src)
	if err != nil || len(keys) != 1 {
		t.Fatalf("file: %d %v", len(keys), err)
	}
	wantVerifies(t, keys[0], ec)

	missing := filepath.Join(dir, "absent.pub")
	_, err = Load(ctx, nil, Source{File: missing})
	wantErr(t, err, ErrNotFound, "file "+missing, "does not exist")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("cause not kept: %v", err)
	}
	_, err = Load(ctx, nil, Source{File: dir})
	wantErr(t, err, ErrUnavailable, "file "+dir)

	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(ctx, nil, Source{File: garbage})
	wantErr(t, err, ErrInvalidKey, "file "+garbage, "no PEM block")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Load(cctx, nil, Source{File: path})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func TestKMSRefused(t *testing.T) {
	for _, ref := range []string{
		"awskms:///arn:aws:kms:us-east-1:111122223333:key/1234abcd",
		"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k",
		"azurekms://vault.vault.azure.net/key",
		"hashivault://transit-key",
		"pkcs11:token=t;object=o",
	} {
		src, err := ParseKeyRef(ref)
		if err != nil || src.KMS != ref {
			t.Fatalf("ParseKeyRef(%q) = %+v, %v", ref, src, err)
		}
		_, err = Load(context.Background(), nil, src)
		wantErr(t, err, ErrUnsupported, "kms "+ref, "KMS and hardware-token keys are not supported")
	}
}

func TestSourceValidation(t *testing.T) {
	ec := newKey(t, "ecdsa")
	cases := []struct {
		note   string
		src    Source
		source string
		part   string
	}{
		{"empty", Source{}, "empty source", "none of"},
		{"two fields", Source{Data: string(ec.pubPEM), File: "/x"}, "inline data", "more than one"},
		{"secret without namespace", Source{Secret: &SecretRef{Name: "k"}}, "secret /k", "namespace and a name"},
		{"kms with another scheme", Source{KMS: "https://example.com/key"}, "kms https://example.com/key", "not a KMS reference"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			_, err := Load(context.Background(), nil, c.src)
			wantErr(t, err, ErrInvalidSource, c.source, c.part)
		})
	}
}

func TestParseKeyRef(t *testing.T) {
	ec := newKey(t, "ecdsa")
	src, err := ParseKeyRef(string(ec.pubPEM))
	if err != nil || src.Data != string(ec.pubPEM) {
		t.Fatalf("inline: %+v %v", src, err)
	}
	src, err = ParseKeyRef("k8s://ns/name")
	if err != nil || *src.Secret != (SecretRef{Namespace: "ns", Name: "name", Entry: CosignPubEntry}) {
		t.Fatalf("k8s: %+v %v", src, err)
	}
	for _, bad := range []string{"k8s://ns", "k8s://ns/a/b", "k8s:///name", "k8s://ns/", ""} {
		if _, err := ParseKeyRef(bad); !errors.Is(err, ErrInvalidSource) {
			t.Fatalf("ParseKeyRef(%q): want ErrInvalidSource, got %v", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	ec := newKey(f, "ecdsa")
	f.Add(ec.pubPEM, false)
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), true)
	f.Add([]byte("garbage"), false)
	f.Fuzz(func(t *testing.T, data []byte, firstOnly bool) {
		out, err := parse(data, firstOnly)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error of another class: %v", err)
			}
			return
		}
		if len(out) == 0 || firstOnly && len(out) != 1 {
			t.Fatalf("%d keys without an error (firstOnly %v)", len(out), firstOnly)
		}
	})
}
