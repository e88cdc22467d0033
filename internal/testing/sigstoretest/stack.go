package sigstoretest

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Stack is a test Fulcio CA with one CT log and one Rekor log.
type Stack struct {
	CA    *CA
	CTLog *Log
	Rekor *Log
}

// NewStack generates a CA, a CT log key and a Rekor key.
func NewStack(tb testing.TB) *Stack {
	tb.Helper()
	return &Stack{CA: NewCA(tb), CTLog: NewLog(tb), Rekor: NewLog(tb)}
}

// Issue issues a leaf from the stack's CA with an SCT from its CT log
// (o.CTLog, when unset).
func (s *Stack) Issue(tb testing.TB, o LeafOptions) *Leaf {
	tb.Helper()
	if o.CTLog == nil {
		o.CTLog = s.CTLog
	}
	return s.CA.Issue(tb, o)
}

// TrustedRoot is the stack as a sigstore trusted root: the CA (chain
// intermediate, root; valid from the root's NotBefore), the Rekor log as
// a tlog and the CT log as a ctlog (each valid from its Start).
func (s *Stack) TrustedRoot(tb testing.TB) *root.TrustedRoot {
	tb.Helper()
	ca := &root.FulcioCertificateAuthority{
		Root:                s.CA.Root,
		Intermediates:       []*x509.Certificate{s.CA.Intermediate},
		ValidityPeriodStart: s.CA.Root.NotBefore,
		URI:                 "https://fulcio.sigstoretest.invalid",
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{ca},
		map[string]*root.TransparencyLog{s.CTLog.IDHex(): s.CTLog.transparencyLog("https://ctfe.sigstoretest.invalid")},
		nil,
		map[string]*root.TransparencyLog{s.Rekor.IDHex(): s.Rekor.transparencyLog("https://rekor.sigstoretest.invalid")})
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// WriteTrustedRoot writes the stack's trusted_root.json into dir and
// returns its path.
func (s *Stack) WriteTrustedRoot(tb testing.TB, dir string) string {
	tb.Helper()
	b, err := s.TrustedRoot(tb).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (l *Log) transparencyLog(url string) *root.TransparencyLog {
	return &root.TransparencyLog{
		BaseURL:             url,
		ID:                  l.ID,
		ValidityPeriodStart: l.Start,
		HashFunc:            crypto.SHA256,
		PublicKey:           &l.Key.PublicKey,
		SignatureHashFunc:   crypto.SHA256,
	}
}
