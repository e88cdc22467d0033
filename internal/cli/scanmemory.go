//go:build !offline

package cli

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"github.com/portcullis/portcullis/internal/memlimit"
)

// scanMemoryFloor is the soft memory limit of the Go runtime while scan
// --library scans (see holdScanMemory): at 10,000 resources the live heap
// peaks near 200 MB, and with the default GOGC the heap would grow to
// twice that before a collection.
const scanMemoryFloor = 350 << 20

// decodeMemoryFloor is the soft memory limit while scan --library decodes
// its manifests (see holdDecodeMemory), below scanMemoryFloor: the
// executable's pages that start-up and loading the library touched are
// still resident then (they are released before the scan), and the
// peak of the process is the scan's.
const decodeMemoryFloor = 300 << 20

// scanMemoryInterval is how often the scan's limit follows the live heap:
// a scan's heap grows within seconds.
const scanMemoryInterval = 50 * time.Millisecond

// holdScanMemory makes the runtime's soft memory limit follow the live
// heap above scanMemoryFloor (memlimit.Follow) until stop is called (or
// ctx ends), which restores the previous limit. It does nothing when
// GOMEMLIMIT or GOGC is set: the user's choice stands.
func holdScanMemory(ctx context.Context) (stop func()) {
	return holdMemory(ctx, scanMemoryFloor, false)
}

// holdDecodeMemory is holdScanMemory for decoding the manifests, with
// decodeMemoryFloor and the collector's GOGC pacing off until stop: the
// soft limit alone starts collections. Decoding makes several times more
// garbage (yaml.v3's node trees) than it keeps, while the live heap is
// still small; at GOGC=100 the collector would run every few tens of
// megabytes, marking the same live heap each time (at 10,000 resources,
// 9 collections during decoding where the limit needs 4). Garbage is
// what holds the heap up to the limit, so a small input's decoding stays
// as small as its garbage.
func holdDecodeMemory(ctx context.Context) (stop func()) {
	return holdMemory(ctx, decodeMemoryFloor, true)
}

// holdMemory makes the soft memory limit follow the live heap above
// floor, with GOGC off when gcOff, until stop; stop restores both.
func holdMemory(ctx context.Context, floor int64, gcOff bool) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		memlimit.Follow(ctx, floor, scanMemoryInterval, func(int64, int64) {
			select {
			case <-started:
			default:
				close(started)
			}
		})
	}()
	prevGC := 0
	if gcOff {
		// Only once the limit is set: GOGC off without a limit would let
		// the heap grow without bound.
		<-started
		if prevGC = debug.SetGCPercent(-1); prevGC < 0 {
			// Off without GOGC set: another hold of this process (scans
			// run concurrently in tests). Whichever stops last must not
			// leave the collector off: restore the default.
			prevGC = 100
		}
	}
	return func() {
		if gcOff {
			debug.SetGCPercent(prevGC)
		}
		cancel()
		<-done
	}
}
