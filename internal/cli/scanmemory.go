//go:build !offline

package cli

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// scanMemoryFloor is the soft memory limit of the Go runtime while scan
// --library scans (see holdScanMemory): at 10,000 resources the live heap
// peaks near 200 MB, and with the default GOGC the heap would grow to
// twice that before a collection.
const scanMemoryFloor = 350 << 20

// scanMemoryHeadroom is how far, in percent of the live heap, the limit
// stays above it: a scan whose live heap grows past the floor is collected
// as with GOGC=50, never held at a limit below what it needs (where the
// collector would run constantly).
const scanMemoryHeadroom = 50

// scanMemoryLimit is the soft memory limit for a live heap of live bytes.
func scanMemoryLimit(live int64) int64 {
	return max(scanMemoryFloor, live+live*scanMemoryHeadroom/100)
}

// holdScanMemory sets the runtime's soft memory limit to scanMemoryLimit
// of the live heap, following it as the heap grows, until stop is called
// (which restores the previous limit). It does nothing when GOMEMLIMIT or
// GOGC is set: the user's choice stands.
func holdScanMemory() (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(scanMemoryFloor)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		limit := int64(scanMemoryFloor)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				continue
			}
			if l := scanMemoryLimit(int64(sample[0].Value.Uint64())); l != limit {
				limit = l
				debug.SetMemoryLimit(l)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		debug.SetMemoryLimit(prev)
	}
}
