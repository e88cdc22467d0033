package trustroot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/portcullis/portcullis/internal/testing/sigstoretest"
	"github.com/portcullis/portcullis/internal/trustroot"
)

func privatePEM(t *testing.T) []byte {
	t.Helper()
	k := registrytest.NewKey(t)
	der, err := x509.MarshalECPrivateKey(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func TestLoadRejectsBadInput(t *testing.T) {
	st := sigstoretest.NewStack(t)
	leaf := st.Issue(t, sigstoretest.LeafOptions{Email: subject, Issuer: issuer})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM, err := cryptoutils.MarshalPublicKeyToPEM(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	noCA := filepath.Join(dir, "noca.json")
	trJSON, err := st.TrustedRoot(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// The same root without its certificateAuthorities.
	stripped := bytes.Replace(trJSON, []byte(`"certificateAuthorities"`), []byte(`"timestampAuthorities"`), 1)
	if err := os.WriteFile(noCA, stripped, 0o600); err != nil {
		t.Fatal(err)
	}
	bundle := st.CA.BundlePEM()
	cases := []struct {
		note string
		src  trustroot.Sources
		want string
	}{
		{"garbage", trustroot.Sources{CABundle: []byte("not a certificate")}, "ca bundle: no PEM block found (want -----BEGIN CERTIFICATE-----)"},
		{"garbage after PEM", trustroot.Sources{CABundle: append(append([]byte{}, bundle...), "trailing junk"...)}, "ca bundle: unparseable data after PEM block 2"},
		{"bad DER", trustroot.Sources{CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})}, "ca bundle: PEM block 1: certificate does not parse: x509:"},
		{"no certificates", trustroot.Sources{CABundle: []byte("\n\n")}, "ca bundle: empty: no PEM data"},
		{"private key", trustroot.Sources{CABundle: append(append([]byte{}, bundle...), privatePEM(t)...)}, `ca bundle: PEM block 3: is a private key ("EC PRIVATE KEY"): give only certificates`},
		{"public key as CA", trustroot.Sources{CABundle: st.Rekor.PublicPEM}, `ca bundle: PEM block 1: is a public key ("PUBLIC KEY"), not a certificate`},
		{"leaf in bundle", trustroot.Sources{CABundle: append(append([]byte{}, bundle...), leaf.CertPEM...)}, "ca bundle: certificate 2"},
		{"intermediate only", trustroot.Sources{CABundle: leaf.ChainPEM[:bytes.Index(leaf.ChainPEM, []byte("-----END CERTIFICATE-----"))+len("-----END CERTIFICATE-----\n")]}, "ca bundle: no self-signed root certificate"},
		{"malformed trusted root", trustroot.Sources{TrustedRoot: []byte(`{"mediaType": 7}`)}, "trusted root: malformed trusted root JSON"},
		{"trusted root wrong media type", trustroot.Sources{TrustedRoot: bytes.Replace(trJSON, []byte("version=0.1"), []byte("version=9"), 1)}, "trusted root: malformed trusted root JSON: unsupported TrustedRoot media type"},
		{"trusted root without CA", trustroot.Sources{TrustedRootFile: noCA}, "trusted root " + noCA + ": has no certificateAuthorities"},
		{"trusted root file missing", trustroot.Sources{TrustedRootFile: filepath.Join(dir, "absent.json")}, "cannot read"},
		{"rekor key garbage", trustroot.Sources{CABundle: bundle, RekorKeys: [][]byte{[]byte("xyz")}}, "rekor key 0: no PEM block found"},
		{"rekor key private", trustroot.Sources{CABundle: bundle, RekorKeys: [][]byte{privatePEM(t)}}, `rekor key 0: PEM block 1: is a private key ("EC PRIVATE KEY"): give the public key`},
		{"rekor key twice in one entry", trustroot.Sources{CABundle: bundle, RekorKeys: [][]byte{append(append([]byte{}, st.Rekor.PublicPEM...), st.Rekor.PublicPEM...)}}, "rekor key 0: 2 PEM public keys, want one"},
		{"rekor key with trailing text", trustroot.Sources{CABundle: bundle, RekorKeys: [][]byte{append(append([]byte{}, st.Rekor.PublicPEM...), "junk"...)}}, "rekor key 0: unparseable data after PEM block 1"},
		{"rekor key RSA", trustroot.Sources{CABundle: bundle, RekorKeys: [][]byte{rsaPEM}}, "rekor key 0: *rsa.PublicKey is not an ECDSA key"},
		{"ct key is a certificate", trustroot.Sources{CABundle: bundle, CTLogKeys: [][]byte{st.CTLog.PublicPEM, st.CA.RootPEM()}}, "ct log key 1: PEM block 1: is a certificate, not a public key"},
		{"keys but no CA", trustroot.Sources{RekorKeys: [][]byte{st.Rekor.PublicPEM}}, "no certificate authority"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			m, err := trustroot.Load(context.Background(), c.src)
			if err == nil {
				t.Fatalf("loaded %v; want error %q", m.Fingerprint(), c.want)
			}
			var ie *trustroot.InputError
			if !errors.As(err, &ie) {
				t.Errorf("error %T is not an *InputError: %v", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
	t.Run("RSA CT key is fine", func(t *testing.T) {
		if _, err := trustroot.Load(context.Background(), trustroot.Sources{CABundle: bundle, CTLogKeys: [][]byte{rsaPEM}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := trustroot.Load(c, trustroot.Sources{TrustedRootFile: filepath.Join(dir, "x.json")})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestNewRejectsBadPolicy(t *testing.T) {
	st := sigstoretest.NewStack(t)
	full := load(t, trustroot.Sources{CABundle: st.CA.BundlePEM(), CTLogKeys: [][]byte{st.CTLog.PublicPEM}, RekorKeys: [][]byte{st.Rekor.PublicPEM}})
	caOnly := load(t, trustroot.Sources{CABundle: st.CA.BundlePEM()})
	cases := []struct {
		note string
		m    *trustroot.Material
		p    trustroot.Policy
		want string
	}{
		{"no identities", full, trustroot.Policy{}, "identities: keyless verification needs at least one identity"},
		{"malformed subject regexp", full, trustroot.Policy{Identities: []trustroot.Identity{{Issuer: issuer, SubjectRegExp: "(unclosed"}}}, `identity 0: malformed subjectRegExp "(unclosed": error parsing regexp`},
		{"malformed issuer regexp", full, trustroot.Policy{Identities: []trustroot.Identity{exact()[0], {IssuerRegExp: "[z-a]", Subject: subject}}}, `identity 1: malformed issuerRegExp "[z-a]"`},
		{"issuer twice", full, trustroot.Policy{Identities: []trustroot.Identity{{Issuer: issuer, IssuerRegExp: ".*", Subject: subject}}}, "identity 0: set issuer or issuerRegExp, not both"},
		{"no issuer", full, trustroot.Policy{Identities: []trustroot.Identity{{Subject: subject}}}, "identity 0: missing issuer"},
		{"subject twice", full, trustroot.Policy{Identities: []trustroot.Identity{{Issuer: issuer, Subject: subject, SubjectRegExp: ".*"}}}, "identity 0: set subject or subjectRegExp, not both"},
		{"no subject", full, trustroot.Policy{Identities: []trustroot.Identity{{Issuer: issuer}}}, "identity 0: missing subject"},
		{"SCT without CT key", caOnly, trustroot.Policy{Identities: exact()}, "an SCT is required but no CT log key is trusted"},
		{"tlog required without Rekor key", caOnly, trustroot.Policy{Identities: exact(), InsecureIgnoreSCT: true, Tlog: trustroot.TlogRequire}, "a transparency-log entry is required but no Rekor key is trusted"},
		{"unknown tlog mode", full, trustroot.Policy{Identities: exact(), Tlog: 9}, "unknown tlog mode 9"},
		{"nil material", nil, trustroot.Policy{Identities: exact()}, "material: nil"},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			_, err := trustroot.New(c.m, c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func load(t *testing.T, s trustroot.Sources) *trustroot.Material {
	t.Helper()
	m, err := trustroot.Load(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFingerprint(t *testing.T) {
	st := sigstoretest.NewStack(t)
	other := sigstoretest.NewStack(t)
	base := trustroot.Sources{CABundle: st.CA.BundlePEM(), CTLogKeys: [][]byte{st.CTLog.PublicPEM}, RekorKeys: [][]byte{st.Rekor.PublicPEM}}
	fp := load(t, base).Fingerprint()
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 {
		t.Fatalf("fingerprint %q", fp)
	}
	same := trustroot.Sources{
		// Intermediate first, extra blank lines, root given twice.
		CABundle:  []byte("\n" + string(st.CA.ChainPEM()) + "\n\n" + string(st.CA.RootPEM())),
		CTLogKeys: [][]byte{st.CTLog.PublicPEM},
		RekorKeys: [][]byte{st.Rekor.PublicPEM},
	}
	if got := load(t, same).Fingerprint(); got != fp {
		t.Errorf("reordered PEM changed the fingerprint")
	}
	for note, s := range map[string]trustroot.Sources{
		"another CA":        {CABundle: other.CA.BundlePEM(), CTLogKeys: base.CTLogKeys, RekorKeys: base.RekorKeys},
		"extra rekor key":   {CABundle: base.CABundle, CTLogKeys: base.CTLogKeys, RekorKeys: [][]byte{st.Rekor.PublicPEM, other.Rekor.PublicPEM}},
		"no ct key":         {CABundle: base.CABundle, RekorKeys: base.RekorKeys},
		"ct key as rekor":   {CABundle: base.CABundle, CTLogKeys: base.RekorKeys, RekorKeys: base.CTLogKeys},
		"plus trusted root": {CABundle: base.CABundle, CTLogKeys: base.CTLogKeys, RekorKeys: base.RekorKeys, TrustedRootFile: other.WriteTrustedRoot(t, t.TempDir())},
	} {
		if got := load(t, s).Fingerprint(); got == fp {
			t.Errorf("%s: fingerprint unchanged", note)
		}
	}

	m := load(t, base)
	kf := func(p trustroot.Policy) string {
		k, err := trustroot.New(m, p)
		if err != nil {
			t.Fatal(err)
		}
		return k.Fingerprint()
	}
	a := trustroot.Identity{Issuer: issuer, Subject: subject}
	b := trustroot.Identity{IssuerRegExp: ".*", SubjectRegExp: "@example.com$"}
	ref := kf(trustroot.Policy{Identities: []trustroot.Identity{a, b}})
	if kf(trustroot.Policy{Identities: []trustroot.Identity{b, a}}) != ref {
		t.Error("identity order changed the policy fingerprint")
	}
	for note, p := range map[string]trustroot.Policy{
		"one identity fewer": {Identities: []trustroot.Identity{a}},
		"regexp vs exact":    {Identities: []trustroot.Identity{a, {Issuer: ".*", Subject: "@example.com$"}}},
		"ignore SCT":         {Identities: []trustroot.Identity{a, b}, InsecureIgnoreSCT: true},
		"ignore tlog":        {Identities: []trustroot.Identity{a, b}, Tlog: trustroot.TlogIgnore},
	} {
		if kf(p) == ref {
			t.Errorf("%s: policy fingerprint unchanged", note)
		}
	}
}

func TestApply(t *testing.T) {
	st := sigstoretest.NewStack(t)
	full := load(t, trustroot.Sources{CABundle: st.CA.BundlePEM(), CTLogKeys: [][]byte{st.CTLog.PublicPEM}, RekorKeys: [][]byte{st.Rekor.PublicPEM}})
	noRekor := load(t, trustroot.Sources{CABundle: st.CA.BundlePEM(), CTLogKeys: [][]byte{st.CTLog.PublicPEM}})
	cases := []struct {
		note      string
		m         *trustroot.Material
		p         trustroot.Policy
		wantTlog  bool
		ignoreSCT bool
	}{
		{"auto with rekor", full, trustroot.Policy{Identities: exact()}, true, false},
		{"auto without rekor", noRekor, trustroot.Policy{Identities: exact()}, false, false},
		{"require", full, trustroot.Policy{Identities: exact(), Tlog: trustroot.TlogRequire}, true, false},
		{"ignore", full, trustroot.Policy{Identities: exact(), Tlog: trustroot.TlogIgnore, InsecureIgnoreSCT: true}, false, true},
	}
	for _, c := range cases {
		t.Run(c.note, func(t *testing.T) {
			k, err := trustroot.New(c.m, c.p)
			if err != nil {
				t.Fatal(err)
			}
			co := &cosign.CheckOpts{RootCerts: x509.NewCertPool(), RekorPubKeys: &cosign.TrustedTransparencyLogPubKeys{}, MaxWorkers: 3}
			k.Apply(co, trustroot.Signatures)
			if co.TrustedMaterial == nil || len(co.TrustedMaterial.FulcioCertificateAuthorities()) != 1 || co.RootCerts != nil || co.RekorPubKeys != nil {
				t.Error("trusted material not set exclusively")
			}
			if !co.Offline || co.IgnoreTlog == c.wantTlog || co.IgnoreSCT != c.ignoreSCT || k.RequiresTlog() != c.wantTlog || k.RequiresSCT() == c.ignoreSCT {
				t.Errorf("Offline=%t IgnoreTlog=%t IgnoreSCT=%t", co.Offline, co.IgnoreTlog, co.IgnoreSCT)
			}
			if co.MaxWorkers != 3 {
				t.Error("Apply touched an unrelated field")
			}
			if len(co.Identities) != 1 || co.Identities[0].Issuer != issuer {
				t.Errorf("identities %+v", co.Identities)
			}
			if fmt.Sprintf("%p", co.ClaimVerifier) != fmt.Sprintf("%p", cosign.SimpleClaimVerifier) {
				t.Error("signatures need SimpleClaimVerifier")
			}
			att := k.CheckOpts(trustroot.Attestations)
			if fmt.Sprintf("%p", att.ClaimVerifier) != fmt.Sprintf("%p", cosign.IntotoSubjectClaimVerifier) {
				t.Error("attestations need IntotoSubjectClaimVerifier")
			}
			att.Identities[0].Issuer = "changed"
			if k.CheckOpts(trustroot.Signatures).Identities[0].Issuer != issuer {
				t.Error("CheckOpts shares its identities slice")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want trustroot.Kind
	}{
		{nil, trustroot.KindNone},
		{&cosign.ErrNoSignaturesFound{}, trustroot.KindNoSignatures},
		{fmt.Errorf("wrapped: %w", &cosign.ErrImageTagNotFound{}), trustroot.KindNoSignatures},
		{errors.New("dial tcp: connection refused"), trustroot.KindUnknown},
	} {
		if got := trustroot.Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if trustroot.Kind(99).String() != "unknown" || trustroot.KindTlog.String() != "tlog" || trustroot.TlogRequire.String() != "require" {
		t.Error("String")
	}
}
