package kubescape

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/portcullis/portcullis/internal/imageverify"
)

// RegistrySignatures answers the cosign builtins from the images'
// registries through an imageverify.Verifier, with Kubescape's meaning:
// cosign.has_signature is true when the image has any cosign signature
// (unverified, as `cosign.FetchSignaturesForReference` lists them),
// cosign.verify when one of them verifies with the key (offline: no
// transparency log). An image without signatures, one that does not
// exist, a signature made by another key and a key that does not parse
// are answers (false); a registry that cannot be reached or does not
// answer is an error, which makes the rule skipped with that reason
// instead of failing every image.
type RegistrySignatures struct {
	Verifier *imageverify.Verifier
}

var _ ImageSignatures = RegistrySignatures{}

// HasSignature implements ImageSignatures.
func (s RegistrySignatures) HasSignature(ctx context.Context, image string) (bool, error) {
	_, err := s.Verifier.HasSignatures(ctx, image)
	return signatureAnswer(image, err)
}

// VerifyKey implements ImageSignatures.
func (s RegistrySignatures) VerifyKey(ctx context.Context, image string, publicKeyPEM []byte) (bool, error) {
	_, err := s.Verifier.VerifyKey(ctx, image, publicKeyPEM)
	return signatureAnswer(image, err)
}

// signatureAnswer turns a verification error into the builtin's answer:
// true without error, false for a verdict about the image or key, the
// error when the registry gave none.
func signatureAnswer(image string, err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, imageverify.ErrNoSignatures), errors.Is(err, imageverify.ErrSignatureMismatch),
		errors.Is(err, imageverify.ErrNotFound), errors.Is(err, imageverify.ErrInvalidKey),
		errors.Is(err, imageverify.ErrUntrusted):
		return false, nil
	case errors.Is(err, imageverify.ErrRegistry):
		return false, err
	}
	// An unparseable reference: Kubescape's name.ParseReference fails and
	// the builtin answers false.
	if errors.Is(err, &name.ErrBadName{}) {
		return false, nil
	}
	return false, fmt.Errorf("check the signatures of %s: %w", image, err)
}
