package cel

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Image reference parsing with the semantics of
// github.com/google/go-containerregistry/pkg/name.ParseReference in its
// default (non-strict) mode, which is what Kyverno's image CEL library
// uses: Docker Hub is "index.docker.io", single-component Docker Hub
// repositories get the implicit "library/" namespace, a reference without
// tag or digest has the tag "latest", and a reference with both a tag and a
// digest is a digest reference (the tag is dropped).

const (
	defaultRegistry      = "index.docker.io"
	defaultRegistryAlias = "docker.io"
	defaultTag           = "latest"
	repositoryRunes      = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
	tagRunes             = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
)

// ImageReference is a parsed image reference.
type ImageReference struct {
	// Original is the reference as written.
	Original string
	// Registry is the registry host ("index.docker.io" for Docker Hub).
	Registry string
	// Repository is the repository path ("library/nginx").
	Repository string
	// Tag is set for tag references ("latest" when none was written).
	Tag string
	// Digest is set for digest references ("sha256:…").
	Digest string
}

// Identifier is the tag of a tag reference or the digest of a digest one.
func (r ImageReference) Identifier() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// ParseImageReference parses an image reference like Kyverno's
// parseImageReference() CEL function.
func ParseImageReference(s string) (ImageReference, error) {
	if ref, err := parseTagReference(s); err == nil {
		return ref, nil
	}
	if ref, err := parseDigestReference(s); err == nil {
		return ref, nil
	}
	return ImageReference{}, fmt.Errorf("could not parse reference: %s", s)
}

func checkRunes(what, s, allowed string, minLen, maxLen int) error {
	n := utf8.RuneCountInString(s)
	if n < minLen || n > maxLen {
		return fmt.Errorf("%s must be between %d and %d characters in length: %s", what, minLen, maxLen, s)
	}
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return fmt.Errorf("%s can only contain the characters `%s`: %s", what, allowed, s)
		}
	}
	return nil
}

func parseRepository(name string) (registry, repository string, err error) {
	if name == "" {
		return "", "", fmt.Errorf("a repository name must be specified")
	}
	repo := name
	if first, rest, ok := strings.Cut(name, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		registry, repo = first, rest
	}
	if err := checkRunes("repository", repo, repositoryRunes, 2, 255); err != nil {
		return "", "", err
	}
	if u, err := url.Parse("//" + registry); err != nil || u.Host != registry {
		return "", "", fmt.Errorf("registries must be valid RFC 3986 URI authorities: %s", registry)
	}
	if registry == "" || registry == defaultRegistryAlias {
		registry = defaultRegistry
	}
	if registry == defaultRegistry && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return registry, repo, nil
}

func parseTagReference(s string) (ImageReference, error) {
	base, tag := s, ""
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		base, tag = s[:i], s[i+1:]
		if tag == "" {
			return ImageReference{}, fmt.Errorf("%s must specify a tag name after the colon", s)
		}
		if err := checkRunes("tag", tag, tagRunes, 1, 128); err != nil {
			return ImageReference{}, err
		}
	}
	if tag == "" {
		tag = defaultTag
	}
	registry, repo, err := parseRepository(base)
	if err != nil {
		return ImageReference{}, err
	}
	return ImageReference{Original: s, Registry: registry, Repository: repo, Tag: tag}, nil
}

func parseDigestReference(s string) (ImageReference, error) {
	parts := strings.Split(s, "@")
	if len(parts) != 2 {
		return ImageReference{}, fmt.Errorf("a digest must contain exactly one '@' separator: %s", s)
	}
	base, dig := parts[0], parts[1]
	hex, ok := strings.CutPrefix(dig, "sha256:")
	if !ok {
		return ImageReference{}, fmt.Errorf("unsupported digest algorithm: %s", dig)
	}
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return ImageReference{}, fmt.Errorf("invalid checksum digest format: %s", dig)
	}
	// A tag before the digest is accepted and dropped.
	if t, err := parseTagReference(base); err == nil {
		return ImageReference{Original: s, Registry: t.Registry, Repository: t.Repository, Digest: dig}, nil
	}
	registry, repo, err := parseRepository(base)
	if err != nil {
		return ImageReference{}, err
	}
	return ImageReference{Original: s, Registry: registry, Repository: repo, Digest: dig}, nil
}

// imageType is the CEL type of parseImageReference() results.
var imageType = cel.OpaqueType("kyverno.image")

// imageVal is the CEL value of a parsed image reference.
type imageVal struct{ ref ImageReference }

func (v imageVal) ConvertToNative(t reflect.Type) (any, error) {
	switch {
	case reflect.TypeOf(v.ref).AssignableTo(t):
		return v.ref, nil
	case reflect.TypeOf("").AssignableTo(t):
		return v.ref.Original, nil
	}
	return nil, fmt.Errorf("type conversion error from 'kyverno.image' to '%v'", t)
}

func (v imageVal) ConvertToType(t ref.Type) ref.Val {
	switch t.TypeName() {
	case imageType.TypeName():
		return v
	case types.TypeType.TypeName():
		return imageType
	}
	return types.NewErr("type conversion error from 'kyverno.image' to '%s'", t.TypeName())
}

func (v imageVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(imageVal)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return types.Bool(v.ref == o.ref)
}

func (v imageVal) Type() ref.Type { return imageType }
func (v imageVal) Value() any     { return v.ref }

func parseImageBinding(arg ref.Val) ref.Val {
	s, ok := arg.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	r, err := ParseImageReference(string(s))
	if err != nil {
		return types.WrapErr(err)
	}
	return imageVal{ref: r}
}

func imageAccessor(f func(ImageReference) ref.Val) func(ref.Val) ref.Val {
	return func(arg ref.Val) ref.Val {
		v, ok := arg.(imageVal)
		if !ok {
			return types.MaybeNoSuchOverloadErr(arg)
		}
		return f(v.ref)
	}
}

// imageLibrary is Kyverno's image reference library.
func imageLibrary() []cel.EnvOption {
	member := func(name, id string, result *cel.Type, f func(ImageReference) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.MemberOverload(id, []*cel.Type{imageType}, result, cel.UnaryBinding(imageAccessor(f))))
	}
	return []cel.EnvOption{
		cel.Function("parseImageReference", cel.Overload("string_to_image", []*cel.Type{cel.StringType}, imageType, cel.UnaryBinding(parseImageBinding))),
		// Deprecated alias kept by Kyverno.
		cel.Function("image", cel.Overload("string_to_image_deprecated", []*cel.Type{cel.StringType}, imageType, cel.UnaryBinding(parseImageBinding))),
		cel.Function("isImage", cel.Overload("is_image_string", []*cel.Type{cel.StringType}, cel.BoolType, cel.UnaryBinding(func(arg ref.Val) ref.Val {
			s, ok := arg.(types.String)
			if !ok {
				return types.MaybeNoSuchOverloadErr(arg)
			}
			_, err := ParseImageReference(string(s))
			return types.Bool(err == nil)
		}))),
		member("containsDigest", "image_contains_digest", cel.BoolType, func(r ImageReference) ref.Val { return types.Bool(r.Digest != "") }),
		member("registry", "image_registry", cel.StringType, func(r ImageReference) ref.Val { return types.String(r.Registry) }),
		member("repository", "image_repository", cel.StringType, func(r ImageReference) ref.Val { return types.String(r.Repository) }),
		member("identifier", "image_identifier", cel.StringType, func(r ImageReference) ref.Val { return types.String(r.Identifier()) }),
		member("identifierWithSeparator", "image_identifier_with_separator", cel.StringType, func(r ImageReference) ref.Val {
			if r.Digest != "" {
				return types.String("@" + r.Digest)
			}
			return types.String(":" + r.Tag)
		}),
		member("tag", "image_tag", cel.StringType, func(r ImageReference) ref.Val { return types.String(r.Tag) }),
		member("digest", "image_digest", cel.StringType, func(r ImageReference) ref.Val { return types.String(r.Digest) }),
	}
}
