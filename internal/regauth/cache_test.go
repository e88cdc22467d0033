package regauth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// countingReader counts the reads that reach the clientset.
type countingReader struct {
	Reader
	secrets, accounts atomic.Int32
	fail              atomic.Bool
}

func (c *countingReader) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	c.secrets.Add(1)
	if c.fail.Load() {
		return nil, apierrors.NewForbidden(corev1.Resource("secrets"), name, errors.New("RBAC"))
	}
	return c.Reader.Secret(ctx, ns, name)
}

func (c *countingReader) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	c.accounts.Add(1)
	return c.Reader.ServiceAccount(ctx, ns, name)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) add(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func TestCachedReader(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "pull"}, Data: map[string][]byte{"k": []byte("v1")}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "default"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}},
	)
	under := &countingReader{Reader: ClientsetReader(cs)}
	clock := &fakeClock{now: time.Unix(1000, 0)}
	r := CachedReader(under, CacheOptions{TTL: 10 * time.Second, MaxEntries: 3, Now: clock.Now})
	ctx := context.Background()

	// Many concurrent admissions of Pods of one namespace: one read each.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := r.ServiceAccount(ctx, "shop", "default"); err != nil {
				t.Error(err)
			}
			if s, err := r.Secret(ctx, "shop", "pull"); err != nil || string(s.Data["k"]) != "v1" {
				t.Errorf("secret %v %v", s, err)
			}
		})
	}
	wg.Wait()
	if n, m := under.secrets.Load(), under.accounts.Load(); n != 1 || m != 1 {
		t.Fatalf("reads: %d secrets, %d service accounts; want 1 each", n, m)
	}
	// Copies: a caller changing its object does not change the cache.
	s, _ := r.Secret(ctx, "shop", "pull")
	s.Data["k"] = []byte("changed")
	if s2, _ := r.Secret(ctx, "shop", "pull"); string(s2.Data["k"]) != "v1" {
		t.Fatal("cached object was modified through a returned copy")
	}

	// NotFound is cached too; it stays a NotFound error.
	for range 3 {
		if _, err := r.Secret(ctx, "shop", "absent"); !apierrors.IsNotFound(err) {
			t.Fatalf("absent: %v", err)
		}
	}
	if n := under.secrets.Load(); n != 2 {
		t.Fatalf("absent secret read %d times, want once", n-1)
	}

	// After the TTL the object is read again and a change is seen.
	if _, err := cs.CoreV1().Secrets("shop").Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "pull"},
		Data: map[string][]byte{"k": []byte("v2")}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.Secret(ctx, "shop", "pull"); string(s.Data["k"]) != "v1" {
		t.Fatal("change seen before the TTL")
	}
	clock.add(11 * time.Second)
	if s, _ := r.Secret(ctx, "shop", "pull"); string(s.Data["k"]) != "v2" {
		t.Fatalf("change not seen after the TTL: %q", s.Data["k"])
	}

	// Other errors are not cached: the next call asks again.
	clock.add(11 * time.Second)
	under.fail.Store(true)
	before := under.secrets.Load()
	for range 2 {
		if _, err := r.Secret(ctx, "shop", "pull"); !apierrors.IsForbidden(err) {
			t.Fatalf("forbidden: %v", err)
		}
	}
	if n := under.secrets.Load() - before; n != 2 {
		t.Fatalf("failing reads: %d, want 2 (errors are not cached)", n)
	}
	under.fail.Store(false)

	// The cache holds at most MaxEntries objects.
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		_, _ = r.Secret(ctx, "other", n)
	}
	if n := len(r.(*cachedReader).entries); n > 3 {
		t.Fatalf("%d entries, want at most 3", n)
	}

	// A caller whose context ends stops waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	clock.add(time.Minute)
	if _, err := r.Secret(cctx, "shop", "pull"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
}
