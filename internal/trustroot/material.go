package trustroot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/portcullis/portcullis/internal/keys"
)

// Sources are the offline trust inputs. At least one certificate authority
// must come from CABundle or TrustedRoot(File).
type Sources struct {
	// CABundle is PEM: one or more self-signed roots plus optional
	// intermediates (ClusterImagePolicy keyless.ca-cert.data). Each root
	// becomes a certificate authority with all the bundle's intermediates.
	CABundle []byte
	// TrustedRoot is a sigstore trusted_root.json document.
	TrustedRoot []byte
	// TrustedRootFile is read when TrustedRoot is empty.
	TrustedRootFile string
	// RekorKeys are PEM public keys (ECDSA) of trusted Rekor logs, valid
	// from the Unix epoch on. The log ID is the SHA-256 of the key's DER.
	RekorKeys [][]byte
	// CTLogKeys are PEM public keys of trusted certificate-transparency
	// logs; the log ID is the SHA-256 of the key's DER (RFC 6962).
	CTLogKeys [][]byte
}

// InputError reports unusable trust input.
type InputError struct {
	Source string // "ca bundle", "trusted root", "rekor key 1", "identity 0", ...
	Msg    string
	Err    error
}

func (e *InputError) Error() string {
	s := "trustroot: " + e.Source
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying parse error, if any.
func (e *InputError) Unwrap() error { return e.Err }

// Material is parsed, merged trust material; it is immutable and safe for
// concurrent use.
type Material struct {
	tm          root.TrustedMaterial
	cas, rekor  int
	ct          int
	fingerprint string
}

// Load parses and merges the sources. ctx bounds the trusted-root file
// read.
func Load(ctx context.Context, s Sources) (*Material, error) {
	var coll root.TrustedMaterialCollection
	var cas []root.CertificateAuthority
	if len(s.CABundle) > 0 {
		bundle, err := parseCABundle(s.CABundle)
		if err != nil {
			return nil, err
		}
		cas = bundle
	}
	rekorLogs, err := parseLogKeys("rekor key", s.RekorKeys, true)
	if err != nil {
		return nil, err
	}
	ctLogs, err := parseLogKeys("ct log key", s.CTLogKeys, false)
	if err != nil {
		return nil, err
	}
	local, err := root.NewTrustedRoot(root.TrustedRootMediaType01, cas, ctLogs, nil, rekorLogs)
	if err != nil {
		return nil, fmt.Errorf("trustroot: %w", err)
	}
	coll = append(coll, local)

	trJSON := s.TrustedRoot
	src := "trusted root"
	if len(trJSON) == 0 && s.TrustedRootFile != "" {
		src = "trusted root " + s.TrustedRootFile
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("trustroot: load %s: %w", s.TrustedRootFile, err)
		}
		b, err := os.ReadFile(s.TrustedRootFile)
		if err != nil {
			return nil, &InputError{Source: src, Msg: "cannot read", Err: err}
		}
		trJSON = b
	}
	if len(trJSON) > 0 {
		tr, err := root.NewTrustedRootFromJSON(trJSON)
		if err != nil {
			return nil, &InputError{Source: src, Msg: "malformed trusted root JSON", Err: err}
		}
		if len(tr.FulcioCertificateAuthorities()) == 0 {
			return nil, &InputError{Source: src, Msg: "has no certificateAuthorities (keyless verification needs a Fulcio CA)"}
		}
		coll = append(coll, tr)
	}

	m := &Material{tm: coll}
	m.cas = len(coll.FulcioCertificateAuthorities())
	m.rekor = len(coll.RekorLogs())
	m.ct = len(coll.CTLogs())
	if m.cas == 0 {
		return nil, &InputError{Source: "sources", Msg: "no certificate authority: give a CA bundle or a trusted root"}
	}
	m.fingerprint = fingerprint(coll)
	return m, nil
}

// TrustedMaterial is the merged material for cosign.CheckOpts.
func (m *Material) TrustedMaterial() root.TrustedMaterial { return m.tm }

// HasRekor reports whether any Rekor log key is trusted.
func (m *Material) HasRekor() bool { return m.rekor > 0 }

// HasCTLog reports whether any CT log key is trusted.
func (m *Material) HasCTLog() bool { return m.ct > 0 }

// Fingerprint is a stable digest ("sha256:<hex>") of every trusted CA,
// Rekor log and CT log with its validity window; it does not depend on
// PEM formatting or input order.
func (m *Material) Fingerprint() string { return m.fingerprint }

func parseCABundle(data []byte) ([]root.CertificateAuthority, error) {
	certs, err := parseCertificates(data)
	if err != nil {
		return nil, err
	}
	var roots, intermediates []*x509.Certificate
	for i, c := range certs {
		if !c.IsCA {
			return nil, &InputError{Source: "ca bundle", Msg: fmt.Sprintf("certificate %d (%q) is not a CA certificate", i, c.Subject.String())}
		}
		if bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			roots = append(roots, c)
		} else {
			intermediates = append(intermediates, c)
		}
	}
	if len(roots) == 0 {
		return nil, &InputError{Source: "ca bundle", Msg: "no self-signed root certificate"}
	}
	cas := make([]root.CertificateAuthority, 0, len(roots))
	for _, r := range roots {
		cas = append(cas, &root.FulcioCertificateAuthority{Root: r, Intermediates: intermediates})
	}
	return cas, nil
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	certs, err := keys.ParseCertificates(data)
	if err != nil {
		return nil, &InputError{Source: "ca bundle", Err: err}
	}
	return certs, nil
}

// epoch is the start of validity given to keys passed as bare PEM:
// sigstore-go rejects a Rekor log without a start.
var epoch = time.Unix(0, 0).UTC()

func parseLogKeys(kind string, keys [][]byte, ecdsaOnly bool) (map[string]*root.TransparencyLog, error) {
	logs := make(map[string]*root.TransparencyLog, len(keys))
	for i, k := range keys {
		src := fmt.Sprintf("%s %d", kind, i)
		pub, err := parsePublicKey(src, k)
		if err != nil {
			return nil, err
		}
		if _, ok := pub.(*ecdsa.PublicKey); ecdsaOnly && !ok {
			return nil, &InputError{Source: src, Msg: fmt.Sprintf("%T is not an ECDSA key (Rekor signs with ECDSA)", pub)}
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, &InputError{Source: src, Msg: "cannot encode key", Err: err}
		}
		id := sha256.Sum256(der)
		logs[hex.EncodeToString(id[:])] = &root.TransparencyLog{
			ID:                  id[:],
			PublicKey:           pub,
			HashFunc:            crypto.SHA256,
			SignatureHashFunc:   crypto.SHA256,
			ValidityPeriodStart: epoch,
		}
	}
	return logs, nil
}

// parsePublicKey parses the one PEM public key of a log.
func parsePublicKey(src string, data []byte) (crypto.PublicKey, error) {
	ks, err := keys.ParsePublicKeys(data)
	if err != nil {
		return nil, &InputError{Source: src, Err: err}
	}
	if len(ks) > 1 {
		return nil, &InputError{Source: src, Msg: fmt.Sprintf("%d PEM public keys, want one", len(ks))}
	}
	return ks[0].Public, nil
}

// fingerprint hashes a sorted, canonical description of tm.
func fingerprint(tm root.TrustedMaterial) string {
	var lines []string
	digest := func(b []byte) string {
		h := sha256.Sum256(b)
		return hex.EncodeToString(h[:])
	}
	window := func(from, to time.Time) string {
		return fmt.Sprintf("%d-%d", unixOrZero(from), unixOrZero(to))
	}
	for _, ca := range tm.FulcioCertificateAuthorities() {
		f, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			lines = append(lines, fmt.Sprintf("ca %T", ca))
			continue
		}
		ints := make([]string, 0, len(f.Intermediates))
		for _, c := range f.Intermediates {
			ints = append(ints, digest(c.Raw))
		}
		sort.Strings(ints)
		lines = append(lines, fmt.Sprintf("ca root=%s int=%s valid=%s", digest(f.Root.Raw), strings.Join(ints, ","), window(f.ValidityPeriodStart, f.ValidityPeriodEnd)))
	}
	logLines := func(kind string, logs map[string]*root.TransparencyLog) {
		for id, l := range logs {
			der, err := x509.MarshalPKIXPublicKey(l.PublicKey)
			if err != nil {
				der = []byte(fmt.Sprint(l.PublicKey))
			}
			lines = append(lines, fmt.Sprintf("%s id=%s key=%s valid=%s", kind, id, digest(der), window(l.ValidityPeriodStart, l.ValidityPeriodEnd)))
		}
	}
	logLines("rekor", tm.RekorLogs())
	logLines("ct", tm.CTLogs())
	for _, ta := range tm.TimestampingAuthorities() {
		if s, ok := ta.(*root.SigstoreTimestampingAuthority); ok && s.Root != nil {
			lines = append(lines, fmt.Sprintf("tsa root=%s valid=%s", digest(s.Root.Raw), window(s.ValidityPeriodStart, s.ValidityPeriodEnd)))
		}
	}
	sort.Strings(lines)
	lines = slices.Compact(lines) // the same CA given twice is trusted once
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return "sha256:" + hex.EncodeToString(h[:])
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
