package imageverify

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/workpool"
)

// TestFlightPanicReachesEveryWaiter: a panic in the shared goroutine of a
// flight (parsing hostile registry content) does not kill the process: it
// is raised again, as a *workpool.Panic with the flight's stack, in the
// goroutine of every caller waiting for that call, where the per-request
// recovery turns it into a failed evaluation; the key is released, so the
// next call runs afresh.
func TestFlightPanicReachesEveryWaiter(t *testing.T) {
	t.Parallel()
	var g flight[string]
	release := make(chan struct{})
	c := g.start("k", func() (string, error) {
		<-release
		panic("index out of range in manifest")
	})
	waited := func() (p *workpool.Panic) {
		defer func() {
			v := recover()
			if err, ok := v.(error); ok {
				errors.As(err, &p)
			}
		}()
		_, _ = c.wait(context.Background())
		return nil
	}
	var wg sync.WaitGroup
	got := make([]*workpool.Panic, 3)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = waited() }()
	}
	close(release)
	wg.Wait()
	for i, p := range got {
		if p == nil || p.Value != "index out of range in manifest" || len(p.Stack) == 0 {
			t.Fatalf("waiter %d: panic %+v, want the flight's panic with its stack", i, p)
		}
	}
	<-c.done
	v, err := g.start("k", func() (string, error) { return "ok", nil }).wait(context.Background())
	if v != "ok" || err != nil {
		t.Fatalf("after a panic: %q, %v; want a fresh call", v, err)
	}
}
