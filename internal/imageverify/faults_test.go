package imageverify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// TestFaultMemoryHangingRegistry is the two-webhook sequence of one Pod
// create against a registry that does not answer: /mutate resolves the tag
// and times out; /validate then verifies another tag of the same
// repository with the same budget and must fail at once, without a
// registry request, with the same cause. A caller with much more time
// asks the registry again.
func TestFaultMemoryHangingRegistry(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	d := reg.PushRandom(t, "app/hang", "v1")
	reg.Sign(t, "app/hang", d, key, nil)
	reg.PushRandom(t, "app/hang", "v2")
	v := New(Options{})

	reg.SetFault(func(*http.Request) (int, time.Duration) { return 0, time.Minute })
	defer reg.SetFault(nil)
	const budget = 300 * time.Millisecond
	if _, err := v.Resolve(withTimeout(t, budget), reg.Ref("app/hang", "v1")); !errors.Is(err, ErrRegistry) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call (mutate): %v, want a registry timeout", err)
	}
	time.Sleep(20 * time.Millisecond) // the shared fetch records its end
	reg.Reset()
	ref := reg.Ref("app/hang", "v2")
	_, err := v.VerifyKey(withTimeout(t, budget), ref, key.PublicPEM)
	if n := reg.Count(); n != 0 {
		t.Errorf("second call (validate) with the same budget made %d registry requests, want 0: %v", n, reg.Log())
	}
	if !errors.Is(err, ErrRegistry) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second call: %v, want the remembered registry timeout", err)
	}
	if msg := err.Error(); !strings.Contains(msg, ref) || !strings.Contains(msg, "deadline exceeded") || !strings.Contains(msg, "app/hang failed") {
		t.Errorf("second call: %q should name %s, the repository and the cause", msg, ref)
	}

	// More than twice the time waited: the registry is asked again (and
	// it answers now).
	reg.SetFault(nil)
	reg.Reset()
	res, err := v.VerifyKey(withTimeout(t, 10*time.Second), reg.Ref("app/hang", "v1"), key.PublicPEM)
	if err != nil || !res.Verified {
		t.Fatalf("caller with 10 s: %+v, %v; want a verification", res, err)
	}
	if reg.Count() == 0 {
		t.Error("caller with 10 s made no registry request")
	}
	// The success forgot the fault: a short caller asks too.
	reg.Reset()
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), ref, key.PublicPEM); !errors.Is(err, ErrNoSignatures) {
		t.Errorf("after recovery: %v, want ErrNoSignatures from the registry", err)
	}
}

// TestFaultMemoryAnsweredFaults: a 429 (or refused connection) is
// remembered for the repository for FaultTTL, whatever the next caller's
// budget; another repository of the same registry is not affected; after
// FaultTTL the registry is asked again.
func TestFaultMemoryAnsweredFaults(t *testing.T) {
	reg := startRegistry(t)
	key := newKey(t)
	reg.PushRandom(t, "app/limited", "v1")
	reg.PushRandom(t, "app/other", "v1")
	clock := &fakeClock{now: time.Now()}
	v := New(Options{Now: clock.Now})

	reg.SetFault(func(r *http.Request) (int, time.Duration) {
		if strings.Contains(r.URL.Path, "app/limited") {
			return http.StatusTooManyRequests, 0
		}
		return 0, 0
	})
	defer reg.SetFault(nil)
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), reg.Ref("app/limited", "v1"), key.PublicPEM); !strings.Contains(errString(err), "429") {
		t.Fatalf("first call: %v, want a 429", err)
	}
	reg.Reset()
	_, err := v.VerifyKey(withTimeout(t, time.Minute), reg.Ref("app/limited", "v1"), key.PublicPEM)
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "429") {
		t.Errorf("second call: %v, want the remembered 429", err)
	}
	if n := reg.Count(); n != 0 {
		t.Errorf("second call made %d requests, want 0", n)
	}
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), reg.Ref("app/other", "v1"), key.PublicPEM); !errors.Is(err, ErrNoSignatures) {
		t.Errorf("another repository: %v, want ErrNoSignatures from the registry", err)
	}
	reg.SetFault(nil)
	clock.Advance(DefaultFaultTTL - time.Second)
	reg.Reset()
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), reg.Ref("app/limited", "v1"), key.PublicPEM); !errors.Is(err, ErrRegistry) || reg.Count() != 0 {
		t.Errorf("just before FaultTTL: %v after %d requests, want the remembered fault", err, reg.Count())
	}
	clock.Advance(2 * time.Second)
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), reg.Ref("app/limited", "v1"), key.PublicPEM); !errors.Is(err, ErrNoSignatures) {
		t.Errorf("after FaultTTL: %v, want ErrNoSignatures from the registry", err)
	}

	// Disabled: every caller asks.
	v = New(Options{FaultTTL: -1})
	dead := freeAddr(t) + "/app/x:v1"
	for i := range 2 {
		if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), dead, key.PublicPEM); !strings.Contains(errString(err), "connection refused") {
			t.Errorf("FaultTTL -1, call %d: %v, want connection refused", i, err)
		}
	}
}

// TestFaultMemoryCredentials: a registry refusing one caller's
// credentials (401) is not a fault of the registry: another caller with
// good credentials verifies at once.
func TestFaultMemoryCredentials(t *testing.T) {
	reg := registrytest.Start(t, registrytest.WithBasicAuth("team", "s3cret"))
	key := newKey(t)
	d := reg.PushRandom(t, "app/private", "v1")
	reg.Sign(t, "app/private", d, key, nil)
	v := New(Options{})
	ref := reg.Ref("app/private", "v1")

	bad := WithKeychain(staticKeychain{&authn.Basic{Username: "team", Password: "wrong"}}, "tenant-a")
	if _, err := v.VerifyKey(withTimeout(t, 5*time.Second), ref, key.PublicPEM); !errors.Is(err, ErrRegistry) {
		t.Fatalf("anonymous: %v, want a registry error", err)
	}
	if _, err := v.Verify(withTimeout(t, 5*time.Second), ref, Check{Keys: [][]byte{key.PublicPEM}}, bad); !errors.Is(err, errCredentials) {
		t.Fatalf("wrong password: %v, want refused credentials", err)
	}
	good := WithKeychain(staticKeychain{reg.Auth()}, "tenant-b")
	res, err := v.Verify(withTimeout(t, 5*time.Second), ref, Check{Keys: [][]byte{key.PublicPEM}}, good)
	if err != nil || !res.Verified {
		t.Errorf("good credentials after another tenant's 401: %+v, %v; want verified", res, err)
	}
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
