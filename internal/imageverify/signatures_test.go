package imageverify

import (
	"errors"
	"testing"
	"time"
)

// TestHasSignatures checks HasSignatures against a real registry: a
// signed image (by tag and by digest) has signatures whoever signed it,
// an unsigned one has none, a missing image is not found, and a registry
// nobody answers on is a registry error.
func TestHasSignatures(t *testing.T) {
	t.Parallel()
	reg := startRegistry(t)
	signed := reg.PushRandom(t, "app", "signed")
	reg.Sign(t, "app", signed, newKey(t), nil)
	reg.PushRandom(t, "app", "unsigned")
	v := New(Options{FetchTimeout: 5 * time.Second})
	ctx := withTimeout(t, time.Minute)
	for _, ref := range []string{reg.Ref("app", "signed"), reg.Ref("app", signed.String())} {
		res, err := v.HasSignatures(ctx, ref)
		if err != nil || !res.Verified || res.Digest != signed.String() {
			t.Errorf("%s: %+v, %v: want signatures", ref, res, err)
		}
	}
	cases := map[string]error{
		reg.Ref("app", "unsigned"): ErrNoSignatures,
		reg.Ref("app", "missing"):  ErrNotFound,
		freeAddr(t) + "/app:1":     ErrRegistry,
		"Not A Reference":          nil,
	}
	for ref, want := range cases {
		res, err := v.HasSignatures(ctx, ref)
		if res.Verified || err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("%s: %+v, %v: want %v", ref, res, err, want)
		}
	}
}
