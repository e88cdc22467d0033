package keyref

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/portcullis/portcullis/internal/keys"
)

// maxFileSize bounds a key file read into memory.
const maxFileSize = 1 << 20

// SecretReader reads Secrets; regauth.Reader satisfies it. A missing Secret
// must be reported with an error for which apierrors.IsNotFound is true.
type SecretReader interface {
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
}

// SecretReaderFunc adapts a function to SecretReader.
type SecretReaderFunc func(ctx context.Context, namespace, name string) (*corev1.Secret, error)

// Secret implements SecretReader.
func (f SecretReaderFunc) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return f(ctx, namespace, name)
}

var _ SecretReader = SecretReaderFunc(nil)

// Load returns the public keys of src, in order. r is used only for Secret
// sources and may be nil otherwise. Errors are *Error values naming src.
func Load(ctx context.Context, r SecretReader, src Source) ([]keys.PublicKey, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	var (
		out []keys.PublicKey
		err error
	)
	switch {
	case src.Data != "":
		out, err = parse([]byte(src.Data), false)
	case src.Secret != nil:
		out, err = loadSecret(ctx, r, *src.Secret)
	case src.File != "":
		out, err = loadFile(ctx, src.File)
	default:
		err = &Error{Kind: ErrUnsupported, Msg: "KMS and hardware-token keys are not supported (no cloud credentials); export the public key and give it as data, a secret or a file"}
	}
	if err != nil {
		return nil, withSource(err, src)
	}
	return out, nil
}

// withSource names src in an *Error that lacks a source.
func withSource(err error, src Source) error {
	var e *Error
	if errors.As(err, &e) && e.Source == "" {
		cp := *e
		cp.Source = src.String()
		return &cp
	}
	return err
}

func loadSecret(ctx context.Context, r SecretReader, ref SecretRef) ([]keys.PublicKey, error) {
	if r == nil {
		return nil, &Error{Kind: ErrInvalidSource, Msg: "no secret reader configured"}
	}
	s, err := r.Secret(ctx, ref.Namespace, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		return nil, &Error{Kind: ErrNotFound, Msg: "secret does not exist", Err: err}
	case err != nil:
		return nil, &Error{Kind: ErrUnavailable, Msg: "reading the secret", Err: err}
	}
	if ref.Entry != "" {
		b, ok := s.Data[ref.Entry]
		if !ok {
			return nil, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("secret has no %q entry (entries: %s)", ref.Entry, entryNames(s))}
		}
		return parse(b, true) // cosign reads the first PEM block only
	}
	// policy-controller: exactly one entry, of any name.
	switch len(s.Data) {
	case 0:
		return nil, &Error{Kind: ErrNotFound, Msg: "secret contains no data (policy-controller wants exactly one entry holding the public key)"}
	case 1:
	default:
		return nil, &Error{Kind: ErrInvalidKey, Msg: fmt.Sprintf("secret has %d data entries (%s); policy-controller supports exactly one", len(s.Data), entryNames(s))}
	}
	var name string
	for n := range s.Data {
		name = n
	}
	out, err := parse(s.Data[name], false)
	var e *Error
	if errors.As(err, &e) {
		cp := *e
		cp.Msg = fmt.Sprintf("entry %q: %s", name, e.Msg)
		return nil, &cp
	}
	return out, err
}

func entryNames(s *corev1.Secret) string {
	if len(s.Data) == 0 {
		return "none"
	}
	names := make([]string, 0, len(s.Data))
	for n := range s.Data {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func loadFile(ctx context.Context, path string) ([]keys.PublicKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: ErrUnavailable, Err: err}
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Kind: ErrNotFound, Msg: "file does not exist", Err: err}
	case err != nil:
		return nil, &Error{Kind: ErrUnavailable, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, &Error{Kind: ErrUnavailable, Err: err}
	}
	if len(b) > maxFileSize {
		return nil, &Error{Kind: ErrInvalidKey, Msg: fmt.Sprintf("file larger than %d bytes", maxFileSize)}
	}
	return parse(b, false)
}
