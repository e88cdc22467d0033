package imageverify

import (
	"sync"
	"time"
)

// cache holds verdicts until they expire. It is bounded: when full, expired
// entries are dropped first, then the entry closest to expiry.
type cache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]cacheEntry
}

type cacheEntry struct {
	res     Result
	err     error
	expires time.Time
}

func newCache(max int, now func() time.Time) *cache {
	return &cache{max: max, now: now, entries: make(map[string]cacheEntry)}
}

func (c *cache) get(key string) (Result, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return Result{}, nil, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, key)
		return Result{}, nil, false
	}
	return e.res, e.err, true
}

func (c *cache) put(key string, res Result, err error, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = cacheEntry{res: res, err: err, expires: now.Add(ttl)}
}

// evict makes room for one entry. Called with mu held.
func (c *cache) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
			continue
		}
		if oldestKey == "" || e.expires.Before(oldest) {
			oldestKey, oldest = k, e.expires
		}
	}
	if len(c.entries) >= c.max && oldestKey != "" {
		delete(c.entries, oldestKey)
	}
}

// len reports the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
