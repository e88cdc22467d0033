package trustroot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

// Identity is one accepted signer: an OIDC issuer and a certificate
// subject (SAN email or URI), each exact or a regular expression
// (ClusterImagePolicy identities[], Kyverno keyless attestors). As in
// cosign and sigstore policy-controller, a regular expression is
// unanchored: write ^...$ to match the whole value.
type Identity struct {
	Issuer        string
	Subject       string
	IssuerRegExp  string
	SubjectRegExp string
}

// TlogMode says whether a transparency-log entry is required.
type TlogMode int

const (
	// TlogAuto, the default, follows sigstore policy-controller: an
	// offline Rekor bundle is required when the trust material has a Rekor
	// log key, and the tlog is not checked when it has none (a certificate
	// then must still be valid now, since nothing proves when it signed).
	TlogAuto TlogMode = iota
	// TlogRequire demands a verified Rekor bundle on every signature; New
	// fails when no Rekor key is trusted.
	TlogRequire
	// TlogIgnore skips the transparency log even when Rekor keys are
	// known.
	TlogIgnore
)

func (m TlogMode) String() string {
	switch m {
	case TlogAuto:
		return "auto"
	case TlogRequire:
		return "require"
	case TlogIgnore:
		return "ignore"
	}
	return fmt.Sprintf("TlogMode(%d)", int(m))
}

// Policy is the keyless policy of one authority.
type Policy struct {
	// Identities: a certificate must match at least one. Required.
	Identities []Identity
	// InsecureIgnoreSCT turns off the embedded-SCT requirement
	// (ClusterImagePolicy insecureIgnoreSCT). By default an SCT from a
	// trusted CT log is required, so New fails without a CT log key.
	InsecureIgnoreSCT bool
	// Tlog is the transparency-log requirement (default TlogAuto).
	Tlog TlogMode
}

// Artifact selects the claim check cosign applies after the signature.
type Artifact int

const (
	// Signatures are simple-signing payloads on the .sig tag; the claim
	// must name the image digest.
	Signatures Artifact = iota
	// Attestations are DSSE in-toto statements on the .att tag; a subject
	// must carry the image digest.
	Attestations
)

// Keyless is trust material bound to a policy; immutable and safe for
// concurrent use.
type Keyless struct {
	material    *Material
	identities  []cosign.Identity
	ignoreSCT   bool
	ignoreTlog  bool
	fingerprint string
}

// New checks p against m: at least one identity, each with an issuer and
// a subject (exact or regexp, not both) and valid regexps; a CT log key
// unless SCTs are ignored; a Rekor key when TlogRequire.
func New(m *Material, p Policy) (*Keyless, error) {
	if m == nil {
		return nil, &InputError{Source: "material", Msg: "nil"}
	}
	if len(p.Identities) == 0 {
		return nil, &InputError{Source: "identities", Msg: "keyless verification needs at least one identity (issuer and subject)"}
	}
	k := &Keyless{material: m, ignoreSCT: p.InsecureIgnoreSCT}
	for i, id := range p.Identities {
		if err := checkIdentity(id); err != nil {
			err.Source = fmt.Sprintf("identity %d", i)
			return nil, err
		}
		k.identities = append(k.identities, cosign.Identity(id))
	}
	if !p.InsecureIgnoreSCT && !m.HasCTLog() {
		return nil, &InputError{Source: "policy", Msg: "an SCT is required but no CT log key is trusted (add one, or set insecureIgnoreSCT)"}
	}
	switch p.Tlog {
	case TlogAuto:
		k.ignoreTlog = !m.HasRekor()
	case TlogRequire:
		if !m.HasRekor() {
			return nil, &InputError{Source: "policy", Msg: "a transparency-log entry is required but no Rekor key is trusted"}
		}
	case TlogIgnore:
		k.ignoreTlog = true
	default:
		return nil, &InputError{Source: "policy", Msg: fmt.Sprintf("unknown tlog mode %d", int(p.Tlog))}
	}
	k.fingerprint = k.computeFingerprint()
	return k, nil
}

func checkIdentity(id Identity) *InputError {
	switch {
	case id.Issuer != "" && id.IssuerRegExp != "":
		return &InputError{Msg: "set issuer or issuerRegExp, not both"}
	case id.Issuer == "" && id.IssuerRegExp == "":
		return &InputError{Msg: "missing issuer (issuer or issuerRegExp)"}
	case id.Subject != "" && id.SubjectRegExp != "":
		return &InputError{Msg: "set subject or subjectRegExp, not both"}
	case id.Subject == "" && id.SubjectRegExp == "":
		return &InputError{Msg: "missing subject (subject or subjectRegExp)"}
	}
	if id.IssuerRegExp != "" {
		if _, err := regexp.Compile(id.IssuerRegExp); err != nil {
			return &InputError{Msg: fmt.Sprintf("malformed issuerRegExp %q", id.IssuerRegExp), Err: err}
		}
	}
	if id.SubjectRegExp != "" {
		if _, err := regexp.Compile(id.SubjectRegExp); err != nil {
			return &InputError{Msg: fmt.Sprintf("malformed subjectRegExp %q", id.SubjectRegExp), Err: err}
		}
	}
	return nil
}

// Apply fills the trust fields of co, a CheckOpts the caller builds for
// this one verification: TrustedMaterial, Identities (a fresh copy),
// IgnoreSCT, IgnoreTlog, Offline (always true) and the ClaimVerifier for
// kind. It clears the legacy key fields cosign treats as exclusive with
// TrustedMaterial (RootCerts, IntermediateCerts, RekorPubKeys,
// CTLogPubKeys, SigVerifier) and leaves registry options alone.
func (k *Keyless) Apply(co *cosign.CheckOpts, kind Artifact) {
	co.TrustedMaterial = k.material.tm
	co.Identities = append([]cosign.Identity(nil), k.identities...)
	co.IgnoreSCT = k.ignoreSCT
	co.IgnoreTlog = k.ignoreTlog
	co.Offline = true
	co.RekorClient = nil
	co.RootCerts, co.IntermediateCerts = nil, nil
	co.RekorPubKeys, co.CTLogPubKeys = nil, nil
	co.SigVerifier = nil
	co.ClaimVerifier = cosign.SimpleClaimVerifier
	if kind == Attestations {
		co.ClaimVerifier = cosign.IntotoSubjectClaimVerifier
	}
}

// CheckOpts returns new CheckOpts for kind with the given registry
// options.
func (k *Keyless) CheckOpts(kind Artifact, registry ...ociremote.Option) *cosign.CheckOpts {
	co := &cosign.CheckOpts{RegistryClientOpts: registry}
	k.Apply(co, kind)
	return co
}

// RequiresTlog reports whether a verified Rekor bundle is demanded.
func (k *Keyless) RequiresTlog() bool { return !k.ignoreTlog }

// RequiresSCT reports whether an embedded SCT is demanded.
func (k *Keyless) RequiresSCT() bool { return !k.ignoreSCT }

// Fingerprint is a stable digest of the trust material and the policy
// (identities, SCT and tlog requirements), for verdict cache keys.
func (k *Keyless) Fingerprint() string { return k.fingerprint }

func (k *Keyless) computeFingerprint() string {
	var b strings.Builder
	fmt.Fprintf(&b, "material=%s\nsct=%t\ntlog=%t\n", k.material.fingerprint, !k.ignoreSCT, !k.ignoreTlog)
	ids := make([]string, 0, len(k.identities))
	for _, id := range k.identities {
		ids = append(ids, fmt.Sprintf("id=%q,%q,%q,%q", id.Issuer, id.IssuerRegExp, id.Subject, id.SubjectRegExp))
	}
	slices.Sort(ids) // identities are alternatives: order does not matter
	b.WriteString(strings.Join(ids, "\n"))
	h := sha256.Sum256([]byte(b.String()))
	return "sha256:" + hex.EncodeToString(h[:])
}
