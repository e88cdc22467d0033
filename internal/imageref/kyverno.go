package imageref

import (
	// go-digest validates sha384 and sha512 digests only when their hash
	// implementation is linked in.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// Kyverno makes Parse read references as Kyverno's `images` variable and
// its image_normalize JMESPath function do (Kyverno's GetImageInfo):
// defaultRegistry ("docker.io" when empty) is prefixed unless the first path
// component looks like a registry (it contains '.' or ':', is "localhost",
// or has upper case), and the result must match the grammar of
// github.com/distribution/reference, with its digest accepted by go-digest.
//
// That grammar refuses references go-containerregistry accepts: path
// components with leading, trailing or doubled separators ("a..b", "a-",
// "a//b"), tags starting with '.' or '-', registry names that are not domain
// names (components with '-' at an edge), and names (registry and path)
// longer than 255 characters. It accepts references go-containerregistry
// refuses, as Kyverno does:
//   - a first component with upper case and no '.' or ':' is the registry
//     ("MyReg/app": registry "MyReg");
//   - sha384 and sha512 digests;
//   - a first component that is not a domain name (it has '_', as in
//     "my_reg.io/app") is read as part of the path, then shown as the
//     registry by Info.
//
// Errors read like Kyverno's: "bad image: <reference with the default
// registry>, defaultRegistry: …: <reason>". Registry, Repository, Tag and
// Name of a Ref parsed this way apply go-containerregistry's normalization
// (index.docker.io, "library/") to Kyverno's reading of the reference.
func Kyverno(defaultRegistry string) Option {
	return func(o *options) {
		o.kyverno = true
		if defaultRegistry != "" {
			o.defaultRegistry = defaultRegistry
		}
	}
}

// Grammar of github.com/distribution/reference (immutable lookup tables).
var (
	reDomain        = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	rePathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	reTag           = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	reDigest        = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// maxNameLength bounds registry and path together, as distribution does.
const maxNameLength = 255

// Kyverno's error for a reference that matches the grammar only in lower case.
var errUpperCase = errors.New("repository name must be lowercase")

func parseKyverno(s, defaultRegistry string) (Ref, error) {
	full := s
	if slash := strings.IndexByte(s, '/'); slash == -1 || !kyvernoHostLike(s[:slash]) {
		full = defaultRegistry + "/" + s
	}
	r, err := kyvernoGrammar(full)
	if err != nil {
		return Ref{}, fmt.Errorf("bad image: %s, defaultRegistry: %s, enableDefaultRegistryMutation: true: %w", full, defaultRegistry, err)
	}
	r.original = s
	return r, nil
}

// kyvernoHostLike is Kyverno's test for a first path component that is
// written as a registry, so that no default registry is added.
func kyvernoHostLike(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first
}

func kyvernoGrammar(full string) (Ref, error) {
	p := split(full, reDomain.MatchString)
	host, path, dig := p.host, p.path, p.digest
	if err := checkGrammar(p); err != nil {
		lower := p
		lower.path, lower.tag, lower.digest = strings.ToLower(p.path), strings.ToLower(p.tag), strings.ToLower(p.digest)
		if checkGrammar(lower) == nil {
			return Ref{}, errUpperCase
		}
		return Ref{}, err
	}
	nameLen := len(path)
	if host != "" {
		nameLen += len(host) + len("/")
	}
	if nameLen > maxNameLength {
		return Ref{}, fmt.Errorf("repository name must not be more than %d characters", maxNameLength)
	}
	if p.hasDigest {
		if err := digest.Digest(dig).Validate(); err != nil {
			return Ref{}, fmt.Errorf("invalid digest %q: %w", dig, err)
		}
	}
	r := Ref{host: host, path: path, tag: p.tag, digest: dig}
	// Kyverno shows a first component that is not a domain name as the
	// registry anyway.
	if first, rest, ok := strings.Cut(path, "/"); ok && host == "" && strings.Contains(first, "_") {
		r.host, r.path, r.hostInPath = first, rest, true
	}
	r.registry = r.host
	if r.registry == "" || r.registry == dockerHubAlias {
		r.registry = name.DefaultRegistry
	}
	r.repository = r.path
	if r.registry == name.DefaultRegistry && !strings.Contains(r.path, "/") {
		r.repository = "library/" + r.path
	}
	return r, nil
}

// checkGrammar checks the path, tag and digest of a reference against
// distribution's grammar (the registry was checked by split).
func checkGrammar(p parts) error {
	if p.path == "" {
		return errors.New("invalid reference format: empty repository path")
	}
	for _, c := range strings.Split(p.path, "/") {
		if !rePathComponent.MatchString(c) {
			return fmt.Errorf("invalid reference format: bad path component %q", c)
		}
	}
	if p.hasTag && !reTag.MatchString(p.tag) {
		return fmt.Errorf("invalid reference format: invalid tag %q", p.tag)
	}
	if p.hasDigest && !reDigest.MatchString(p.digest) {
		return fmt.Errorf("invalid reference format: invalid digest %q", p.digest)
	}
	return nil
}

// Info is an image reference as Kyverno's `images` variable shows it
// (Kyverno's ImageInfo without the JSON pointer).
type Info struct {
	// Registry is the registry as written, or the default registry
	// ("docker.io").
	Registry string
	// Path is the repository path as written ("nginx", "org/app"), as
	// Kyverno's GetImageInfo gives it (reference.Path of the reference
	// with the default registry, which adds no "library/").
	Path string
	// Name is the last path component ("nginx").
	Name string
	// Tag is the tag as written (also next to a digest), "latest" when
	// neither tag nor digest is written, else "".
	Tag string
	// Digest is the digest, or "".
	Digest string
	// Reference is registry/path followed by @digest, or by :tag when there
	// is no digest; it is what image_normalize returns.
	Reference string
	// ReferenceWithTag is registry/path:tag with the path as written (no
	// "library/"); the tag is empty for a digest-only reference
	// ("ghcr.io/app:").
	ReferenceWithTag string
}

// Info returns the reference as Kyverno shows it. Parse with the Kyverno
// option to get exactly Kyverno's view; without it, the registry shown for
// a reference without one is "docker.io" and the path is split as
// go-containerregistry splits it.
func (r Ref) Info() Info {
	in := Info{Registry: r.host, Path: r.path, Tag: r.tag, Digest: r.digest}
	if in.Registry == "" && r.kyvernoRegistry != "" {
		in.Registry = r.kyvernoRegistry
	}
	in.Name = r.path[strings.LastIndexByte(r.path, '/')+1:]
	if in.Tag == "" && in.Digest == "" {
		in.Tag = name.DefaultTag
	}
	prefix := ""
	if in.Registry != "" {
		prefix = in.Registry + "/"
	}
	in.ReferenceWithTag = prefix + r.path + ":" + in.Tag
	normalized := in.Path
	if !r.hostInPath && !strings.Contains(normalized, "/") {
		normalized = "library/" + normalized
	}
	if in.Digest != "" {
		in.Reference = prefix + normalized + "@" + in.Digest
	} else {
		in.Reference = prefix + normalized + ":" + in.Tag
	}
	return in
}
