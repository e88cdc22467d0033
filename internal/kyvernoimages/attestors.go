package kyvernoimages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/keys"
)

// leafFunc verifies one (non-nested) attestor entry for an image and
// returns the image's digest.
type leafFunc func(ctx context.Context, a *kyvernov1.Attestor, path string, im image) (string, error)

// entryError is the failure of one attestor entry, named by its path
// (".attestors[0].entries[1].keys"). hard marks failures that say nothing
// about the image (registry unavailable, attestor not configured).
type entryError struct {
	path string
	msg  string
	hard bool
}

func (e *entryError) Error() string { return e.path + ": " + e.msg }

// setError is an attestor set with fewer than the required verified entries.
type setError struct {
	verified, required int
	errs               []error
}

func (e *setError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

// hard reports whether the set could have verified had the entries that
// could not be checked been checked: the outcome is then undecided.
func (e *setError) hard() bool {
	undecided := 0
	for _, err := range e.errs {
		if isHard(err) {
			undecided++
		}
	}
	return undecided > 0 && e.verified+undecided >= e.required
}

func isHard(err error) bool {
	var se *setError
	if errors.As(err, &se) {
		return se.hard()
	}
	var ee *entryError
	return errors.As(err, &ee) && ee.hard
}

// statusOf is the rule status of a verification error: error when the
// outcome is undecided, fail otherwise.
func statusOf(err error) engine.Status {
	if isHard(err) {
		return engine.StatusError
	}
	return engine.StatusFail
}

// expandKeys returns the entries with every publicKeys holding several PEM
// keys split into one entry per key, as Kyverno counts them.
func expandKeys(entries []kyvernov1.Attestor) []kyvernov1.Attestor {
	out := make([]kyvernov1.Attestor, 0, len(entries))
	for _, e := range entries {
		if e.Keys != nil {
			if blocks := keys.SplitPEM([]byte(e.Keys.PublicKeys)); len(blocks) > 1 {
				for _, b := range blocks {
					cp := e
					ks := *e.Keys
					ks.PublicKeys = string(b)
					cp.Keys = &ks
					out = append(out, cp)
				}
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// attestorSet verifies an attestor set: at least its required count of
// entries (all by default) must verify. It returns the image digest.
func (r *run) attestorSet(ctx context.Context, set *kyvernov1.AttestorSet, path string, im image, leaf leafFunc) (string, error) {
	entries := expandKeys(set.Entries)
	expanded := kyvernov1.AttestorSet{Count: set.Count, Entries: entries}
	required := expanded.RequiredCount()
	verified := 0
	digest := ""
	var errs []error
	for i := range entries {
		a := &entries[i]
		ep := fmt.Sprintf("%s.entries[%d]", path, i)
		var d string
		var err error
		if len(a.Attestor) > 0 {
			nested, nerr := a.NestedSet()
			switch {
			case nerr != nil:
				err = &entryError{path: ep + ".attestor", msg: fmt.Sprintf("failed to unmarshal nested attestor: %v", nerr), hard: true}
			case nested == nil:
				err = &entryError{path: ep + ".attestor", msg: "empty nested attestor", hard: true}
			default:
				d, err = r.attestorSet(ctx, nested, ep+".attestor", im, leaf)
			}
		} else {
			d, err = leaf(ctx, a, ep, im)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		verified++
		if digest == "" {
			digest = d
		}
		if verified >= required {
			return digest, nil
		}
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no attestor entries", path))
	}
	return "", &setError{verified: verified, required: required, errs: errs}
}

// signatureEntry verifies the image's signatures with one attestor.
func (r *run) signatureEntry(ctx context.Context, a *kyvernov1.Attestor, path string, im image) (string, error) {
	check, sub, err := r.buildCheck(ctx, a)
	if err != nil {
		return "", &entryError{path: path + sub, msg: err.Error(), hard: true}
	}
	res, err := r.v.check.Verify(ctx, im.name, check)
	if err != nil {
		return "", verifyError(path+sub, err, false)
	}
	if !res.Verified {
		return "", &entryError{path: path + sub, msg: "no matching signatures"}
	}
	return res.Digest, nil
}

// verifyError words an imageverify error the way cosign and Kyverno do.
func verifyError(path string, err error, attestations bool) error {
	what := "signatures"
	if attestations {
		what = "attestations"
	}
	switch {
	case errors.Is(err, imageverify.ErrNoSignatures) && !attestations:
		return &entryError{path: path, msg: "no signatures found"}
	case errors.Is(err, imageverify.ErrNoSignatures), errors.Is(err, imageverify.ErrSignatureMismatch):
		return &entryError{path: path, msg: "no matching " + what}
	case errors.Is(err, imageverify.ErrUntrusted):
		return &entryError{path: path, msg: "no matching " + what + ": " + err.Error()}
	case errors.Is(err, imageverify.ErrNotFound):
		return &entryError{path: path, msg: err.Error()}
	}
	// Registry unavailable, invalid key, context ended: nothing was
	// learnt about the image.
	return &entryError{path: path, msg: err.Error(), hard: true}
}

// buildCheck turns an attestor into an imageverify.Check and names the
// attestor kind for error paths (".keys", ".keyless", ".certificates").
func (r *run) buildCheck(ctx context.Context, a *kyvernov1.Attestor) (imageverify.Check, string, error) {
	var check imageverify.Check
	switch {
	case a.Keys != nil:
		alg := a.SignatureAlgorithm
		if alg == "" {
			alg = a.Keys.SignatureAlgorithm
		}
		h, err := keys.ParseHash(alg)
		if err != nil {
			return check, ".keys", err
		}
		check.Hash = h
		switch k := a.Keys; {
		case k.PublicKeys != "":
			parsed, err := keys.ParsePublicKeys([]byte(k.PublicKeys))
			if err != nil {
				return check, ".keys", fmt.Errorf("invalid publicKeys: %w", err)
			}
			for _, pk := range parsed {
				check.Keys = append(check.Keys, pk.PEM)
			}
		case k.Secret != nil || k.KMS != "":
			ref, err := keyRef(r.rule, k)
			if err != nil {
				return check, ".keys", fmt.Errorf("load key %s: %w", ref, err)
			}
			if r.v.opts.Keys == nil {
				return check, ".keys", fmt.Errorf("cannot load key %s: no key loader is configured", ref)
			}
			loaded, err := r.v.opts.Keys.PublicKeys(ctx, ref)
			if err != nil {
				return check, ".keys", fmt.Errorf("load key %s: %w", ref, err)
			}
			if len(loaded) == 0 {
				return check, ".keys", fmt.Errorf("load key %s: no public key found", ref)
			}
			check.Keys = loaded
		default:
			return check, ".keys", errors.New("keys has no publicKeys, secret or kms")
		}
		return check, ".keys", nil
	case a.Keyless != nil, a.Certificates != nil:
		sub := ".keyless"
		if a.Certificates != nil {
			sub = ".certificates"
		}
		if r.v.opts.Certificates == nil {
			return check, sub, errors.New("certificate verification is not configured")
		}
		trust, err := r.v.opts.Certificates(ctx, a)
		if err != nil {
			return check, sub, fmt.Errorf("certificate trust: %w", err)
		}
		if trust == nil {
			return check, sub, errors.New("certificate verification is not configured")
		}
		check.Certificates = trust
		return check, sub, nil
	}
	return check, "", errors.New("attestor has no keys, keyless or certificates")
}
