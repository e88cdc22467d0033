package attest

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// fixtureDigest is the subject digest of every statement in testdata.
const fixtureDigest = "sha256:74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e"

// fixtures are the statements in testdata, by file name.
var fixtures = []string{"slsa02.json", "slsa1.json", "spdx.json", "cyclonedx.json", "vuln.json"}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// envelopeOf wraps a statement in a DSSE envelope the way cosign does
// (standard base64; the signature is not checked by this package).
func envelopeOf(tb testing.TB, payloadType string, payload string) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{
		"payloadType": payloadType,
		"payload":     payload,
		"signatures":  []map[string]string{{"keyid": "", "sig": "MEUCIQDx"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func wrap(tb testing.TB, statement []byte) []byte {
	tb.Helper()
	return envelopeOf(tb, PayloadType, base64.StdEncoding.EncodeToString(statement))
}

// decodeFixture decodes testdata/name through a DSSE envelope.
func decodeFixture(tb testing.TB, name string) *Statement {
	tb.Helper()
	st, err := DecodeEnvelope(wrap(tb, readFixture(tb, name)))
	if err != nil {
		tb.Fatalf("decode %s: %v", name, err)
	}
	return st
}

// compile compiles a policy that must compile.
func compile(tb testing.TB, kind, src string, opts ...Option) Policy {
	tb.Helper()
	p, err := Compile(kind, src, opts...)
	if err != nil {
		tb.Fatalf("compile %s policy: %v", kind, err)
	}
	return p
}
