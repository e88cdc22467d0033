package memlimit

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const floor = 100 << 20
	for _, tc := range []struct{ live, other, want int64 }{
		{live: 10 << 20, other: 12 << 20, want: floor},      // admission alone: the floor, never reached
		{live: 58 << 20, other: 12 << 20, want: floor},      // 10,000 Pods: the floor holds the burst
		{live: 80 << 20, other: 12 << 20, want: 132 << 20},  // past the floor: 1.5 times the live heap
		{live: 400 << 20, other: 20 << 20, want: 620 << 20}, // a large cluster: never under the live heap
		{live: 80 << 20, other: -1, want: 120 << 20},        // other never counts less than nothing
	} {
		if got := Limit(floor, tc.live, tc.other); got != tc.want {
			t.Errorf("Limit(%d MiB live, %d other) = %d MiB, want %d MiB", tc.live>>20, tc.other, got>>20, tc.want>>20)
		}
	}
}

// TestFollow runs the follower on this process's own runtime: the
// limit is the floor while the live heap is small, rises past it with a
// live heap of 64 MiB, and is restored when the follower stops.
func TestFollow(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	const floor = 32 << 20
	go func() {
		defer close(done)
		Follow(ctx, floor, 10*time.Millisecond, nil)
	}()
	waitLimit := func(what string, ok func(int64) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok(debug.SetMemoryLimit(-1)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: limit %d", what, debug.SetMemoryLimit(-1))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLimit("small live heap", func(l int64) bool { return l == floor })
	live := make([]byte, 64<<20)
	for i := range live {
		live[i] = byte(i)
	}
	runtime.GC()
	waitLimit("64 MiB live", func(l int64) bool { return l >= 96<<20 })
	runtime.KeepAlive(live)
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after the follower stopped = %d, want %d as before", got, before)
	}
}
