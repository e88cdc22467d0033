package vcache

import (
	"strings"
	"time"
)

// Reason says why a record cannot stand in for registry verification
// ("" when it can). Reasons are metric label values.
type Reason string

// Reasons, in the order Open and Check test them.
const (
	// ReasonMalformed: the value is not a sealed record of this version.
	ReasonMalformed Reason = "malformed"
	// ReasonUnknownKey: the key that signed it is neither the current key
	// nor a previous key inside its overlap window (forged, or rotated
	// out).
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadSignature: the signature does not verify (edited).
	ReasonBadSignature Reason = "bad_signature"
	// ReasonNamespace: verified for another namespace (replayed).
	ReasonNamespace Reason = "namespace"
	// ReasonExpired: past its expiry.
	ReasonExpired Reason = "expired"
	// ReasonPolicyChanged: a policy it applied has changed since.
	ReasonPolicyChanged Reason = "policy_changed"
	// ReasonImageNotCovered: an image of the child is not in the record
	// (the covered images still count).
	ReasonImageNotCovered Reason = "image_not_covered"
	// ReasonDigestMismatch: an image of the child names another digest
	// than the one verified (the covered images still count).
	ReasonDigestMismatch Reason = "digest_mismatch"
)

// Reasons lists every Reason, for metrics.
var Reasons = []Reason{ReasonMalformed, ReasonUnknownKey, ReasonBadSignature, ReasonNamespace,
	ReasonExpired, ReasonPolicyChanged, ReasonImageNotCovered, ReasonDigestMismatch}

// Child is the object a record is checked against.
type Child struct {
	// Namespace is the child's namespace.
	Namespace string
	// Images are the image references of the child's pod spec, as
	// written.
	Images []string
	// Policies are the content hashes of the image policies in force
	// now, by identity. A policy of the record that is not in force any
	// more is ignored; one in force with another hash voids the record.
	Policies map[PolicyID]string
	// Now is the time of the check.
	Now time.Time
}

// Verdicts are the verdicts of a checked record that apply to a child's
// images. The zero value (and nil) answers nothing.
type Verdicts struct {
	record *Record
	// covered maps a child image reference to the record's image.
	covered map[string]Image
	// all is true when every image of the child is covered; exact when
	// each is a record reference as written (no tag resolved by it).
	all, exact bool
}

// Check decides what record r may answer for child c. A record that
// fails as a whole (namespace, expiry, policy change) returns nil and the
// reason. Otherwise it returns the verdicts of the child's covered images
// and, when some image is not covered, ReasonImageNotCovered or
// ReasonDigestMismatch (those images must be verified normally).
//
// A child image is covered when it is exactly a record reference
// ("repo:tag@sha256:…"), or the tag of one ("repo:tag", which then
// resolves to the record's digest without asking the registry).
func Check(r *Record, c Child) (*Verdicts, Reason) {
	if r == nil {
		return nil, ReasonMalformed
	}
	if r.Namespace != c.Namespace {
		return nil, ReasonNamespace
	}
	if c.Now.Unix() >= r.ExpiresAt {
		return nil, ReasonExpired
	}
	for _, p := range r.Policies {
		if cur, ok := c.Policies[p.PolicyID]; ok && cur != p.Hash {
			return nil, ReasonPolicyChanged
		}
	}
	byRef := make(map[string]Image, len(r.Images))
	byName := make(map[string]Image, len(r.Images))
	for _, img := range r.Images {
		byRef[img.Ref] = img
		byName[img.Name()] = img
	}
	// Only references written with a tag and a digest say what the tag
	// resolved to ("repo@sha256:…" says nothing about "repo:latest").
	v := &Verdicts{record: r, covered: make(map[string]Image, len(c.Images)), all: true, exact: true}
	var reason Reason
	for _, ref := range c.Images {
		if img, ok := byRef[ref]; ok {
			v.covered[ref] = img
			continue
		}
		name, digest, byDigest := strings.Cut(ref, "@")
		img, known := byName[name]
		switch {
		case !byDigest && known && hasTag(name):
			// A tag the record resolved: it names the verified digest.
			v.covered[ref] = img
			v.exact = false
			continue
		case byDigest && known && img.Digest != digest:
			reason = ReasonDigestMismatch
		case reason == "":
			reason = ReasonImageNotCovered
		}
		v.all = false
	}
	return v, reason
}

// hasTag reports whether an image name without digest names a tag (a
// colon after the last slash; a registry port comes before it).
func hasTag(name string) bool {
	return strings.Contains(name[strings.LastIndex(name, "/")+1:], ":")
}

// All reports whether every image of the child is covered.
func (v *Verdicts) All() bool { return v != nil && v.all }

// Record is the checked record (nil for nil Verdicts).
func (v *Verdicts) Record() *Record {
	if v == nil {
		return nil
	}
	return v.record
}

// Digest returns the verified digest of a covered child image reference.
func (v *Verdicts) Digest(ref string) (string, bool) {
	if v == nil {
		return "", false
	}
	img, ok := v.covered[ref]
	return img.Digest, ok
}

// ImagePolicy returns the verdict of the ClusterImagePolicy named policy
// on the covered child image ref (false when the image is not covered or
// the policy was not applied to it).
func (v *Verdicts) ImagePolicy(ref, kind, policy string) (Result, bool) {
	if v == nil {
		return Result{}, false
	}
	img, ok := v.covered[ref]
	if !ok {
		return Result{}, false
	}
	for _, res := range v.record.Results {
		if res.Image == img.Ref && res.Kind == kind && res.Name == policy && res.Rule == "" {
			return res, true
		}
	}
	return Result{}, false
}

// Rule returns the verdicts of a Kyverno verifyImages rule (by its name
// without an autogen prefix) of the policy (kind, key) on the child, when
// every image of the child is exactly a record reference and the rule was
// applied: the rule then sees exactly the images it saw when the record
// was made (and has no tag left to pin). Each result's Image is the
// child's reference. False otherwise.
func (v *Verdicts) Rule(kind, policy, rule string) ([]Result, bool) {
	if v == nil || !v.all || !v.exact {
		return nil, false
	}
	applied := false
	for _, p := range v.record.Policies {
		if p.Kind == kind && p.Name == policy {
			for _, r := range p.Rules {
				applied = applied || r == rule
			}
		}
	}
	if !applied {
		return nil, false
	}
	childRef := make(map[string]string, len(v.covered))
	for ref, img := range v.covered {
		childRef[img.Ref] = ref
	}
	var out []Result
	for _, res := range v.record.Results {
		if res.Kind == kind && res.Name == policy && res.Rule == rule {
			res.Image = childRef[res.Image]
			out = append(out, res)
		}
	}
	return out, true
}
