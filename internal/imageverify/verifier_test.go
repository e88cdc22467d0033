package imageverify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestVerifyKey(t *testing.T) {
	reg := startRegistry(t)
	signer, other := newKey(t), newKey(t)

	signed := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", signed, signer, nil)

	reg.PushRandom(t, "app/unsigned", "v1")

	imgA := reg.PushRandom(t, "app/copied", "a")
	imgB := reg.PushRandom(t, "app/copied", "b")
	reg.Sign(t, "app/copied", imgA, signer, nil)
	reg.CopySignatures(t, "app/copied", imgA, imgB)

	tampered := reg.PushRandom(t, "app/tampered", "v1")
	reg.Sign(t, "app/tampered", tampered, signer, func(p []byte) []byte {
		return []byte(strings.Replace(string(p), `"optional":null`, `"optional":{"team":"mallory"}`, 1))
	})

	tests := []struct {
		name    string
		ref     string
		key     []byte
		want    bool
		wantErr error
	}{
		{name: "signed with the key", ref: reg.Ref("app/signed", "v1"), key: signer.PublicPEM, want: true},
		{name: "signed, by digest", ref: reg.Ref("app/signed", signed.String()), key: signer.PublicPEM, want: true},
		{name: "unsigned", ref: reg.Ref("app/unsigned", "v1"), key: signer.PublicPEM, wantErr: ErrNoSignatures},
		{name: "wrong key", ref: reg.Ref("app/signed", "v1"), key: other.PublicPEM, wantErr: ErrSignatureMismatch},
		{name: "signature made for another digest", ref: reg.Ref("app/copied", "b"), key: signer.PublicPEM, wantErr: ErrSignatureMismatch},
		{name: "the copied signature still verifies its own image", ref: reg.Ref("app/copied", "a"), key: signer.PublicPEM, want: true},
		{name: "tampered payload", ref: reg.Ref("app/tampered", "v1"), key: signer.PublicPEM, wantErr: ErrSignatureMismatch},
		{name: "no such tag", ref: reg.Ref("app/signed", "missing"), key: signer.PublicPEM, wantErr: ErrNotFound},
		{name: "no such repository", ref: reg.Ref("app/nothing", "v1"), key: signer.PublicPEM, wantErr: ErrNotFound},
		{name: "invalid key", ref: reg.Ref("app/signed", "v1"), key: []byte("not a key"), wantErr: ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Options{})
			res, err := v.VerifyKey(withTimeout(t, 10*time.Second), tc.ref, tc.key)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("VerifyKey(%s) error = %v, want %v", tc.ref, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.ref) {
					t.Errorf("error %q does not name the image %s", err, tc.ref)
				}
				if res.Verified {
					t.Errorf("Verified = true with error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyKey(%s): %v", tc.ref, err)
			}
			if res.Verified != tc.want {
				t.Errorf("Verified = %v, want %v (reason %q)", res.Verified, tc.want, res.Reason)
			}
			if !strings.HasPrefix(res.Digest, "sha256:") {
				t.Errorf("Digest = %q", res.Digest)
			}
			if !strings.Contains(res.Reason, res.Digest) {
				t.Errorf("Reason %q does not name the digest", res.Reason)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	reg := startRegistry(t)
	d := reg.PushRandom(t, "app/resolve", "v1")
	v := New(Options{})
	ctx := withTimeout(t, 10*time.Second)

	tests := []struct {
		name      string
		ref       string
		headFails bool
		want      string
		wantErr   error
		maxReqs   int64
	}{
		{name: "tag by HEAD", ref: reg.Ref("app/resolve", "v1"), want: d.String(), maxReqs: 2},
		{name: "tag by GET when HEAD is refused", ref: reg.Ref("app/resolve", "v1"), headFails: true, want: d.String(), maxReqs: 3},
		{name: "digest needs no request", ref: reg.Ref("app/resolve", d.String()), want: d.String(), maxReqs: 0},
		{name: "missing tag", ref: reg.Ref("app/resolve", "nope"), wantErr: ErrNotFound, maxReqs: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg.Reset()
			if tc.headFails {
				reg.SetFault(func(r *http.Request) (int, time.Duration) {
					if r.Method == http.MethodHead {
						return http.StatusMethodNotAllowed, 0
					}
					return 0, 0
				})
				defer reg.SetFault(nil)
			}
			got, err := v.Resolve(ctx, tc.ref)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Resolve error = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, tc.want)
			}
			if n := reg.Count(); n > tc.maxReqs {
				t.Errorf("%d registry requests, want ≤ %d: %v", n, tc.maxReqs, reg.Log())
			}
		})
	}
}

// TestRequestCounts records how many registry requests a verification
// costs, cold and from the cache.
func TestRequestCounts(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	d := reg.PushRandom(t, "app/counted", "v1")
	reg.Sign(t, "app/counted", d, key, nil)
	tagRef, digestRef := reg.Ref("app/counted", "v1"), reg.Ref("app/counted", d.String())
	ctx := withTimeout(t, 10*time.Second)

	tests := []struct {
		name   string
		fresh  bool // new Verifier (cold cache)
		opts   Options
		ref    string
		want   int64
		cached bool
	}{
		{name: "cold, by tag", fresh: true, ref: tagRef, want: 4},
		{name: "warm, by digest", ref: digestRef, want: 0, cached: true},
		{name: "warm, by tag (tag resolved within TagTTL)", ref: tagRef, want: 0, cached: true},
		{name: "cold, by digest", fresh: true, ref: digestRef, want: 3},
		{name: "cold, by tag, tag cache off", fresh: true, opts: Options{TagTTL: -1}, ref: tagRef, want: 4},
		{name: "warm, by tag, tag cache off (resolution only)", ref: tagRef, want: 2, cached: true},
	}
	var v *Verifier
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fresh || v == nil {
				v = New(tc.opts)
			}
			reg.Reset()
			res, err := v.VerifyKey(ctx, tc.ref, key.PublicPEM)
			if err != nil || !res.Verified {
				t.Fatalf("VerifyKey = %+v, %v", res, err)
			}
			if res.Cached != tc.cached {
				t.Errorf("Cached = %v, want %v", res.Cached, tc.cached)
			}
			n := reg.Count()
			t.Logf("%s: %d registry requests: %v", tc.name, n, reg.Log())
			if n > tc.want {
				t.Errorf("%d registry requests, want ≤ %d", n, tc.want)
			}
		})
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestCacheTTL(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	signed := reg.PushRandom(t, "app/ttl", "signed")
	reg.Sign(t, "app/ttl", signed, key, nil)
	unsigned := reg.PushRandom(t, "app/ttl", "unsigned")
	ctx := withTimeout(t, 10*time.Second)

	tests := []struct {
		name    string
		digest  string
		wantErr error
		ttl     time.Duration
	}{
		{name: "success cached for TTL", digest: signed.String(), ttl: DefaultTTL},
		{name: "failure cached for negative TTL", digest: unsigned.String(), wantErr: ErrNoSignatures, ttl: DefaultNegativeTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
			v := New(Options{Now: clock.Now})
			ref := reg.Ref("app/ttl", tc.digest)
			check := func(step string, wantCached bool) {
				t.Helper()
				reg.Reset()
				res, err := v.VerifyKey(ctx, ref, key.PublicPEM)
				if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("%s: error = %v, want %v", step, err, tc.wantErr)
				}
				n := reg.Count()
				if wantCached && (n != 0 || !res.Cached) {
					t.Errorf("%s: %d requests, Cached=%v; want a cache hit", step, n, res.Cached)
				}
				if !wantCached && (n == 0 || res.Cached) {
					t.Errorf("%s: %d requests, Cached=%v; want a fetch", step, n, res.Cached)
				}
			}
			check("first call", false)
			clock.Advance(tc.ttl - time.Second)
			check("just before expiry", true)
			clock.Advance(2 * time.Second)
			check("after expiry", false)
		})
	}
}

func TestRegistryFaults(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	d := reg.PushRandom(t, "app/faults", "v1")
	reg.Sign(t, "app/faults", d, key, nil)
	isBlob := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/") }

	tests := []struct {
		name     string
		ref      string
		fault    func(*http.Request) (int, time.Duration)
		deadline time.Duration
		within   time.Duration
		contains string
		alsoIs   error
	}{
		{name: "registry down", ref: freeAddr(t) + "/app/faults:v1", deadline: 5 * time.Second, within: time.Second},
		{name: "slow registry beyond the deadline", ref: reg.Ref("app/faults", "v1"),
			fault:    func(*http.Request) (int, time.Duration) { return 0, 3 * time.Second },
			deadline: 300 * time.Millisecond, within: 500 * time.Millisecond, alsoIs: context.DeadlineExceeded},
		{name: "slow signature fetch beyond the deadline", ref: reg.Ref("app/faults", d.String()),
			fault: func(r *http.Request) (int, time.Duration) {
				if strings.Contains(r.URL.Path, "/manifests/sha256-") {
					return 0, 3 * time.Second
				}
				return 0, 0
			},
			deadline: 300 * time.Millisecond, within: 500 * time.Millisecond, alsoIs: context.DeadlineExceeded},
		{name: "rate limited (429)", ref: reg.Ref("app/faults", "v1"),
			fault:    func(*http.Request) (int, time.Duration) { return http.StatusTooManyRequests, 0 },
			deadline: 5 * time.Second, within: 2 * time.Second, contains: "429"},
		{name: "429 on the signature payload is not a mismatch", ref: reg.Ref("app/faults", d.String()),
			fault: func(r *http.Request) (int, time.Duration) {
				if isBlob(r) {
					return http.StatusTooManyRequests, 0
				}
				return 0, 0
			},
			deadline: 5 * time.Second, within: 2 * time.Second, contains: "429"},
		{name: "server error (503)", ref: reg.Ref("app/faults", "v1"),
			fault:    func(*http.Request) (int, time.Duration) { return http.StatusServiceUnavailable, 0 },
			deadline: 5 * time.Second, within: 2 * time.Second, contains: "503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Options{FaultTTL: 100 * time.Millisecond})
			reg.SetFault(tc.fault)
			start := time.Now()
			res, err := v.VerifyKey(withTimeout(t, tc.deadline), tc.ref, key.PublicPEM)
			elapsed := time.Since(start)
			reg.SetFault(nil)
			if !errors.Is(err, ErrRegistry) {
				t.Fatalf("error = %v, want ErrRegistry", err)
			}
			if tc.alsoIs != nil && !errors.Is(err, tc.alsoIs) {
				t.Errorf("error = %v, want it to match %v too", err, tc.alsoIs)
			}
			if res.Verified {
				t.Error("Verified = true")
			}
			if !strings.Contains(err.Error(), tc.ref) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q should name %s and contain %q", err, tc.ref, tc.contains)
			}
			if elapsed > tc.within {
				t.Errorf("took %v, want ≤ %v", elapsed, tc.within)
			}
			t.Logf("%v after %v", err, elapsed.Round(time.Millisecond))
			if strings.Contains(tc.ref, reg.Host) {
				// Registry errors are not cached as verdicts: once the fault
				// is gone and no longer remembered (FaultTTL) the same
				// Verifier verifies.
				time.Sleep(150 * time.Millisecond) // the detached fetch ends, FaultTTL passes
				if res, err := v.VerifyKey(withTimeout(t, 10*time.Second), tc.ref, key.PublicPEM); err != nil || !res.Verified || res.Cached {
					t.Errorf("after the fault: %+v, %v; want a fresh verification", res, err)
				}
			}
		})
	}
}

// TestConcurrentVerifications checks that 100 concurrent verifications of
// one new image share one fetch sequence.
func TestConcurrentVerifications(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	d := reg.PushRandom(t, "app/concurrent", "v1")
	reg.Sign(t, "app/concurrent", d, key, nil)

	tests := []struct {
		name string
		ref  string
		want int64
	}{
		{name: "by tag", ref: reg.Ref("app/concurrent", "v1"), want: 4},
		{name: "by digest", ref: reg.Ref("app/concurrent", d.String()), want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Options{})
			reg.Reset()
			// Slow each request a little so that the callers overlap.
			reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 20 * time.Millisecond })
			defer reg.SetFault(nil)
			ctx := withTimeout(t, 10*time.Second)
			var wg sync.WaitGroup
			var verified atomic.Int64
			startGate := make(chan struct{})
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-startGate
					res, err := v.VerifyKey(ctx, tc.ref, key.PublicPEM)
					if err != nil {
						t.Error(err)
						return
					}
					if res.Verified {
						verified.Add(1)
					}
				}()
			}
			close(startGate)
			wg.Wait()
			if verified.Load() != 100 {
				t.Errorf("%d of 100 verified", verified.Load())
			}
			if n := reg.Count(); n > tc.want {
				t.Errorf("%d registry requests for 100 concurrent verifications, want ≤ %d: %v", n, tc.want, reg.Log())
			}
		})
	}
}

// TestWaiterDeadline checks that a caller with a short deadline gives up
// on time without failing the other callers of the same fetch.
func TestWaiterDeadline(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	d := reg.PushRandom(t, "app/waiters", "v1")
	reg.Sign(t, "app/waiters", d, key, nil)
	ref := reg.Ref("app/waiters", d.String())
	reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, 100 * time.Millisecond })
	defer reg.SetFault(nil)

	v := New(Options{})
	long := make(chan error, 1)
	go func() {
		res, err := v.VerifyKey(withTimeout(t, 10*time.Second), ref, key.PublicPEM)
		if err == nil && !res.Verified {
			err = errors.New("not verified")
		}
		long <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_, err := v.VerifyKey(withTimeout(t, 50*time.Millisecond), ref, key.PublicPEM)
	if !errors.Is(err, ErrRegistry) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("short caller: %v, want ErrRegistry and DeadlineExceeded", err)
	}
	if err := <-long; err != nil {
		t.Errorf("long caller: %v", err)
	}
}

// TestTagMovedAfterTagTTL checks that a tag moved to another (unsigned)
// image is seen once TagTTL has passed, and not before.
func TestTagMovedAfterTagTTL(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	first := reg.PushRandom(t, "app/moving", "v1")
	reg.Sign(t, "app/moving", first, key, nil)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	v := New(Options{Now: clock.Now, TagTTL: 30 * time.Second, TTL: time.Hour})
	ctx := withTimeout(t, 10*time.Second)
	ref := reg.Ref("app/moving", "v1")
	if res, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil || !res.Verified {
		t.Fatalf("first verification: %+v, %v", res, err)
	}
	second := reg.PushRandom(t, "app/moving", "v1") // the tag now names an unsigned image
	clock.Advance(10 * time.Second)
	if res, err := v.VerifyKey(ctx, ref, key.PublicPEM); err != nil || res.Digest != first.String() {
		t.Fatalf("within TagTTL: %+v, %v; want the cached verdict for %s", res, err, first)
	}
	clock.Advance(30 * time.Second)
	res, err := v.VerifyKey(ctx, ref, key.PublicPEM)
	if !errors.Is(err, ErrNoSignatures) || res.Digest != second.String() {
		t.Fatalf("after TagTTL: %+v, %v; want ErrNoSignatures for %s", res, err, second)
	}
}
