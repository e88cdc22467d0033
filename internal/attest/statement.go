package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

const (
	// PayloadType is the DSSE payloadType of in-toto statements.
	PayloadType = "application/vnd.in-toto+json"
	// StatementTypeV01 is the _type of in-toto v0.1 statements (cosign's).
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"
	// StatementTypeV1 is the _type of in-toto v1 statements.
	StatementTypeV1 = "https://in-toto.io/Statement/v1"

	// MaxEnvelopeSize is the largest DSSE envelope DecodeEnvelope accepts,
	// in bytes. Large SBOMs fit; anything bigger is refused.
	MaxEnvelopeSize = 32 << 20
	// MaxDepth is the deepest nesting of JSON objects and arrays accepted
	// in a statement.
	MaxDepth = 100
)

// Subject is one artifact a statement is about.
type Subject struct {
	// Name is the artifact's name, e.g. the image repository; may be "".
	Name string
	// Digest maps algorithm names ("sha256") to lowercase hex digests.
	Digest map[string]string
}

// Statement is a decoded in-toto statement. It is safe for concurrent use;
// callers must not modify it or anything it returns.
type Statement struct {
	// Type is the statement's _type (StatementTypeV01 or StatementTypeV1).
	Type string
	// Subjects are the artifacts the statement is about; never empty.
	Subjects []Subject
	// PredicateType is the predicate's type URL.
	PredicateType string

	raw []byte         // the statement JSON, as signed
	doc map[string]any // raw decoded, numbers as json.Number

	regoOnce  sync.Once
	regoInput ast.Value
	regoErr   error

	celOnce sync.Once
	celVars map[string]any
}

// JSON returns the statement as it was signed (the decoded DSSE payload).
func (s *Statement) JSON() []byte { return bytes.Clone(s.raw) }

// Value returns the statement decoded as JSON: objects are
// map[string]any, arrays []any and numbers json.Number. It is shared and
// must not be modified.
func (s *Statement) Value() map[string]any { return s.doc }

// Predicate returns the statement's predicate decoded as in Value, or nil
// when the statement has none. It is shared and must not be modified.
func (s *Statement) Predicate() any { return s.doc["predicate"] }

// HasSubjectDigest reports whether one of the statement's subjects has
// digest, given as "algorithm:hex" (e.g. "sha256:9f86…"). Hex case is
// ignored; a malformed digest matches nothing.
func (s *Statement) HasSubjectDigest(digest string) bool {
	alg, h, ok := strings.Cut(digest, ":")
	if !ok || alg == "" || h == "" {
		return false
	}
	h = strings.ToLower(h)
	for _, sub := range s.Subjects {
		if got, ok := sub.Digest[alg]; ok && got == h {
			return true
		}
	}
	return false
}

// MatchesPredicateType reports whether the statement's predicate type is
// nameOrURL, a short name or URL as PredicateTypeURL accepts. The error is
// PredicateTypeURL's.
func (s *Statement) MatchesPredicateType(nameOrURL string) (bool, error) {
	u, err := PredicateTypeURL(nameOrURL)
	if err != nil {
		return false, err
	}
	return s.PredicateType == u, nil
}

// envelope is a DSSE envelope; signatures are checked by cosign, not here.
type envelope struct {
	PayloadType *string `json:"payloadType"`
	Payload     *string `json:"payload"`
}

// DecodeEnvelope decodes a DSSE envelope holding an in-toto statement, as
// the payload of a cosign attestation. It checks the payload type, decodes
// the base64 payload (standard or URL alphabet, padded or not) and checks
// the statement's shape: a known _type, at least one subject each with a
// digest (sha256 digests must be 64 hex digits), and a predicateType.
// Envelopes over MaxEnvelopeSize and statements nested deeper than
// MaxDepth are refused with ErrTooLarge. Every failure is a *DecodeError
// naming the field at fault. The signatures are not verified.
func DecodeEnvelope(b []byte) (*Statement, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, &DecodeError{Part: "envelope", Msg: fmt.Sprintf("%d bytes exceeds the limit of %d", len(b), MaxEnvelopeSize), Err: ErrTooLarge}
	}
	var env envelope
	if err := decodeStrict(b, &env); err != nil {
		return nil, &DecodeError{Part: "envelope", Msg: "malformed JSON", Err: err}
	}
	switch {
	case env.PayloadType == nil:
		return nil, &DecodeError{Part: "envelope", Msg: "payloadType is missing"}
	case *env.PayloadType != PayloadType:
		return nil, &DecodeError{Part: "envelope", Msg: fmt.Sprintf("payloadType is %q, want %q", *env.PayloadType, PayloadType)}
	case env.Payload == nil || *env.Payload == "":
		return nil, &DecodeError{Part: "envelope", Msg: "payload is missing"}
	}
	raw, err := decodeBase64(*env.Payload)
	if err != nil {
		return nil, &DecodeError{Part: "payload", Msg: "not valid base64", Err: err}
	}
	return parseStatement(raw)
}

// ParseStatement parses an in-toto statement that is not wrapped in an
// envelope (e.g. a file given to `cosign attest --statement`), with the
// checks and limits of DecodeEnvelope.
func ParseStatement(b []byte) (*Statement, error) {
	if len(b) > MaxEnvelopeSize {
		return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("%d bytes exceeds the limit of %d", len(b), MaxEnvelopeSize), Err: ErrTooLarge}
	}
	return parseStatement(bytes.Clone(b))
}

func parseStatement(raw []byte) (*Statement, error) {
	var v any
	if err := decodeStrict(raw, &v); err != nil {
		return nil, &DecodeError{Part: "statement", Msg: "not valid JSON", Err: err}
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("is a JSON %s, not an object", jsonKind(v))}
	}
	if depth(doc, 0) > MaxDepth {
		return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("nests deeper than %d levels", MaxDepth), Err: ErrTooLarge}
	}
	st := &Statement{raw: raw, doc: doc}
	var err error
	if st.Type, err = stringField(doc, "_type"); err != nil {
		return nil, err
	}
	if st.Type != StatementTypeV01 && st.Type != StatementTypeV1 {
		return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("_type %q is not %q or %q", st.Type, StatementTypeV1, StatementTypeV01)}
	}
	if st.PredicateType, err = stringField(doc, "predicateType"); err != nil {
		return nil, err
	}
	if st.Subjects, err = subjects(doc["subject"]); err != nil {
		return nil, err
	}
	return st, nil
}

func stringField(doc map[string]any, key string) (string, error) {
	v, ok := doc[key]
	if !ok {
		return "", &DecodeError{Part: "statement", Msg: key + " is missing"}
	}
	s, ok := v.(string)
	if !ok {
		return "", &DecodeError{Part: "statement", Msg: fmt.Sprintf("%s is a JSON %s, not a string", key, jsonKind(v))}
	}
	if s == "" {
		return "", &DecodeError{Part: "statement", Msg: key + " is empty"}
	}
	return s, nil
}

func subjects(v any) ([]Subject, error) {
	if v == nil {
		return nil, &DecodeError{Part: "statement", Msg: "subject is missing"}
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject is a JSON %s, not an array", jsonKind(v))}
	}
	if len(list) == 0 {
		return nil, &DecodeError{Part: "statement", Msg: "subject is empty"}
	}
	out := make([]Subject, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject[%d] is a JSON %s, not an object", i, jsonKind(e))}
		}
		var sub Subject
		if n, ok := m["name"]; ok {
			if sub.Name, ok = n.(string); !ok {
				return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject[%d].name is a JSON %s, not a string", i, jsonKind(n))}
			}
		}
		dm, ok := m["digest"].(map[string]any)
		if !ok || len(dm) == 0 {
			return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject[%d].digest is missing or empty", i)}
		}
		sub.Digest = make(map[string]string, len(dm))
		for alg, dv := range dm {
			d, ok := dv.(string)
			if !ok || d == "" {
				return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject[%d].digest.%s is not a non-empty string", i, alg)}
			}
			if _, err := hex.DecodeString(d); err != nil || (alg == "sha256" && len(d) != 64) {
				return nil, &DecodeError{Part: "statement", Msg: fmt.Sprintf("subject[%d].digest.%s %q is not a hex digest of the right length", i, alg, d)}
			}
			sub.Digest[alg] = strings.ToLower(d)
		}
		out = append(out, sub)
	}
	return out, nil
}

// decodeStrict decodes exactly one JSON value, numbers as json.Number.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func decodeBase64(s string) ([]byte, error) {
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// depth returns the nesting depth of v, stopping early past MaxDepth.
func depth(v any, d int) int {
	if d > MaxDepth {
		return d
	}
	maxd := d
	switch t := v.(type) {
	case map[string]any:
		for _, e := range t {
			maxd = max(maxd, depth(e, d+1))
		}
	case []any:
		for _, e := range t {
			maxd = max(maxd, depth(e, d+1))
		}
	}
	return maxd
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
