package imageverify

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/workpool"
)

// flight deduplicates concurrent calls that share a key: the first caller
// starts fn in its own goroutine and every caller with the same key, the
// first included, waits for that one result or for its own context.
type flight[T any] struct {
	mu    sync.Mutex
	calls map[string]*flightCall[T]
}

type flightCall[T any] struct {
	done chan struct{}
	val  T
	err  error
	// panicked is the panic of fn (parsing hostile registry content), or
	// nil: it is raised again in every waiter's goroutine, where the
	// caller's recovery (a per-request recover) handles it, instead of
	// killing the process from the flight's goroutine.
	panicked *workpool.Panic
}

// start returns the in-progress call for key, or starts fn for it.
func (g *flight[T]) start(key string, fn func() (T, error)) *flightCall[T] {
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		return c
	}
	if g.calls == nil {
		g.calls = make(map[string]*flightCall[T])
	}
	c := &flightCall[T]{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()

	go func() {
		defer func() {
			if v := recover(); v != nil {
				c.panicked = &workpool.Panic{Value: v, Stack: debug.Stack()}
			}
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
		c.val, c.err = fn()
	}()
	return c
}

// wait blocks until the call ends or ctx is done; in the latter case it
// returns ctx.Err() and the call goes on for the other waiters. If the
// call panicked, wait panics with the *workpool.Panic in the caller's
// goroutine.
func (c *flightCall[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-c.done:
		if c.panicked != nil {
			panic(c.panicked)
		}
		return c.val, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// detach returns a context for work shared by several callers: it is not
// cancelled when the caller that started the work goes away, but it keeps
// that caller's deadline (or max when the caller has none), so the shared
// work is still bounded.
func detach(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	base := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(base, deadline)
	}
	return context.WithTimeout(base, max)
}
