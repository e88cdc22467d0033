package workpool

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, workers int }{{0, 4}, {1, 4}, {5, 1}, {100, 3}, {1000, 0}} {
		seen := make([]atomic.Int32, tc.n)
		Run(tc.n, tc.workers, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Fatalf("n=%d workers=%d: item %d called %d times", tc.n, tc.workers, i, got)
			}
		}
	}
}

func TestRunBoundsConcurrency(t *testing.T) {
	const workers = 3
	var cur, peak atomic.Int32
	all := make(chan struct{})
	Run(60, workers, func(int) {
		c := cur.Add(1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		if c == workers {
			select {
			case <-all:
			default:
				close(all)
			}
		}
		// Hold the slot until every worker has been seen at once, or a
		// while: a pool that serialises items would never get there.
		select {
		case <-all:
		case <-time.After(2 * time.Second):
		}
		cur.Add(-1)
	})
	if p := peak.Load(); p != workers {
		t.Fatalf("peak concurrency %d, want exactly %d", p, workers)
	}
}

func TestRunCarriesPanicToCaller(t *testing.T) {
	var ran atomic.Int32
	defer func() {
		v := recover()
		p, ok := v.(*Panic)
		if !ok {
			t.Fatalf("recovered %T %v, want *Panic", v, v)
		}
		if p.Value != "boom" || len(p.Stack) == 0 {
			t.Fatalf("panic = %v, stack %d bytes", p.Value, len(p.Stack))
		}
		var err error = p
		if !errors.As(err, &p) || p.Error() == "" {
			t.Fatal("Panic must be usable as an error")
		}
		if ran.Load() != 20 {
			t.Fatalf("%d items ran, want all 20 despite the panic", ran.Load())
		}
	}()
	Run(20, 4, func(i int) {
		ran.Add(1)
		if i == 7 {
			panic("boom")
		}
	})
	t.Fatal("Run returned normally after a panicking item")
}
