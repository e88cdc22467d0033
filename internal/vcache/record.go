package vcache

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Annotation is the pod-template annotation carrying a sealed Record.
const Annotation = "portcullis.dev/verified"

// version prefixes every sealed record; a record of another version is
// malformed.
const version = "v1"

// MaxValueBytes bounds what Open reads: larger values are malformed
// (annotations of an object are limited to 256 KiB in total).
const MaxValueBytes = 64 << 10

// Record is a verification result: what was verified, under which
// policies, with which outcome, for how long.
type Record struct {
	// Namespace is the namespace of the object that was verified.
	Namespace string `json:"namespace"`
	// Images are the verified images, each by reference as it appears in
	// the pod spec after pinning ("repo:tag@sha256:…" or
	// "repo@sha256:…") with its digest.
	Images []Image `json:"images"`
	// Policies are the image policies that were applied, with the
	// content hash they had.
	Policies []Policy `json:"policies"`
	// Results are the verdicts per image and policy (and rule, for
	// Kyverno verifyImages rules).
	Results []Result `json:"results"`
	// VerifiedAt and ExpiresAt bound the record's validity (Unix seconds).
	VerifiedAt int64 `json:"verifiedAt"`
	ExpiresAt  int64 `json:"expiresAt"`
}

// Image is one verified image.
type Image struct {
	// Ref is the image reference, ending in "@" + Digest.
	Ref string `json:"ref"`
	// Digest is the verified manifest digest ("sha256:…").
	Digest string `json:"digest"`
}

// Name is Ref without its digest: "repo:tag" or "repo".
func (i Image) Name() string { return strings.TrimSuffix(i.Ref, "@"+i.Digest) }

// PolicyID identifies a policy: its kind (ClusterImagePolicy,
// ClusterPolicy, Policy) and key ("name" or "namespace/name").
type PolicyID struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Policy is one applied policy.
type Policy struct {
	PolicyID
	// Hash is the policy's content hash when it was applied.
	Hash string `json:"hash"`
	// Rules are the verifyImages rules of a Kyverno policy that applied
	// (by their name without an autogen prefix); empty for a
	// ClusterImagePolicy.
	Rules []string `json:"rules,omitempty"`
}

// Result statuses a record may hold: denials are never cached.
const (
	StatusPass = "pass"
	StatusWarn = "warn"
	// StatusFail is an Audit failure (Enforce false), admitted with a
	// warning.
	StatusFail = "fail"
)

// Result is the verdict of one policy (and rule) on one image.
type Result struct {
	// Image is the Ref of one of the record's Images.
	Image string `json:"image"`
	PolicyID
	// Rule is the Kyverno verifyImages rule ("" for a ClusterImagePolicy).
	Rule    string `json:"rule,omitempty"`
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Enforce is whether a failure of the policy would deny.
	Enforce bool `json:"enforce,omitempty"`
}

// canonicalize sorts the record's lists so that equal records encode to
// equal bytes.
func (r *Record) canonicalize() {
	slices.SortFunc(r.Images, func(a, b Image) int { return cmp.Compare(a.Ref, b.Ref) })
	r.Images = slices.Compact(r.Images)
	for i := range r.Policies {
		slices.Sort(r.Policies[i].Rules)
		r.Policies[i].Rules = slices.Compact(r.Policies[i].Rules)
	}
	slices.SortFunc(r.Policies, func(a, b Policy) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	slices.SortStableFunc(r.Results, func(a, b Result) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Rule, b.Rule))
	})
}

// CanonicalBytes is the JSON encoding of r with its lists sorted: the
// bytes Seal signs.
func CanonicalBytes(r Record) ([]byte, error) {
	r.Images = slices.Clone(r.Images)
	r.Policies = slices.Clone(r.Policies)
	for i := range r.Policies {
		r.Policies[i].Rules = slices.Clone(r.Policies[i].Rules)
	}
	r.Results = slices.Clone(r.Results)
	r.canonicalize()
	if err := r.validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("vcache: encode record: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Seal signs r with the current key of ks and returns the annotation
// value: "v1.<key id>.<base64url payload>.<base64url HMAC-SHA256>", the
// MAC covering everything before its dot.
func Seal(r Record, ks KeySet) (string, error) {
	if err := ks.Validate(); err != nil {
		return "", err
	}
	payload, err := CanonicalBytes(r)
	if err != nil {
		return "", err
	}
	signed := version + "." + ks.Current.ID + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signed + "." + base64.RawURLEncoding.EncodeToString(mac(ks.Current.Secret, signed)), nil
}

func mac(key []byte, signed string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signed))
	return m.Sum(nil)
}

// Open verifies a sealed value with ks at now and decodes it. On failure
// it returns the Reason (ReasonMalformed, ReasonUnknownKey,
// ReasonBadSignature) and a detail for the debug log. Open does not
// check the record against a child: see Check.
func Open(value string, ks KeySet, now time.Time) (*Record, Reason, error) {
	if len(value) > MaxValueBytes {
		return nil, ReasonMalformed, fmt.Errorf("value of %d bytes is larger than %d", len(value), MaxValueBytes)
	}
	parts := strings.Split(value, ".")
	if len(parts) != 4 || parts[0] != version || !validID(parts[1]) {
		return nil, ReasonMalformed, errors.New(`not "v1.<key id>.<payload>.<signature>"`)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil || len(sig) != sha256.Size {
		return nil, ReasonMalformed, errors.New("signature is not 32 bytes of unpadded base64url")
	}
	key, ok := ks.verifier(parts[1], now)
	if !ok {
		return nil, ReasonUnknownKey, fmt.Errorf("key %q is not the current key nor a previous key inside its overlap window", parts[1])
	}
	signed := value[:len(value)-len(parts[3])-1]
	if !hmac.Equal(sig, mac(key.Secret, signed)) {
		return nil, ReasonBadSignature, fmt.Errorf("signature does not verify with key %s", key.ID)
	}
	// From here on the payload is ours: decoding errors are defects, but
	// still only make the record worthless.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return nil, ReasonMalformed, fmt.Errorf("payload: %w", err)
	}
	r, err := decodePayload(payload)
	if err != nil {
		return nil, ReasonMalformed, err
	}
	return r, "", nil
}

// decodePayload decodes and validates a record's JSON strictly.
func decodePayload(payload []byte) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if dec.More() {
		return nil, errors.New("payload: data after the record")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// validate checks what Check relies on: a namespace, digests of the
// sha256:<64 hex> form that end the image references, results about
// listed images and policies with a cacheable status, and a validity
// window.
func (r *Record) validate() error {
	if r.Namespace == "" {
		return errors.New("vcache: record has no namespace")
	}
	if r.ExpiresAt <= r.VerifiedAt {
		return errors.New("vcache: record expires before it was verified")
	}
	images := make(map[string]bool, len(r.Images))
	for _, img := range r.Images {
		if !validDigest(img.Digest) || !strings.HasSuffix(img.Ref, "@"+img.Digest) || img.Name() == "" {
			return fmt.Errorf("vcache: record image %q with digest %q is malformed", img.Ref, img.Digest)
		}
		images[img.Ref] = true
	}
	pols := make(map[PolicyID]bool, len(r.Policies))
	for _, p := range r.Policies {
		if p.Kind == "" || p.Name == "" || p.Hash == "" {
			return fmt.Errorf("vcache: record policy %q of kind %q has no hash", p.Name, p.Kind)
		}
		pols[p.PolicyID] = true
	}
	for _, res := range r.Results {
		if !images[res.Image] {
			return fmt.Errorf("vcache: result of %s about image %q that the record does not list", res.Name, res.Image)
		}
		if !pols[res.PolicyID] {
			return fmt.Errorf("vcache: result of %s %q that the record does not list", res.Kind, res.Name)
		}
		switch {
		case res.Status == StatusPass, res.Status == StatusWarn:
		case res.Status == StatusFail && !res.Enforce:
		default:
			return fmt.Errorf("vcache: result of %s on %s has status %q, which is never cached", res.Name, res.Image, res.Status)
		}
	}
	return nil
}

// validDigest reports whether d is "sha256:" and 64 lowercase hex digits.
func validDigest(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
