package imageverify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultFaultTTL is how long a registry fault is remembered (see
// Options.FaultTTL).
const DefaultFaultTTL = 15 * time.Second

// defaultMaxFaults bounds the fault memory: one entry per failing
// repository, so a flood of distinct repositories cannot grow it.
const defaultMaxFaults = 1024

// errCredentials marks registry errors that depend on the credentials of
// the caller (401, 403): they are never remembered as faults of the
// registry.
var errCredentials = errors.New("credentials refused")

// faultMemory remembers, per repository (registry host and repository
// path, "reg.example/team/app"), the last registry fault met while
// resolving or verifying one of its images, for a short time.
//
// Why: one Pod create goes through two webhooks that both read the
// registry (/mutate pins and verifies, /validate verifies). Without a
// memory a hanging registry costs the full image budget twice, one
// webhook after the other, and every replica of a rollout waits again.
// With it, the second caller fails at once with the same message.
//
// Why per repository and shared by every caller: a fault remembered here
// is a fact about the registry (connection refused, no answer, 429, 5xx,
// malformed answers), the same for every tenant asking about that
// repository, like a verified signature is a fact about the image. What
// depends on the caller is never remembered: answers that depend on the
// credentials (401, 403: errCredentials), "not found" (a registry may
// answer 404 to a caller it does not authorise), verification verdicts
// (cached elsewhere, per check) and the caller's own cancellation.
//
// A timeout is a fact about the registry only up to the time waited: a
// registry that did not answer within one caller's 1 s may answer within
// another's 10 s. So a timeout is remembered with the time waited, and
// only callers whose remaining budget is at most twice that time fail
// fast; a caller with more time asks the registry again. A success on the
// repository forgets its fault.
type faultMemory struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	now func() time.Time
	m   map[string]fault
}

type fault struct {
	err error
	at  time.Time
	// waited > 0: the registry gave no answer within waited (a timeout of
	// the shared fetch); 0: it answered with a fault or refused.
	waited time.Duration
}

func newFaultMemory(ttl time.Duration, max int, now func() time.Time) *faultMemory {
	return &faultMemory{ttl: ttl, max: max, now: now, m: map[string]fault{}}
}

// check returns the remembered fault of repo as an error naming ref, or
// nil when the caller should ask the registry. The caller's budget is its
// context's remaining time, or fetchTimeout when it has no deadline.
func (f *faultMemory) check(ctx context.Context, repo, ref string, fetchTimeout time.Duration) error {
	if f.ttl <= 0 {
		return nil
	}
	f.mu.Lock()
	e, ok := f.m[repo]
	now := f.now()
	if ok && !now.Before(e.at.Add(f.ttl)) {
		delete(f.m, repo)
		ok = false
	}
	f.mu.Unlock()
	if !ok {
		return nil
	}
	if e.waited > 0 {
		budget := fetchTimeout
		if d, has := ctx.Deadline(); has {
			budget = d.Sub(now)
		}
		if budget > 2*e.waited {
			return nil
		}
	}
	ago := now.Sub(e.at).Round(time.Millisecond)
	left := e.at.Add(f.ttl).Sub(now).Round(time.Second)
	return fmt.Errorf("imageverify: %s: %w: %s failed %s ago and is not asked again for %s: %w", ref, ErrRegistry, repo, ago, left, e.err)
}

// record remembers err (from a fetch of repo that started at start, with
// ctx the fetch's own context) when it is a fault of the registry.
func (f *faultMemory) record(ctx context.Context, repo string, start time.Time, err error) {
	if f.ttl <= 0 || err == nil || !errors.Is(err, ErrRegistry) || errors.Is(err, errCredentials) {
		return
	}
	now := f.now()
	e := fault{err: err, at: now}
	switch ctx.Err() {
	case nil:
	case context.DeadlineExceeded:
		e.waited = max(now.Sub(start), time.Millisecond)
	default: // cancelled: says nothing about the registry
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[repo]; !ok && len(f.m) >= f.max {
		f.evict(now)
	}
	f.m[repo] = e
}

// forget drops the fault of repo after a successful fetch.
func (f *faultMemory) forget(repo string) {
	if f.ttl <= 0 {
		return
	}
	f.mu.Lock()
	delete(f.m, repo)
	f.mu.Unlock()
}

// evict makes room for one entry: expired entries go, then the oldest.
// Called with mu held.
func (f *faultMemory) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range f.m {
		if !now.Before(e.at.Add(f.ttl)) {
			delete(f.m, k)
			continue
		}
		if oldestKey == "" || e.at.Before(oldest) {
			oldestKey, oldest = k, e.at
		}
	}
	if len(f.m) >= f.max && oldestKey != "" {
		delete(f.m, oldestKey)
	}
}
