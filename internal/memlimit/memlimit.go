package memlimit

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Growth is how far, in percent of the live heap, the limit Follow sets
// stays above it once past the floor: 50, where GOGC would be 100. The
// collector then runs at most as often as at GOGC=50 however large the
// live heap is.
const Growth = 50

// Limit is the soft memory limit for a live heap of live bytes and other
// bytes of the runtime's memory that are not the heap (stacks, metadata):
// floor, or the live heap grown by Growth percent plus the rest when that
// is more.
func Limit(floor, live, other int64) int64 {
	return max(floor, live+live*Growth/100+max(other, 0))
}

// minChange is the smallest change of the limit Follow applies.
const minChange = 1 << 20

// Follow sets the runtime's soft memory limit to Limit(floor, ...) of the
// heap live at the last collection and the runtime's other memory at
// once and then every interval, until ctx ends; it then restores the
// limit it found. onSet, when not nil, is told each limit it sets and the
// live heap it was set for.
func Follow(ctx context.Context, floor int64, interval time.Duration, onSet func(limit, live int64)) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	set := int64(0)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		metrics.Read(samples)
		var v [6]int64
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				v[i] = int64(s.Value.Uint64())
			}
		}
		limit := Limit(floor, v[0], v[1]-v[2]-v[3]-v[4]-v[5])
		if d := limit - set; set == 0 || d >= minChange || d <= -minChange {
			debug.SetMemoryLimit(limit)
			if onSet != nil {
				onSet(limit, v[0])
			}
			set = limit
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
