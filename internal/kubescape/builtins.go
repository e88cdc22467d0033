package kubescape

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
	"github.com/open-policy-agent/opa/v1/types"
)

// ImageSignatures answers the cosign builtins of the library's rules
// (cosign.has_signature, cosign.verify). Without one, a rule calling them
// cannot be evaluated and its resources are reported skipped. An error
// means there is no answer (the registry could not be reached): the rule
// evaluation stops and the rule is skipped with the error as the reason,
// never passed or failed. RegistrySignatures implements it.
type ImageSignatures interface {
	// HasSignature reports whether the image has a cosign signature.
	HasSignature(ctx context.Context, image string) (bool, error)
	// VerifyKey reports whether the image has a cosign signature made by
	// the PEM public key.
	VerifyKey(ctx context.Context, image string, publicKeyPEM []byte) (bool, error)
}

// errNoSignatures is the evaluation error of a cosign builtin when the
// library has no ImageSignatures.
var errNoSignatures = errors.New("image signature checks need registry access, which this scan does not have")

// Declarations of the builtins Kubescape adds to OPA. They are given to
// each rule's compiler and query (never registered globally).
var (
	declParseNormalizedName = &rego.Function{
		Name:    "image.parse_normalized_name",
		Decl:    types.NewFunction(types.Args(types.S), types.S),
		Memoize: true,
	}
	declCosignHasSignature = &rego.Function{
		Name:             "cosign.has_signature",
		Decl:             types.NewFunction(types.Args(types.S), types.B),
		Memoize:          true,
		Nondeterministic: true,
	}
	declCosignVerify = &rego.Function{
		Name:             "cosign.verify",
		Decl:             types.NewFunction(types.Args(types.S, types.A), types.B),
		Memoize:          true,
		Nondeterministic: true,
	}
)

// declAnyTest is Portcullis's own builtin, which anyTest (hoistdata.go)
// calls: portcullis.any_test(f, n, list, args) is true when the builtin
// f holds for args with some element of list in position n.
var declAnyTest = &rego.Function{
	Name: "portcullis.any_test",
	Decl: types.NewFunction(types.Args(types.S, types.N, types.A, types.NewArray(nil, types.A)), types.B),
}

// builtinDecls are the declarations for a compiler.
func builtinDecls() map[string]*ast.Builtin {
	out := map[string]*ast.Builtin{}
	for _, f := range []*rego.Function{declParseNormalizedName, declCosignHasSignature, declCosignVerify, declAnyTest} {
		out[f.Name] = &ast.Builtin{Name: f.Name, Decl: f.Decl, Nondeterministic: f.Nondeterministic}
	}
	return out
}

// builtinOptions are the implementations for one query; sig may be nil.
func builtinOptions(sig ImageSignatures) []func(*rego.Rego) {
	return []func(*rego.Rego){
		rego.Function1(declParseNormalizedName, func(_ rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
			s, err := builtins.StringOperand(a.Value, 1)
			if err != nil {
				return nil, fmt.Errorf("invalid parameter type: %w", err)
			}
			n, err := NormalizeImageName(string(s))
			if err != nil {
				return nil, err
			}
			return ast.StringTerm(n), nil
		}),
		rego.Function1(declCosignHasSignature, func(bctx rego.BuiltinContext, a *ast.Term) (*ast.Term, error) {
			s, err := builtins.StringOperand(a.Value, 1)
			if err != nil {
				return nil, fmt.Errorf("invalid parameter type: %w", err)
			}
			if sig == nil {
				return nil, errNoSignatures
			}
			ok, err := sig.HasSignature(bctx.Context, string(s))
			if err != nil {
				// The registry gave no answer: the rule cannot be
				// evaluated (it is skipped with this reason), where
				// Kubescape would answer false and fail the image.
				return nil, rego.NewHaltError(err)
			}
			return ast.BooleanTerm(ok), nil
		}),
		rego.FunctionDyn(declAnyTest, anyTestBuiltin),
		rego.Function2(declCosignVerify, func(bctx rego.BuiltinContext, a, b *ast.Term) (*ast.Term, error) {
			img, err := builtins.StringOperand(a.Value, 1)
			if err != nil {
				return nil, fmt.Errorf("invalid parameter type: %w", err)
			}
			key, err := builtins.StringOperand(b.Value, 2)
			if err != nil {
				return nil, fmt.Errorf("invalid parameter type: %w", err)
			}
			if sig == nil {
				return nil, errNoSignatures
			}
			// Keys in configuration inputs are written with "\n" escapes.
			pem := strings.ReplaceAll(string(key), `\n`, "\n")
			ok, err := sig.VerifyKey(bctx.Context, string(img), []byte(pem))
			if err != nil {
				return nil, rego.NewHaltError(err)
			}
			return ast.BooleanTerm(ok), nil
		}),
	}
}

// NormalizeImageName is image.parse_normalized_name: the reference in the
// fully qualified form of Docker's reference package ("nginx" ->
// "docker.io/library/nginx", "nginx:1.27" -> "docker.io/library/nginx:1.27",
// "index.docker.io/x/y" -> "docker.io/x/y"), tag and digest kept as written.
// Repository names must be lowercase.
func NormalizeImageName(s string) (string, error) {
	if s == "" {
		return "", errors.New("invalid reference format: repository name must have at least one component")
	}
	rest, digest, hasDigest := strings.Cut(s, "@")
	tag := ""
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, tag = rest[:i], rest[i+1:]
		if tag == "" {
			return "", fmt.Errorf("invalid reference format: %q", s)
		}
	}
	domain, path := "docker.io", rest
	if first, remainder, ok := strings.Cut(rest, "/"); ok &&
		(strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first) {
		domain, path = first, remainder
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if strings.ToLower(path) != path {
		return "", fmt.Errorf("invalid reference format: repository name (%s) must be lowercase", path)
	}
	out := domain + "/" + path
	if tag != "" {
		out += ":" + tag
	}
	if hasDigest {
		out += "@" + digest
	}
	// The grammar (characters, lengths, digest form) is go-containerregistry's.
	if _, err := name.ParseReference(out, name.WeakValidation); err != nil {
		return "", fmt.Errorf("invalid reference format: %w", err)
	}
	return out, nil
}

// anyTestBuiltin is portcullis.any_test(f, n, c, args): true when OPA's
// builtin f, called with args where the element in position n is each
// element of c in turn (an array's or set's elements, an object's values:
// what c[_] iterates over), gives a result other than false for one;
// false when it gives false, no result or an error for every element (as
// the test f(...) is undefined in the query then: builtin errors are not
// strict here). A halt error stops the evaluation as it would the call.
func anyTestBuiltin(bctx rego.BuiltinContext, terms []*ast.Term) (*ast.Term, error) {
	name, err := builtins.StringOperand(terms[0].Value, 1)
	if err != nil {
		return nil, err
	}
	n, err := builtins.IntOperand(terms[1].Value, 2)
	if err != nil {
		return nil, err
	}
	var elems []*ast.Term
	switch c := terms[2].Value.(type) {
	case *ast.Array:
		elems = make([]*ast.Term, 0, c.Len())
		c.Foreach(func(t *ast.Term) { elems = append(elems, t) })
	case ast.Set:
		elems = c.Slice()
	case ast.Object:
		elems = make([]*ast.Term, 0, c.Len())
		c.Foreach(func(_, v *ast.Term) { elems = append(elems, v) })
	default:
		return nil, builtins.NewOperandTypeErr(3, c, "array", "set", "object")
	}
	args, err := builtins.ArrayOperand(terms[3].Value, 4)
	if err != nil {
		return nil, err
	}
	f := topdown.GetBuiltin(string(name))
	if f == nil || n < 0 || n >= args.Len() {
		return nil, fmt.Errorf("portcullis.any_test: no builtin %s with an argument %d", name, n)
	}
	ops := make([]*ast.Term, args.Len())
	for i := range ops {
		ops[i] = args.Elem(i)
	}
	found := false
	for i := 0; i < len(elems) && !found; i++ {
		ops[n] = elems[i]
		err := f(bctx, ops, func(out *ast.Term) error {
			found = found || !ast.Boolean(false).Equal(out.Value)
			return nil
		})
		var halt topdown.Halt
		if errors.As(err, &halt) {
			return nil, err
		}
	}
	return ast.BooleanTerm(found), nil
}
