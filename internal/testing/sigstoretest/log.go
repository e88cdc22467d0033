package sigstoretest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	jsoncanonicalizer "github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	cbundle "github.com/sigstore/cosign/v2/pkg/cosign/bundle"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Log is a test transparency log key: a CT log (signs SCTs) or a Rekor
// log (signs SETs). Its ID is the SHA-256 of the public key's DER, as
// RFC 6962 and Rekor define it.
type Log struct {
	Key       *ecdsa.PrivateKey
	PublicPEM []byte
	ID        []byte
	// Start is the key's validity start in a trusted root (a day ago).
	Start time.Time
}

// NewLog generates an ECDSA P-256 log key.
func NewLog(tb testing.TB) *Log {
	tb.Helper()
	k := newKey(tb, elliptic.P256())
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(&k.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	id := sha256.Sum256(der)
	return &Log{Key: k, PublicPEM: pemBytes, ID: id[:], Start: time.Now().Add(-24 * time.Hour).Truncate(time.Second)}
}

// IDHex is the log ID in hex, the form Rekor bundles carry.
func (l *Log) IDHex() string { return hex.EncodeToString(l.ID) }

var oidCTPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// issueWithSCT issues tmpl twice: first as a precertificate (critical
// poison extension, last), whose poison-free TBS the log signs, then as
// the final certificate with the SCT list in the poison's place, so that
// removing the SCT list gives back exactly the TBS the log signed.
func (ca *CA) issueWithSCT(tb testing.TB, tmpl *x509.Certificate, pub *ecdsa.PublicKey, log *Log, at time.Time) *x509.Certificate {
	tb.Helper()
	base := tmpl.ExtraExtensions
	pre := *tmpl
	pre.ExtraExtensions = append(append([]pkix.Extension(nil), base...),
		pkix.Extension{Id: oidCTPoison, Critical: true, Value: asn1.NullBytes})
	precert := create(tb, &pre, ca.Intermediate, pub, ca.intermediateKey)
	tbs, err := ctx509.BuildPrecertTBS(precert.RawTBSCertificate, nil)
	if err != nil {
		tb.Fatal(err)
	}
	sct := log.signSCT(tb, tbs, ca.Intermediate.RawSubjectPublicKeyInfo, at)
	list, err := x509util.MarshalSCTsIntoSCTList([]*ct.SignedCertificateTimestamp{sct})
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := cttls.Marshal(*list)
	if err != nil {
		tb.Fatal(err)
	}
	val, err := asn1.Marshal(raw)
	if err != nil {
		tb.Fatal(err)
	}
	final := *tmpl
	final.SerialNumber = precert.SerialNumber
	final.ExtraExtensions = append(append([]pkix.Extension(nil), base...),
		pkix.Extension{Id: oidSCTList, Value: val})
	return create(tb, &final, ca.Intermediate, pub, ca.intermediateKey)
}

// signSCT signs a v1 precertificate SCT over tbs (poison removed) and the
// issuer's key hash.
func (l *Log) signSCT(tb testing.TB, tbs, issuerSPKI []byte, at time.Time) *ct.SignedCertificateTimestamp {
	tb.Helper()
	sct := ct.SignedCertificateTimestamp{
		SCTVersion: ct.V1,
		LogID:      ct.LogID{KeyID: [32]byte(l.ID)},
		Timestamp:  uint64(at.UnixMilli()),
	}
	entry := ct.LogEntry{Leaf: ct.MerkleTreeLeaf{
		Version:  ct.V1,
		LeafType: ct.TimestampedEntryLeafType,
		TimestampedEntry: &ct.TimestampedEntry{
			EntryType: ct.PrecertLogEntryType,
			Timestamp: sct.Timestamp,
			PrecertEntry: &ct.PreCert{
				IssuerKeyHash:  sha256.Sum256(issuerSPKI),
				TBSCertificate: tbs,
			},
		},
	}}
	input, err := ct.SerializeSCTSignatureInput(sct, entry)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.Sum256(input)
	sig, err := ecdsa.SignASN1(rand.Reader, l.Key, h[:])
	if err != nil {
		tb.Fatal(err)
	}
	sct.Signature = ct.DigitallySigned{
		Algorithm: cttls.SignatureAndHashAlgorithm{Hash: cttls.SHA256, Signature: cttls.ECDSA},
		Signature: sig,
	}
	return &sct
}

// Bundle is an offline Rekor bundle for a log entry body (canonical
// Rekor JSON): the SET is l's signature over the canonical JSON of
// {body (base64), integratedTime, logIndex, logID}.
func (l *Log) Bundle(tb testing.TB, body []byte, integratedTime time.Time, logIndex int64) *cbundle.RekorBundle {
	tb.Helper()
	p := cbundle.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(body),
		IntegratedTime: integratedTime.Unix(),
		LogIndex:       logIndex,
		LogID:          l.IDHex(),
	}
	raw, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	canon, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.Sum256(canon)
	set, err := ecdsa.SignASN1(rand.Reader, l.Key, h[:])
	if err != nil {
		tb.Fatal(err)
	}
	return &cbundle.RekorBundle{SignedEntryTimestamp: set, Payload: p}
}
