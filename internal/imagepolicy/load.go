package imagepolicy

import (
	"crypto"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	sigjson "sigs.k8s.io/json"

	sigv1alpha1 "github.com/portcullis/portcullis/api/sigstore/v1alpha1"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policyerr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultFulcioURL is the keyless URL used when neither url nor ca-cert is
// set, as policy-controller defaults it.
const DefaultFulcioURL = "https://fulcio.sigstore.dev"

// Options tune loading. The zero value follows policy-controller's
// defaults.
type Options struct {
	// AllowEmptyAuthorities accepts policies without authorities, like
	// policy-controller with fail-on-empty-authorities set to false.
	AllowEmptyAuthorities bool
	// Attestations compiles the Rego, CUE and CEL policies of
	// attestations (spec.authorities[*].attestations[*].policy.data), so
	// that a broken one is refused at load rather than failing every
	// image it covers. Nil leaves them unchecked (Policy.Unchecked lists
	// them): a build without the attestation languages (the offline
	// commands) loads such a policy, whose image checks it cannot run
	// anyway. Commands that verify images pass attest.Check.
	Attestations AttestationCompiler
}

// AttestationCompiler compiles the source of an attestation policy of
// type kind ("rego", "cue" or "cel") and returns why it does not compile
// (nil when it does). attest.Check is the implementation; it is passed in
// so that this package, and everything that loads policies, does not
// link OPA and CUE.
type AttestationCompiler func(kind, source string) error

// Policy is a validated ClusterImagePolicy with its defaults applied.
type Policy struct {
	// Source and Document locate the policy's document.
	Source   string
	Document int
	// Object is the decoded resource, defaults applied (authority names,
	// keyless URL, mode).
	Object *sigv1.ClusterImagePolicy

	// Unchecked are the fields of attestation policies whose source was
	// not compiled at load, because no Options.Attestations was given
	// ("spec.authorities[0].attestations[0].policy.data").
	Unchecked []string

	globs       []*Glob
	authorities []Authority
}

// Authority is one authority ready for a verifier.
type Authority struct {
	// Index is the position in spec.authorities.
	Index int
	// Name is the authority's name ("authority-<index>" when unnamed).
	Name string
	// Spec is the authority as written, defaults applied.
	Spec sigv1.Authority
	// Keys are the public keys of spec.key.data, in order (nil otherwise);
	// like policy-controller, data may hold several PEM keys.
	Keys []keys.PublicKey
	// Hash is the key's hash algorithm (sha256 by default).
	Hash crypto.Hash
	// Identities are the keyless identities with their regexps compiled.
	Identities []Identity
}

// Identity is a keyless identity; a nil regexp means the exact string is
// compared. Regexps are unanchored, as in cosign.
type Identity struct {
	Issuer, Subject             string
	IssuerRegExp, SubjectRegExp *regexp.Regexp
}

// Matches reports whether a certificate's issuer and subject satisfy the
// identity.
func (id Identity) Matches(issuer, subject string) bool {
	ok := func(s string, exact string, re *regexp.Regexp) bool {
		if re != nil {
			return re.MatchString(s)
		}
		return s == exact
	}
	return ok(issuer, id.Issuer, id.IssuerRegExp) && ok(subject, id.Subject, id.SubjectRegExp)
}

// Name is metadata.name.
func (p *Policy) Name() string { return p.Object.Name }

// Mode is "enforce" or "warn".
func (p *Policy) Mode() string { return p.Object.Spec.EffectiveMode() }

// Globs are the compiled spec.images globs.
func (p *Policy) Globs() []*Glob { return p.globs }

// Authorities lists the authorities in order; any one of them admits an
// image.
func (p *Policy) Authorities() []Authority { return p.authorities }

// Matches reports whether image is covered by one of the policy's globs.
func (p *Policy) Matches(image string) bool {
	for _, g := range p.globs {
		if g.Match(image) {
			return true
		}
	}
	return false
}

// IsClusterImagePolicy reports whether d is a policy.sigstore.dev
// ClusterImagePolicy (of any version).
func IsClusterImagePolicy(d manifest.Document) bool {
	group, _, _ := strings.Cut(d.APIVersion(), "/")
	return d.Kind() == sigv1.KindClusterImagePolicy && group == sigv1.Group
}

// Load validates the ClusterImagePolicy documents among docs (others are
// ignored) with policy-controller's default settings.
func Load(docs []manifest.Document) ([]*Policy, error) {
	return LoadWithOptions(docs, Options{})
}

// LoadWithOptions is Load with options. The valid policies are returned,
// sorted by name, even when an error (a policyerr.Errors) is returned.
func LoadWithOptions(docs []manifest.Document, opts Options) ([]*Policy, error) {
	var (
		out  []*Policy
		errs policyerr.Errors
		seen = map[string]manifest.Document{}
	)
	for _, d := range docs {
		if !IsClusterImagePolicy(d) {
			continue
		}
		p, perrs := compile(d, opts)
		errs = append(errs, perrs...)
		if p == nil {
			continue
		}
		if prev, dup := seen[p.Name()]; dup {
			errs = append(errs, &policyerr.Error{File: d.Source, Document: d.Index, Policy: p.Name(), Field: "metadata.name",
				Msg: fmt.Sprintf("duplicate ClusterImagePolicy name, already defined in %s", prev.Location())})
			continue
		}
		seen[p.Name()] = d
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

func compile(d manifest.Document, opts Options) (*Policy, policyerr.Errors) {
	var errs policyerr.Errors
	fail := func(field, msg string, err error) {
		errs = append(errs, &policyerr.Error{File: d.Source, Document: d.Index, Policy: d.Name(), Field: field, Msg: msg, Err: err})
	}
	var typ any
	switch d.APIVersion() {
	case sigv1.APIVersion:
		typ = &sigv1.ClusterImagePolicy{}
	case sigv1alpha1.APIVersion:
		typ = &sigv1alpha1.ClusterImagePolicy{}
	default:
		fail("apiVersion", fmt.Sprintf("unsupported apiVersion %q (want %s or %s)", d.APIVersion(), sigv1.APIVersion, sigv1alpha1.APIVersion), nil)
		return nil, errs
	}
	if d.Name() == "" {
		fail("metadata.name", "name is required", nil)
	}
	// Every unknown or mistyped field, with the nearest known name.
	if ferrs := manifest.CheckFields(d.Object, typ, manifest.StrictOptions{}); len(ferrs) > 0 {
		for _, fe := range ferrs {
			fail(fe.Path, fe.Msg, nil)
		}
		return nil, errs
	}
	raw, err := json.Marshal(d.Object)
	if err != nil {
		fail("", "cannot encode document", err)
		return nil, errs
	}
	strict, err := sigjson.UnmarshalStrict(raw, typ)
	if err != nil {
		field, msg := typeErrorField(err.Error())
		fail(field, msg, nil)
		return nil, errs
	}
	for _, s := range strict {
		field := ""
		if fe, ok := s.(sigjson.FieldError); ok {
			field = fe.FieldPath()
		}
		kind, _, _ := strings.Cut(s.Error(), " \"")
		fail(field, kind+" (not part of "+d.APIVersion()+" ClusterImagePolicy)", nil)
	}
	var cip *sigv1.ClusterImagePolicy
	switch t := typ.(type) {
	case *sigv1.ClusterImagePolicy:
		cip = t
	case *sigv1alpha1.ClusterImagePolicy:
		// policy-controller converts v1alpha1 to v1beta1 and validates
		// the same rules.
		cip = ConvertV1alpha1(t)
	}
	v := &validator{opts: opts}
	v.spec(&cip.Spec)
	for _, pr := range v.problems {
		field, msg := pr.field, pr.msg
		if d.APIVersion() == sigv1alpha1.APIVersion && strings.Contains(field, "policy") {
			// v1alpha1 writes a policy's remote url as policy.url.
			field = strings.Replace(field, ".remote.url", ".url", 1)
			msg = strings.ReplaceAll(msg, "remote", "url")
		}
		fail(field, msg, nil)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	p := build(d, cip)
	p.Unchecked = v.unchecked
	return p, nil
}

// typeErrorField extracts the field from "json: cannot unmarshal X into Go
// struct field T.a.b of type Y".
func typeErrorField(msg string) (string, string) {
	const marker = "Go struct field "
	i := strings.Index(msg, marker)
	if i < 0 {
		return "", msg
	}
	rest := msg[i+len(marker):]
	field, typ, ok := strings.Cut(rest, " of type ")
	if !ok {
		return "", msg
	}
	if _, after, ok := strings.Cut(field, "."); ok {
		field = after
	}
	what := strings.TrimPrefix(msg[:i], "json: cannot unmarshal ")
	what = strings.TrimSuffix(strings.TrimSpace(what), " into")
	return field, fmt.Sprintf("wrong type: got %s, want %s", what, typ)
}

// build applies policy-controller's defaults and compiles what matching
// and verification need; the spec is already valid.
func build(d manifest.Document, cip *sigv1.ClusterImagePolicy) *Policy {
	p := &Policy{Source: d.Source, Document: d.Index, Object: cip}
	if cip.Spec.Mode == "" {
		cip.Spec.Mode = sigv1.ModeEnforce
	}
	for _, img := range cip.Spec.Images {
		g, _ := CompileGlob(img.Glob)
		p.globs = append(p.globs, g)
	}
	for i := range cip.Spec.Authorities {
		a := &cip.Spec.Authorities[i]
		a.Name = authorityName(a, i)
		if a.Keyless != nil && a.Keyless.URL == "" && a.Keyless.CACert == nil {
			a.Keyless.URL = DefaultFulcioURL
		}
		out := Authority{Index: i, Name: a.Name, Spec: *a}
		if a.Key != nil {
			out.Hash, _ = HashAlgorithm(a.Key.HashAlgorithm)
			if a.Key.Data != "" {
				out.Keys, _ = keys.ParsePublicKeys([]byte(a.Key.Data))
			}
		}
		if a.Keyless != nil {
			for _, id := range a.Keyless.Identities {
				c := Identity{Issuer: id.Issuer, Subject: id.Subject}
				if id.IssuerRegExp != "" {
					c.IssuerRegExp = regexp.MustCompile(id.IssuerRegExp)
				}
				if id.SubjectRegExp != "" {
					c.SubjectRegExp = regexp.MustCompile(id.SubjectRegExp)
				}
				out.Identities = append(out.Identities, c)
			}
		}
		p.authorities = append(p.authorities, out)
	}
	return p
}

// Split separates the sigstore ClusterImagePolicy documents (group
// policy.sigstore.dev) from the others.
func Split(docs []manifest.Document) (images, rest []manifest.Document) {
	for _, d := range docs {
		if strings.HasPrefix(d.APIVersion(), "policy.sigstore.dev/") {
			images = append(images, d)
		} else {
			rest = append(rest, d)
		}
	}
	return images, rest
}

// MatchesResource reports whether the policy applies to an object of the
// given group, version and resource (plural) with these labels, as
// policy-controller reads spec.match: no entries match every resource;
// otherwise one entry must name the resource (group "" is the core group;
// an empty version or resource matches any) and its selector, if any, must select the
// object's labels.
func (p *Policy) MatchesResource(group, version, resource string, objLabels map[string]string) bool {
	if len(p.Object.Spec.Match) == 0 {
		return true
	}
	for _, m := range p.Object.Spec.Match {
		if (m.Resource != "" && m.Resource != resource) || m.Group != group || (m.Version != "" && m.Version != version) {
			continue
		}
		if m.Selector == nil {
			return true
		}
		sel, err := metav1.LabelSelectorAsSelector(m.Selector)
		if err != nil {
			continue // refused at load; never matches
		}
		if sel.Matches(labels.Set(objLabels)) {
			return true
		}
	}
	return false
}
