package imageverify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/trustroot"
	"github.com/sigstore/cosign/v2/pkg/cosign"
)

// Keyless adapts a trustroot.Keyless (offline trust material bound to
// identities and SCT/tlog requirements) to CertificateTrust.
func Keyless(k *trustroot.Keyless) CertificateTrust { return keylessTrust{k} }

type keylessTrust struct{ k *trustroot.Keyless }

func (t keylessTrust) Apply(co *cosign.CheckOpts) error {
	if t.k == nil {
		return errors.New("no keyless trust configured")
	}
	t.k.Apply(co, trustroot.Signatures)
	return nil
}

func (t keylessTrust) Fingerprint() string { return t.k.Fingerprint() }

// keylessCache holds the trust built for each keyless authority of the
// loaded policies (loading trust material parses certificates and keys: do
// it once per policy, not per admission).
type keylessCache struct {
	mu      sync.Mutex
	entries map[*sigv1.KeylessRef]keylessEntry
}

type keylessEntry struct {
	k   *trustroot.Keyless
	err error
}

// keylessFor builds the certificate trust of a ClusterImagePolicy keyless
// authority: its ca-cert (inline PEM) and/or the trust root its
// trustRootRef names (Options.TrustRoots), its identities, and
// insecureIgnoreSCT. Nothing is fetched: the public Fulcio's trust root
// (TUF) is not reachable offline, so a keyless authority must say which
// roots to trust.
func (v *Verifier) keylessFor(ctx context.Context, a imagepolicy.Authority) (*trustroot.Keyless, error) {
	kl := a.Spec.Keyless
	// A loaded policy never changes: its keyless spec (a pointer into it)
	// identifies the trust, without hashing certificates per admission.
	v.keyless.mu.Lock()
	e, ok := v.keyless.entries[kl]
	v.keyless.mu.Unlock()
	if ok {
		return e.k, e.err
	}
	k, err := v.buildKeyless(ctx, a)
	v.keyless.mu.Lock()
	defer v.keyless.mu.Unlock()
	if v.keyless.entries == nil {
		v.keyless.entries = map[*sigv1.KeylessRef]keylessEntry{}
	}
	if len(v.keyless.entries) > 1000 { // policies come and go
		clear(v.keyless.entries)
	}
	v.keyless.entries[kl] = keylessEntry{k, err}
	return k, err
}

func (v *Verifier) buildKeyless(ctx context.Context, a imagepolicy.Authority) (*trustroot.Keyless, error) {
	kl := a.Spec.Keyless
	ref := kl.TrustRootRef
	if ref == "" && a.Spec.CTLog != nil {
		ref = a.Spec.CTLog.TrustRootRef
	}
	var src trustroot.Sources
	if kl.CACert != nil {
		if kl.CACert.Data == "" {
			return nil, errors.New("ca-cert from a secretRef or KMS is not supported yet: give the PEM in ca-cert.data")
		}
		src.CABundle = []byte(kl.CACert.Data)
	}
	if ref != "" {
		root, ok := v.opts.TrustRoots[ref]
		if !ok {
			return nil, fmt.Errorf("trustRootRef %q: no such trust root is configured (portcullis --trust-root %s=FILE)", ref, ref)
		}
		src.TrustedRoot = root
	}
	if src.CABundle == nil && src.TrustedRoot == nil {
		return nil, fmt.Errorf("keyless against %s needs the public sigstore trust root, which is not reachable offline: set keyless.ca-cert or keyless.trustRootRef", kl.URL)
	}
	pol := trustroot.Policy{InsecureIgnoreSCT: kl.InsecureIgnoreSCT != nil && *kl.InsecureIgnoreSCT}
	for _, id := range kl.Identities {
		pol.Identities = append(pol.Identities, trustroot.Identity{Issuer: id.Issuer, Subject: id.Subject,
			IssuerRegExp: id.IssuerRegExp, SubjectRegExp: id.SubjectRegExp})
	}
	m, err := trustroot.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	return trustroot.New(m, pol)
}

// certificateReason words why certificate-based verification failed.
func certificateReason(err error) string {
	switch trustroot.Classify(err) {
	case trustroot.KindIdentity:
		return "no signature's certificate matches the expected identities (issuer/subject)"
	case trustroot.KindUntrustedChain:
		return "no signature's certificate chains to a trusted root"
	case trustroot.KindMissingSCT:
		return "the signing certificate has no SCT (certificate-transparency proof)"
	case trustroot.KindInvalidSCT:
		return "the signing certificate's SCT is not from a trusted CT log"
	case trustroot.KindTlog:
		return "no verifiable transparency-log entry for the signature"
	case trustroot.KindExpired:
		return "the signing certificate expired and nothing proves it signed while valid"
	}
	return ""
}
