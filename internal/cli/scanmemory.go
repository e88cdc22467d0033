//go:build !offline

package cli

import (
	"context"
	"os"
	"time"

	"github.com/portcullis/portcullis/internal/memlimit"
)

// scanMemoryFloor is the soft memory limit of the Go runtime while scan
// --library scans (see holdScanMemory): at 10,000 resources the live heap
// peaks near 200 MB, and with the default GOGC the heap would grow to
// twice that before a collection.
const scanMemoryFloor = 350 << 20

// scanMemoryInterval is how often the scan's limit follows the live heap:
// a scan's heap grows within seconds.
const scanMemoryInterval = 50 * time.Millisecond

// holdScanMemory makes the runtime's soft memory limit follow the live
// heap above scanMemoryFloor (memlimit.Follow) until stop is called (or
// ctx ends), which restores the previous limit. It does nothing when GOMEMLIMIT or
// GOGC is set: the user's choice stands.
func holdScanMemory(ctx context.Context) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		memlimit.Follow(ctx, scanMemoryFloor, scanMemoryInterval, nil)
	}()
	return func() {
		cancel()
		<-done
	}
}
