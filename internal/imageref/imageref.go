package imageref

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHubAlias is the name Docker Hub is written as; go-containerregistry
// calls it name.DefaultRegistry ("index.docker.io").
const dockerHubAlias = "docker.io"

// Ref is a parsed image reference. The zero value is not a valid reference.
// Refs are comparable: two parses of the same string with the same options
// are equal.
type Ref struct {
	original string

	// As written (after Kyverno's default registry is added, with the
	// Kyverno option).
	host       string // registry; "" when none was written
	path       string // repository path after the registry
	tag        string // "" when none was written
	digest     string // "algorithm:hex", "" when none
	hostInPath bool   // Kyverno: host is a path component (not a domain name) shown as the registry

	// go-containerregistry's view.
	registry   string // "index.docker.io" for Docker Hub
	repository string // "library/nginx" for Docker Hub official images

	// kyvernoRegistry is the registry Info shows when none was written.
	kyvernoRegistry string
}

// Option changes how Parse reads a reference.
type Option func(*options)

type options struct {
	kyverno         bool
	defaultRegistry string
}

// Parse parses an image reference ("nginx", "ghcr.io/org/app:v1",
// "localhost:5000/app@sha256:…", "app:v1@sha256:…"). Without options it
// accepts exactly what go-containerregistry's name.ParseReference accepts
// (weak validation) and returns its error otherwise.
func Parse(s string, opts ...Option) (Ref, error) {
	o := options{defaultRegistry: dockerHubAlias}
	for _, opt := range opts {
		opt(&o)
	}
	if o.kyverno {
		return parseKyverno(s, o.defaultRegistry)
	}
	ref, err := name.ParseReference(s, name.WeakValidation)
	if err != nil {
		return Ref{}, err
	}
	r := Ref{original: s, kyvernoRegistry: o.defaultRegistry}
	p := split(s, func(first string) bool {
		return first == "localhost" || strings.ContainsAny(first, ".:")
	})
	r.host, r.path, r.tag, r.digest = p.host, p.path, p.tag, p.digest
	r.registry = ref.Context().RegistryStr()
	r.repository = ref.Context().RepositoryStr()
	return r, nil
}

// parts are the components of a reference as written.
type parts struct {
	host, path, tag, digest string
	// hasTag and hasDigest say whether the separator was written (the
	// component after it may be empty).
	hasTag, hasDigest bool
}

// split cuts a reference into registry, path, tag and digest as written:
// the digest follows the first '@', the tag the last ':' after the last
// '/', and the first path component is the registry when isHost says so.
// It does not validate anything.
func split(s string, isHost func(first string) bool) parts {
	var p parts
	rest, digest, hasDigest := strings.Cut(s, "@")
	p.digest, p.hasDigest = digest, hasDigest
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, p.tag, p.hasTag = rest[:i], rest[i+1:], true
	}
	p.path = rest
	if first, remainder, ok := strings.Cut(rest, "/"); ok && isHost(first) {
		p.host, p.path = first, remainder
	}
	return p
}

// String returns the reference as written.
func (r Ref) String() string { return r.original }

// Registry is the registry host as go-containerregistry names it:
// "index.docker.io" for Docker Hub (written "docker.io" or not at all).
func (r Ref) Registry() string { return r.registry }

// Repository is the repository path as go-containerregistry names it, with
// Docker Hub's implicit "library/" namespace ("library/nginx").
func (r Ref) Repository() string { return r.repository }

// Tag is the tag of a tag reference ("latest" when none is written); a
// reference with a digest is a digest reference and has no tag, even when
// one is written before the digest (go-containerregistry drops it).
func (r Ref) Tag() string {
	if r.digest != "" {
		return ""
	}
	if r.tag == "" {
		return name.DefaultTag
	}
	return r.tag
}

// Digest is the digest ("sha256:…"), or "" for a tag reference.
func (r Ref) Digest() string { return r.digest }

// Identifier is the digest of a digest reference, else its tag.
func (r Ref) Identifier() string {
	if r.digest != "" {
		return r.digest
	}
	return r.Tag()
}

// Name is the fully qualified reference as go-containerregistry writes it:
// "index.docker.io/library/nginx:latest", "ghcr.io/org/app@sha256:…".
// ClusterImagePolicy globs match against it.
func (r Ref) Name() string {
	if r.digest != "" {
		return r.registry + "/" + r.repository + "@" + r.digest
	}
	return r.registry + "/" + r.repository + ":" + r.Tag()
}
