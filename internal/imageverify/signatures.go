package imageverify

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
)

// HasSignatures reports whether ref has cosign signatures at all, without
// verifying them (what `cosign tree` lists; Kubescape's
// cosign.has_signature): it resolves ref and reads its
// "sha256-<digest>.sig" tag. The Result carries the digest and, when
// Verified is true, how many signatures there are. Errors match the
// package's Err values: ErrNoSignatures when the tag is missing or holds
// no signature, ErrNotFound when the image does not exist, ErrRegistry
// when the registry could not answer. Answers are not cached.
func (v *Verifier) HasSignatures(ctx context.Context, ref string, opts ...CallOption) (Result, error) {
	call := imagepolicy.ApplyCallOptions(opts)
	r, err := v.parse(ref)
	if err != nil {
		return Result{}, err
	}
	d, known := v.knownDigest(r)
	var res resolved
	if !known {
		rc, err := v.startResolve(ctx, r, ref, call)
		if err != nil {
			return Result{}, err
		}
		if res, err = rc.wait(ctx); err != nil {
			return Result{}, classify(ref, err, nil, ctx)
		}
		d = res.digest
	}
	out := Result{Digest: d.DigestStr()}
	repo := d.Context().String()
	if err := v.faults.check(ctx, repo, ref, v.opts.FetchTimeout); err != nil {
		return out, err
	}
	fctx, cancel := detach(ctx, v.opts.FetchTimeout)
	defer cancel()
	start := v.opts.Now()
	p, rec := res.puller, res.rec
	if p == nil {
		if p, rec, err = v.newPuller(call.Keychain); err != nil {
			return out, err
		}
	}
	ropts := ociremote.WithRemoteOptions(remote.WithContext(fctx), remote.Reuse(p))
	tag, err := ociremote.SignatureTag(d, ropts)
	if err != nil {
		return out, fmt.Errorf("imageverify: %s: signature tag: %w", ref, err)
	}
	n, err := countSignatures(tag, ropts)
	if err != nil {
		err = classify(ref, err, rec, fctx)
		if errors.Is(err, ErrRegistry) {
			v.faults.record(fctx, repo, start, err)
		}
		out.Reason = err.Error()
		return out, err
	}
	v.faults.forget(repo)
	if n == 0 {
		err := fmt.Errorf("imageverify: %s: %w", ref, ErrNoSignatures)
		out.Reason = err.Error()
		return out, err
	}
	out.Verified = true
	out.Reason = fmt.Sprintf("%s@%s has %d signatures (not verified)", d.Context(), d.DigestStr(), n)
	return out, nil
}

// countSignatures counts the signatures in the signature image at tag (a
// missing tag holds none).
func countSignatures(tag name.Tag, opts ...ociremote.Option) (int, error) {
	sigs, err := ociremote.Signatures(tag, opts...)
	if err != nil {
		return 0, err
	}
	l, err := sigs.Get()
	if err != nil {
		return 0, err
	}
	return len(l), nil
}
