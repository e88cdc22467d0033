package attest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestDecodeEnvelopeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, typ, predicateType string
	}{
		{"slsa02.json", StatementTypeV01, PredicateSLSA02},
		{"slsa1.json", StatementTypeV1, PredicateSLSA1},
		{"spdx.json", StatementTypeV01, PredicateSPDX},
		{"cyclonedx.json", StatementTypeV01, PredicateCycloneDX},
		{"vuln.json", StatementTypeV01, PredicateVuln},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, tc.file)
			st := decodeFixture(t, tc.file)
			if st.Type != tc.typ || st.PredicateType != tc.predicateType {
				t.Errorf("got _type %q predicateType %q, want %q %q", st.Type, st.PredicateType, tc.typ, tc.predicateType)
			}
			if len(st.Subjects) != 1 || st.Subjects[0].Name != "ghcr.io/portcullis/demo" {
				t.Errorf("subjects = %+v", st.Subjects)
			}
			if !bytes.Equal(st.JSON(), raw) {
				t.Error("JSON() is not the signed statement")
			}
			if _, ok := st.Predicate().(map[string]any); !ok {
				t.Errorf("Predicate() is %T, want an object", st.Predicate())
			}
			if st.Value()["predicateType"] != tc.predicateType {
				t.Errorf("Value()[predicateType] = %v", st.Value()["predicateType"])
			}
		})
	}
}

func TestDecodeEnvelopeBase64Alphabets(t *testing.T) {
	t.Parallel()
	// A statement whose encoding contains '+' or '/' in the standard
	// alphabet, so the URL alphabet differs.
	raw := readFixture(t, "cyclonedx.json")
	for _, enc := range []struct {
		name string
		enc  *base64.Encoding
	}{
		{"std", base64.StdEncoding},
		{"url", base64.URLEncoding},
		{"raw std", base64.RawStdEncoding},
		{"raw url", base64.RawURLEncoding},
	} {
		t.Run(enc.name, func(t *testing.T) {
			t.Parallel()
			st, err := DecodeEnvelope(envelopeOf(t, PayloadType, enc.enc.EncodeToString(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if st.PredicateType != PredicateCycloneDX {
				t.Errorf("predicateType = %q", st.PredicateType)
			}
		})
	}
	std := base64.StdEncoding.EncodeToString(raw)
	if !strings.ContainsAny(std, "+/") || std == base64.URLEncoding.EncodeToString(raw) {
		t.Fatal("fixture does not exercise the URL alphabet")
	}
}

func TestHasSubjectDigest(t *testing.T) {
	t.Parallel()
	st, err := ParseStatement([]byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://example.com/p",
		"subject":[{"name":"a","digest":{"sha256":"` + strings.Repeat("ab", 32) + `"}},
		           {"name":"b","digest":{"sha512":"` + strings.Repeat("CD", 64) + `","gitCommit":"0123abcd"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, digest string
		want         bool
	}{
		{"first subject", "sha256:" + strings.Repeat("ab", 32), true},
		{"upper-case hex", "sha256:" + strings.Repeat("AB", 32), true},
		{"second subject, stored upper-case", "sha512:" + strings.Repeat("cd", 64), true},
		{"other algorithm", "gitCommit:0123abcd", true},
		{"other digest", "sha256:" + strings.Repeat("ac", 32), false},
		{"right hex, wrong algorithm", "sha512:" + strings.Repeat("ab", 32), false},
		{"prefix of the digest", "sha256:" + strings.Repeat("ab", 16), false},
		{"no algorithm", strings.Repeat("ab", 32), false},
		{"empty hex", "sha256:", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		if got := st.HasSubjectDigest(tc.digest); got != tc.want {
			t.Errorf("%s: HasSubjectDigest(%q) = %v, want %v", tc.name, tc.digest, got, tc.want)
		}
	}
	if fx := decodeFixture(t, "slsa1.json"); !fx.HasSubjectDigest(fixtureDigest) {
		t.Error("fixture does not match its own digest")
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	t.Parallel()
	good := `"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","predicate":{}`
	sub := `"subject":[{"name":"x","digest":{"sha256":"` + strings.Repeat("0", 64) + `"}}]`
	stmt := func(s string) []byte { return wrap(t, []byte(s)) }
	tests := []struct {
		name  string
		in    []byte
		part  string
		want  string
		large bool
	}{
		{"empty input", nil, "envelope", "malformed JSON", false},
		{"not JSON", []byte("hello"), "envelope", "malformed JSON", false},
		{"envelope is an array", []byte(`[]`), "envelope", "malformed JSON", false},
		{"trailing data", append(wrap(t, []byte(`{}`)), []byte(` {}`)...), "envelope", "trailing data", false},
		{"payloadType missing", []byte(`{"payload":"e30="}`), "envelope", "payloadType is missing", false},
		{"payloadType wrong type", []byte(`{"payloadType":7,"payload":"e30="}`), "envelope", "malformed JSON", false},
		{"wrong payloadType", envelopeOf(t, "application/vnd.dev.cosign.simplesigning.v1+json", "e30="), "envelope", `payloadType is "application/vnd.dev.cosign.simplesigning.v1+json", want "application/vnd.in-toto+json"`, false},
		{"payload missing", []byte(`{"payloadType":"application/vnd.in-toto+json"}`), "envelope", "payload is missing", false},
		{"payload empty", envelopeOf(t, PayloadType, ""), "envelope", "payload is missing", false},
		{"payload not base64", envelopeOf(t, PayloadType, "not base64!"), "payload", "not valid base64", false},
		{"envelope too large", bytes.Repeat([]byte(" "), MaxEnvelopeSize+1), "envelope", "exceeds the limit", true},
		{"statement not JSON", stmt(`{"_type":`), "statement", "not valid JSON", false},
		{"statement is a string", stmt(`"hello"`), "statement", "is a JSON string, not an object", false},
		{"statement trailing data", stmt(`{} []`), "statement", "trailing data", false},
		{"statement too deep", stmt(`{` + good + `,` + sub + `,"x":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`), "statement", "nests deeper than 100 levels", true},
		{"_type missing", stmt(`{"predicateType":"https://x.dev/p",` + sub + `}`), "statement", "_type is missing", false},
		{"_type not a string", stmt(`{"_type":1,"predicateType":"https://x.dev/p",` + sub + `}`), "statement", "_type is a JSON number, not a string", false},
		{"_type unknown", stmt(`{"_type":"https://in-toto.io/Statement/v2","predicateType":"https://x.dev/p",` + sub + `}`), "statement", `_type "https://in-toto.io/Statement/v2" is not`, false},
		{"predicateType missing", stmt(`{"_type":"https://in-toto.io/Statement/v1",` + sub + `}`), "statement", "predicateType is missing", false},
		{"predicateType empty", stmt(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"",` + sub + `}`), "statement", "predicateType is empty", false},
		{"subject missing", stmt(`{` + good + `}`), "statement", "subject is missing", false},
		{"subject not an array", stmt(`{` + good + `,"subject":{}}`), "statement", "subject is a JSON object, not an array", false},
		{"subject empty", stmt(`{` + good + `,"subject":[]}`), "statement", "subject is empty", false},
		{"subject entry not an object", stmt(`{` + good + `,"subject":["x"]}`), "statement", "subject[0] is a JSON string, not an object", false},
		{"subject name not a string", stmt(`{` + good + `,"subject":[{"name":1,"digest":{"sha256":"` + strings.Repeat("0", 64) + `"}}]}`), "statement", "subject[0].name is a JSON number", false},
		{"subject digest missing", stmt(`{` + good + `,"subject":[{"name":"x"}]}`), "statement", "subject[0].digest is missing or empty", false},
		{"subject digest empty", stmt(`{` + good + `,` + sub[:len(sub)-1] + `,{"name":"y","digest":{}}]}`), "statement", "subject[1].digest is missing or empty", false},
		{"subject digest not a string", stmt(`{` + good + `,"subject":[{"digest":{"sha256":5}}]}`), "statement", "subject[0].digest.sha256 is not a non-empty string", false},
		{"sha256 too short", stmt(`{` + good + `,"subject":[{"digest":{"sha256":"abcd"}}]}`), "statement", `subject[0].digest.sha256 "abcd" is not a hex digest`, false},
		{"digest not hex", stmt(`{` + good + `,"subject":[{"digest":{"sha512":"xyz"}}]}`), "statement", `subject[0].digest.sha512 "xyz" is not a hex digest`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := DecodeEnvelope(tc.in)
			if err == nil {
				t.Fatalf("decoded %+v, want an error", st)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is %T, want *DecodeError", err, err)
			}
			if de.Part != tc.part || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q (part %q), want part %q containing %q", err, de.Part, tc.part, tc.want)
			}
			if got := errors.Is(err, ErrTooLarge); got != tc.large {
				t.Errorf("errors.Is(ErrTooLarge) = %v, want %v", got, tc.large)
			}
		})
	}
}

func TestParseStatement(t *testing.T) {
	t.Parallel()
	raw := readFixture(t, "vuln.json")
	st, err := ParseStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasSubjectDigest(fixtureDigest) || st.PredicateType != PredicateVuln {
		t.Errorf("parsed %+v", st)
	}
	raw[0] = '[' // the statement keeps its own copy
	if st.JSON()[0] != '{' {
		t.Error("ParseStatement aliases its input")
	}
	if _, err := ParseStatement(bytes.Repeat([]byte(" "), MaxEnvelopeSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized statement: err = %v, want ErrTooLarge", err)
	}
}
