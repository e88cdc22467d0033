package regauth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// CacheOptions configure CachedReader.
type CacheOptions struct {
	// TTL is how long an object read (or found missing) is served from
	// memory (default 10 s): a rotated pull secret or key, or a new
	// service account, is seen at most this late.
	TTL time.Duration
	// MaxEntries bounds the cache (default 4096 objects); when it is full
	// expired entries are dropped, then the oldest.
	MaxEntries int
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time
}

// CachedReader serves Secrets and ServiceAccounts from r through a short
// TTL cache keyed by namespace and name, so that admissions of Pods sharing
// a service account or pull secret read each once per TTL instead of once
// per request (and per webhook: validate and mutate both ask). Concurrent
// misses of one object share a single read. Objects and NotFound answers
// are cached; other errors (RBAC, API server down, timeouts) are not. Only
// get is needed: no list or watch of Secrets, so the webhook's RBAC need
// not let it see every Secret of the cluster. Returned objects are copies.
func CachedReader(r Reader, o CacheOptions) Reader {
	if o.TTL <= 0 {
		o.TTL = 10 * time.Second
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 4096
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &cachedReader{r: r, o: o, entries: map[cacheKey]*cacheEntry{}}
}

type cacheKey struct {
	kind            byte // 's' Secret, 'a' ServiceAccount
	namespace, name string
}

type cacheEntry struct {
	obj     any // *corev1.Secret or *corev1.ServiceAccount; nil when missing
	err     error
	expires time.Time
	added   time.Time
}

type cachedReader struct {
	r       Reader
	o       CacheOptions
	group   singleflight.Group
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
}

var _ Reader = (*cachedReader)(nil)

// Secret implements Reader.
func (c *cachedReader) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	v, err := c.get(ctx, cacheKey{'s', namespace, name}, func(ctx context.Context) (any, error) {
		return c.r.Secret(ctx, namespace, name)
	})
	if err != nil {
		return nil, err
	}
	return v.(*corev1.Secret).DeepCopy(), nil
}

// ServiceAccount implements Reader.
func (c *cachedReader) ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	v, err := c.get(ctx, cacheKey{'a', namespace, name}, func(ctx context.Context) (any, error) {
		return c.r.ServiceAccount(ctx, namespace, name)
	})
	if err != nil {
		return nil, err
	}
	return v.(*corev1.ServiceAccount).DeepCopy(), nil
}

func (c *cachedReader) get(ctx context.Context, k cacheKey, read func(context.Context) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && c.o.Now().Before(e.expires) {
		return e.obj, e.err
	}
	flight := string(k.kind) + "/" + k.namespace + "/" + k.name
	ch := c.group.DoChan(flight, func() (any, error) {
		// A flight that completed between the look-up above and this
		// one has stored the object: use it rather than read again.
		c.mu.Lock()
		e, ok := c.entries[k]
		c.mu.Unlock()
		if ok && c.o.Now().Before(e.expires) {
			return e.obj, e.err
		}
		// The read outlives a caller that gives up (its result serves the
		// others), but not forever.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		obj, err := read(rctx)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			if err != nil {
				obj = nil
			}
			c.store(k, obj, err)
		}
		return obj, err
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		return res.Val, res.Err
	}
}

func (c *cachedReader) store(k cacheKey, obj any, err error) {
	now := c.o.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.o.MaxEntries {
		var oldest cacheKey
		var oldestAt time.Time
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
				continue
			}
			if oldestAt.IsZero() || e.added.Before(oldestAt) {
				oldest, oldestAt = key, e.added
			}
		}
		if len(c.entries) >= c.o.MaxEntries {
			delete(c.entries, oldest)
		}
	}
	c.entries[k] = &cacheEntry{obj: obj, err: err, expires: now.Add(c.o.TTL), added: now}
}
