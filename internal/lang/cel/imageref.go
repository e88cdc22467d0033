package cel

import (
	"fmt"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/portcullis/portcullis/internal/imageref"
)

// ImageReference is a parsed image reference as Kyverno's CEL image
// library shows it: go-containerregistry's view (Docker Hub is
// "index.docker.io", single-component Docker Hub repositories get the
// implicit "library/" namespace, a reference without tag or digest has the
// tag "latest", and a reference with both a tag and a digest is a digest
// reference). It is what the CEL values of parseImageReference() convert
// to in Go.
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

// ParseImageReference parses an image reference like Kyverno's
// parseImageReference() CEL function, with go-containerregistry's
// name.ParseReference (through imageref).
func ParseImageReference(s string) (ImageReference, error) {
	r, err := imageref.Parse(s)
	if err != nil {
		return ImageReference{}, err
	}
	return imageReference(r), nil
}

func imageReference(r imageref.Ref) ImageReference {
	return ImageReference{Original: r.String(), Registry: r.Registry(), Repository: r.Repository(), Tag: r.Tag(), Digest: r.Digest()}
}

// imageType is the CEL type of parseImageReference() results.
var imageType = cel.OpaqueType("kyverno.image")

// imageVal is the CEL value of a parsed image reference.
type imageVal struct{ ref imageref.Ref }

func (v imageVal) ConvertToNative(t reflect.Type) (any, error) {
	switch {
	case reflect.TypeOf(ImageReference{}).AssignableTo(t):
		return imageReference(v.ref), nil
	case reflect.TypeOf("").AssignableTo(t):
		return v.ref.String(), nil
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
func (v imageVal) Value() any     { return imageReference(v.ref) }

func parseImageBinding(arg ref.Val) ref.Val {
	s, ok := arg.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	r, err := imageref.Parse(string(s))
	if err != nil {
		return types.WrapErr(err)
	}
	return imageVal{ref: r}
}

func imageAccessor(f func(imageref.Ref) ref.Val) func(ref.Val) ref.Val {
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
	member := func(name, id string, result *cel.Type, f func(imageref.Ref) ref.Val) cel.EnvOption {
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
			_, err := imageref.Parse(string(s))
			return types.Bool(err == nil)
		}))),
		member("containsDigest", "image_contains_digest", cel.BoolType, func(r imageref.Ref) ref.Val { return types.Bool(r.Digest() != "") }),
		member("registry", "image_registry", cel.StringType, func(r imageref.Ref) ref.Val { return types.String(r.Registry()) }),
		member("repository", "image_repository", cel.StringType, func(r imageref.Ref) ref.Val { return types.String(r.Repository()) }),
		member("identifier", "image_identifier", cel.StringType, func(r imageref.Ref) ref.Val { return types.String(r.Identifier()) }),
		member("identifierWithSeparator", "image_identifier_with_separator", cel.StringType, func(r imageref.Ref) ref.Val {
			if r.Digest() != "" {
				return types.String("@" + r.Digest())
			}
			return types.String(":" + r.Tag())
		}),
		member("tag", "image_tag", cel.StringType, func(r imageref.Ref) ref.Val { return types.String(r.Tag()) }),
		member("digest", "image_digest", cel.StringType, func(r imageref.Ref) ref.Val { return types.String(r.Digest()) }),
	}
}
