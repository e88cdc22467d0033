package trustroot_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"

	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/portcullis/portcullis/internal/testing/sigstoretest"
	"github.com/portcullis/portcullis/internal/trustroot"
)

const (
	issuer  = "https://issuer.example.com"
	subject = "builder@example.com"
)

// world is one registry, a trusted stack and an untrusted one.
type world struct {
	reg     *registrytest.Registry
	trusted *sigstoretest.Stack
	rogue   *sigstoretest.Stack
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return &world{reg: registrytest.Start(t), trusted: sigstoretest.NewStack(t), rogue: sigstoretest.NewStack(t)}
}

// sources trusts w.trusted's CA bundle, CT log and Rekor log as PEM.
func (w *world) sources() trustroot.Sources {
	return trustroot.Sources{
		CABundle:  w.trusted.CA.BundlePEM(),
		RekorKeys: [][]byte{w.trusted.Rekor.PublicPEM},
		CTLogKeys: [][]byte{w.trusted.CTLog.PublicPEM},
	}
}

func exact() []trustroot.Identity {
	return []trustroot.Identity{{Issuer: issuer, Subject: subject}}
}

func keyless(t *testing.T, s trustroot.Sources, p trustroot.Policy) *trustroot.Keyless {
	t.Helper()
	m, err := trustroot.Load(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	k, err := trustroot.New(m, p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// verify runs cosign against the proxy-side reference of repo@d.
func (w *world) verify(t *testing.T, kind trustroot.Artifact, repo string, d v1.Hash, k *trustroot.Keyless) (bundleVerified bool, err error) {
	t.Helper()
	c := ctx(t)
	ref, perr := name.ParseReference(w.reg.Ref(repo, d.String()), name.Insecure)
	if perr != nil {
		t.Fatal(perr)
	}
	co := k.CheckOpts(kind, ociremote.WithRemoteOptions(remote.WithContext(c)))
	if kind == trustroot.Attestations {
		_, bundleVerified, err = cosign.VerifyImageAttestations(c, ref, co)
	} else {
		_, bundleVerified, err = cosign.VerifyImageSignatures(c, ref, co)
	}
	return bundleVerified, err
}

func expectFail(t *testing.T, err error, kind trustroot.Kind, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("verified; want %s failure", kind)
	}
	if got := trustroot.Classify(err); got != kind {
		t.Errorf("Classify = %s, want %s (err: %v)", got, kind, err)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("error %q does not contain %q", err, text)
	}
}

func TestKeylessSignatures(t *testing.T) {
	w := newWorld(t)
	st, rogue := w.trusted, w.rogue
	now := time.Now()
	good := sigstoretest.LeafOptions{Email: subject, Issuer: issuer}
	withTlog := sigstoretest.WithTlog(st.Rekor, time.Time{})

	type tc struct {
		name    string
		sign    func(t *testing.T, repo string, d v1.Hash) // signs repo@d
		trust   func() trustroot.Sources                   // default w.sources
		policy  trustroot.Policy                           // default exact(), SCT required, TlogAuto
		kind    trustroot.Kind                             // KindNone: must verify
		text    string
		bundled bool // a verified bundle is expected
	}
	signWith := func(o sigstoretest.LeafOptions, issue func(*testing.T, sigstoretest.LeafOptions) *sigstoretest.Leaf, opts ...sigstoretest.SignOption) func(*testing.T, string, v1.Hash) {
		return func(t *testing.T, repo string, d v1.Hash) {
			sigstoretest.SignKeyless(t, w.reg, repo, d, issue(t, o), opts...)
		}
	}
	trustedLeaf := func(t *testing.T, o sigstoretest.LeafOptions) *sigstoretest.Leaf { return st.Issue(t, o) }
	noSCTLeaf := func(t *testing.T, o sigstoretest.LeafOptions) *sigstoretest.Leaf { return st.CA.Issue(t, o) }
	rogueSCTLeaf := func(t *testing.T, o sigstoretest.LeafOptions) *sigstoretest.Leaf {
		o.CTLog = rogue.CTLog
		return st.CA.Issue(t, o)
	}
	rogueCALeaf := func(t *testing.T, o sigstoretest.LeafOptions) *sigstoretest.Leaf {
		o.CTLog = st.CTLog // even with a trusted SCT
		return rogue.CA.Issue(t, o)
	}
	noRekor := func() trustroot.Sources {
		s := w.sources()
		s.RekorKeys = nil
		return s
	}
	expired := good
	expired.NotBefore = now.Add(-time.Hour)
	uriLeaf := sigstoretest.LeafOptions{URI: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com"}

	cases := []tc{
		{name: "exact identity", sign: signWith(good, trustedLeaf, withTlog), bundled: true},
		{name: "subject mismatch", sign: signWith(sigstoretest.LeafOptions{Email: "intruder@example.com", Issuer: issuer}, trustedLeaf, withTlog),
			kind: trustroot.KindIdentity, text: "none of the expected identities matched what was in the certificate, got subjects [intruder@example.com]"},
		{name: "issuer mismatch", sign: signWith(sigstoretest.LeafOptions{Email: subject, Issuer: "https://evil.example.com"}, trustedLeaf, withTlog),
			kind: trustroot.KindIdentity, text: "with issuer https://evil.example.com"},
		{name: "regexp match", sign: signWith(uriLeaf, trustedLeaf, withTlog), bundled: true,
			policy: trustroot.Policy{Identities: []trustroot.Identity{
				{Issuer: issuer, Subject: "nobody@example.com"},
				{IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`, SubjectRegExp: `^https://github\.com/acme/.*@refs/heads/main$`},
			}}},
		{name: "regexp mismatch", sign: signWith(uriLeaf, trustedLeaf, withTlog),
			policy: trustroot.Policy{Identities: []trustroot.Identity{{IssuerRegExp: `^https://token\.actions\.githubusercontent\.com$`, SubjectRegExp: `^https://github\.com/other/`}}},
			kind:   trustroot.KindIdentity, text: "none of the expected identities matched"},
		{name: "untrusted CA", sign: signWith(good, rogueCALeaf, withTlog),
			kind: trustroot.KindUntrustedChain, text: "leaf certificate verification failed"},
		{name: "root-only bundle lacks the intermediate", sign: signWith(good, trustedLeaf, withTlog),
			trust: func() trustroot.Sources { s := w.sources(); s.CABundle = st.CA.RootPEM(); return s },
			kind:  trustroot.KindUntrustedChain, text: "leaf certificate verification failed"},
		{name: "missing SCT", sign: signWith(good, noSCTLeaf, withTlog),
			kind: trustroot.KindMissingSCT, text: "certificate does not include required embedded SCT"},
		{name: "missing SCT with insecureIgnoreSCT", sign: signWith(good, noSCTLeaf, withTlog), bundled: true,
			policy: trustroot.Policy{Identities: exact(), InsecureIgnoreSCT: true}},
		{name: "SCT from unknown CT log", sign: signWith(good, rogueSCTLeaf, withTlog),
			kind: trustroot.KindInvalidSCT, text: "only able to verify 0 SCT entries; unable to meet threshold of 1"},
		{name: "bundle from unknown Rekor", sign: signWith(good, trustedLeaf, sigstoretest.WithTlog(rogue.Rekor, time.Time{})),
			kind: trustroot.KindTlog, text: "rekor log public key not found for payload"},
		{name: "tlog required but no bundle", sign: signWith(good, trustedLeaf),
			kind: trustroot.KindTlog, text: "offline verification failed"},
		{name: "no Rekor key: tlog not checked", sign: signWith(good, trustedLeaf), trust: noRekor},
		{name: "expired leaf without tlog", sign: signWith(expired, trustedLeaf), trust: noRekor,
			kind: trustroot.KindExpired, text: "expected a signed timestamp to verify an expired certificate"},
		{name: "expired leaf logged while valid", sign: signWith(expired, trustedLeaf, sigstoretest.WithTlog(st.Rekor, now.Add(-55*time.Minute))), bundled: true},
		{name: "expired leaf logged after expiry", sign: signWith(expired, trustedLeaf, sigstoretest.WithTlog(st.Rekor, now.Add(-40*time.Minute))),
			kind: trustroot.KindExpired, text: "certificate expired before signatures were entered in log"},
		{name: "trusted_root.json", sign: signWith(good, trustedLeaf, withTlog), bundled: true,
			trust: func() trustroot.Sources {
				return trustroot.Sources{TrustedRootFile: st.WriteTrustedRoot(t, t.TempDir())}
			}},
		{name: "trusted_root.json of another stack", sign: signWith(good, trustedLeaf, sigstoretest.WithTlog(rogue.Rekor, time.Time{})),
			trust: func() trustroot.Sources {
				return trustroot.Sources{TrustedRootFile: rogue.WriteTrustedRoot(t, t.TempDir())}
			},
			kind: trustroot.KindUntrustedChain, text: "leaf certificate verification failed"},
		{name: "tampered payload without tlog", trust: noRekor,
			sign: signWith(good, trustedLeaf, sigstoretest.WithTamper(func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"optional":null`, `"optional":{"tampered":"yes"}`, 1))
			})),
			kind: trustroot.KindSignature, text: "invalid signature"},
		{name: "tampered payload with tlog",
			sign: signWith(good, trustedLeaf, withTlog, sigstoretest.WithTamper(func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"optional":null`, `"optional":{"tampered":"yes"}`, 1))
			})),
			kind: trustroot.KindTlog, text: "matching bundle to payload"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			repo := "sig" + string(rune('a'+i))
			d := w.reg.PushRandom(t, repo, "v1")
			c.sign(t, repo, d)
			src := w.sources()
			if c.trust != nil {
				src = c.trust()
			}
			p := c.policy
			if p.Identities == nil {
				p.Identities = exact()
			}
			bundled, err := w.verify(t, trustroot.Signatures, repo, d, keyless(t, src, p))
			if c.kind == trustroot.KindNone {
				if err != nil {
					t.Fatalf("verify: %v (kind %s)", err, trustroot.Classify(err))
				}
				if bundled != c.bundled {
					t.Errorf("bundleVerified = %t, want %t", bundled, c.bundled)
				}
				return
			}
			expectFail(t, err, c.kind, c.text)
		})
	}

	t.Run("signature for another digest", func(t *testing.T) {
		d1 := w.reg.PushRandom(t, "claims", "one")
		d2 := w.reg.PushRandom(t, "claims", "two")
		sigstoretest.SignKeyless(t, w.reg, "claims", d1, st.Issue(t, good), withTlog)
		w.reg.CopySignatures(t, "claims", d1, d2)
		_, err := w.verify(t, trustroot.Signatures, "claims", d2, keyless(t, w.sources(), trustroot.Policy{Identities: exact()}))
		expectFail(t, err, trustroot.KindClaim, "invalid or missing digest in claim")
	})
	t.Run("unsigned image", func(t *testing.T) {
		d := w.reg.PushRandom(t, "unsigned", "v1")
		_, err := w.verify(t, trustroot.Signatures, "unsigned", d, keyless(t, w.sources(), trustroot.Policy{Identities: exact()}))
		expectFail(t, err, trustroot.KindNoSignatures, "no signatures found")
	})
}

type provenance struct {
	Builder struct {
		ID string `json:"id"`
	} `json:"builder"`
}

// tamperEnvelope rewrites the builder in a DSSE envelope's statement,
// keeping the envelope well-formed.
func tamperEnvelope(t *testing.T) func([]byte) []byte {
	return func(b []byte) []byte {
		var env map[string]any
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		st, err := base64.StdEncoding.DecodeString(env["payload"].(string))
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.Replace(string(st), "ci.example.com", "evil.example.com", 1)
		if forged == string(st) {
			t.Fatal("nothing to tamper with")
		}
		env["payload"] = base64.StdEncoding.EncodeToString([]byte(forged))
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func TestAttestations(t *testing.T) {
	w := newWorld(t)
	st := w.trusted
	const slsa = "https://slsa.dev/provenance/v0.2"
	var pred provenance
	pred.Builder.ID = "https://ci.example.com/builder"
	leaf := func(t *testing.T) *sigstoretest.Leaf {
		return st.Issue(t, sigstoretest.LeafOptions{Email: subject, Issuer: issuer})
	}
	policy := trustroot.Policy{Identities: exact()}

	t.Run("keyless with tlog", func(t *testing.T) {
		d := w.reg.PushRandom(t, "attkeyless", "v1")
		sigstoretest.AttestKeyless(t, w.reg, "attkeyless", d, slsa, pred, leaf(t), sigstoretest.WithTlog(st.Rekor, time.Time{}))
		c := ctx(t)
		ref, _ := name.ParseReference(w.reg.Ref("attkeyless", d.String()), name.Insecure)
		atts, bundled, err := cosign.VerifyImageAttestations(c, ref, keyless(t, w.sources(), policy).CheckOpts(trustroot.Attestations, ociremote.WithRemoteOptions(remote.WithContext(c))))
		if err != nil {
			t.Fatalf("verify: %v (kind %s)", err, trustroot.Classify(err))
		}
		if !bundled || len(atts) != 1 {
			t.Fatalf("bundled=%t attestations=%d", bundled, len(atts))
		}
		ann, err := atts[0].Annotations()
		if err != nil || ann["predicateType"] != slsa {
			t.Errorf("predicateType annotation = %q (%v)", ann["predicateType"], err)
		}
		mt, err := atts[0].MediaType()
		if err != nil || mt != "application/vnd.dsse.envelope.v1+json" {
			t.Errorf("layer media type = %q (%v)", mt, err)
		}
		pl, err := atts[0].Payload()
		if err != nil || !strings.Contains(string(pl), `"payloadType":"application/vnd.in-toto+json"`) {
			t.Errorf("payload is not an in-toto DSSE envelope: %s (%v)", pl, err)
		}
	})
	t.Run("keyless identity mismatch", func(t *testing.T) {
		d := w.reg.PushRandom(t, "attidentity", "v1")
		sigstoretest.AttestKeyless(t, w.reg, "attidentity", d, slsa, pred, st.Issue(t, sigstoretest.LeafOptions{Email: "other@example.com", Issuer: issuer}), sigstoretest.WithTlog(st.Rekor, time.Time{}))
		_, err := w.verify(t, trustroot.Attestations, "attidentity", d, keyless(t, w.sources(), policy))
		expectFail(t, err, trustroot.KindIdentity, "none of the expected identities matched")
	})
	t.Run("keyless tampered", func(t *testing.T) {
		d := w.reg.PushRandom(t, "atttamper", "v1")
		sigstoretest.AttestKeyless(t, w.reg, "atttamper", d, slsa, pred, leaf(t), sigstoretest.WithTamper(tamperEnvelope(t)))
		src := w.sources()
		src.RekorKeys = nil
		_, err := w.verify(t, trustroot.Attestations, "atttamper", d, keyless(t, src, policy))
		expectFail(t, err, trustroot.KindSignature, "accepted signatures do not match threshold")
	})
	t.Run("keyed", func(t *testing.T) {
		key := registrytest.NewKey(t)
		d := w.reg.PushRandom(t, "attkey", "v1")
		sigstoretest.AttestKey(t, w.reg, "attkey", d, slsa, pred, key)
		bad := w.reg.PushRandom(t, "attkey", "v2")
		sigstoretest.AttestKey(t, w.reg, "attkey", bad, slsa, pred, key, sigstoretest.WithTamper(tamperEnvelope(t)))
		c := ctx(t)
		co := &cosign.CheckOpts{
			SigVerifier:        key.Signer,
			ClaimVerifier:      cosign.IntotoSubjectClaimVerifier,
			IgnoreTlog:         true,
			IgnoreSCT:          true,
			Offline:            true,
			RegistryClientOpts: []ociremote.Option{ociremote.WithRemoteOptions(remote.WithContext(c))},
		}
		ref, _ := name.ParseReference(w.reg.Ref("attkey", d.String()), name.Insecure)
		if _, _, err := cosign.VerifyImageAttestations(c, ref, co); err != nil {
			t.Fatalf("keyed attestation: %v", err)
		}
		badRef, _ := name.ParseReference(w.reg.Ref("attkey", bad.String()), name.Insecure)
		_, _, err := cosign.VerifyImageAttestations(c, badRef, co)
		expectFail(t, err, trustroot.KindSignature, "accepted signatures do not match threshold")
	})
}
