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
const scanMemoryFloor = 320 << 20

// decodeMemoryFloor is the soft memory limit while scan --library decodes
// its manifests (see holdDecodeMemory), below scanMemoryFloor: the
// executable's pages that start-up and loading the library touched are
// still resident then (they are released before the scan), and the
// peak of the process is the scan's.
const decodeMemoryFloor = 300 << 20

// decodeGCPercent is GOGC while scan --library decodes its manifests (see
// holdDecodeMemory).
const decodeGCPercent = 400

// scanMemoryInterval is how often the scan's limit follows the live heap:
// a scan's heap grows within seconds.
const scanMemoryInterval = 50 * time.Millisecond

// holdScanMemory makes the runtime's soft memory limit follow the live
// heap above scanMemoryFloor (memlimit.Follow) until stop is called (or
// ctx ends), which restores the previous limit. It does nothing when
// GOMEMLIMIT or GOGC is set: the user's choice stands.
func holdScanMemory(ctx context.Context) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	return followMemory(ctx, scanMemoryFloor)
}

// holdDecodeMemory is holdScanMemory for decoding the manifests, with
// decodeMemoryFloor and GOGC at decodeGCPercent until stop. Decoding
// makes several times more garbage (yaml.v3's node trees) than it keeps
// while the live heap is still small: at GOGC=100 the collector would run
// every few tens of megabytes, marking the same live heap each time (at
// 10,000 resources, 9 collections during decoding where the limit needs
// 4). The heap grows to five times the live heap at most (a small input's
// decoding stays small), and never past the limit. stop also collects
// and returns the free heap to the operating system (debug.FreeOSMemory):
// the pages of the heap decoding grew would otherwise stay resident into
// the scan and raise its peak RSS (by 9 MiB at 10,000 resources).
func holdDecodeMemory(ctx context.Context) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	stopLimit := followMemory(ctx, decodeMemoryFloor)
	prev := debug.SetGCPercent(decodeGCPercent)
	if prev == decodeGCPercent {
		// Another hold's (scans run concurrently in tests): whichever
		// stops last must restore the default.
		prev = 100
	}
	return func() {
		debug.SetGCPercent(prev)
		stopLimit()
		debug.FreeOSMemory()
	}
}

// followMemory runs memlimit.Follow above floor until stop.
func followMemory(ctx context.Context, floor int64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		memlimit.Follow(ctx, floor, scanMemoryInterval, nil)
	}()
	return func() {
		cancel()
		<-done
	}
}
