package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryLimitShare is the share of the container's memory limit that
// DefaultMemoryLimit gives the Go runtime as its soft limit: the rest is
// room for what the runtime does not count (mapped executable pages,
// C code) and for overshoot while a collection runs.
const MemoryLimitShare = 0.9

// DefaultMemoryLimit is the Go runtime's soft memory limit serve sets
// when --memory-limit is not given: none when the GOMEMLIMIT environment
// variable is set (the runtime already applied it), else MemoryLimitShare
// of the memory limit of the cgroup mounted under cgroupRoot (normally
// /sys/fs/cgroup: memory.max of cgroup v2, memory/memory.limit_in_bytes of
// v1), else none (0): serve then follows the live heap with
// DefaultMemoryFloor (memlimit.Follow). Without a limit the heap grows to
// twice the live heap between collections (GOGC=100); with one the
// collector runs more often as the process nears it. source says where
// the limit came from.
func DefaultMemoryLimit(getenv func(string) string, cgroupRoot string) (limit int64, source string, err error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, "GOMEMLIMIT", nil
	}
	n, file, err := cgroupMemoryLimit(cgroupRoot)
	if err != nil || n <= 0 {
		return 0, "", err
	}
	return int64(float64(n) * MemoryLimitShare), fmt.Sprintf("%.0f%% of %s", MemoryLimitShare*100, file), nil
}

// noLimit is what cgroup v1 reports without a limit (a page-rounded
// MaxInt64); anything this large is no limit.
const noLimit = 1 << 60

// cgroupMemoryLimit reads the memory limit of the cgroup mounted under
// root: 0 when there is none or no cgroup file is there.
func cgroupMemoryLimit(root string) (limit int64, file string, err error) {
	for _, name := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		file = filepath.Join(root, name)
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, file, fmt.Errorf("serve: memory limit: %w", err)
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, file, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, file, fmt.Errorf("serve: memory limit in %s: %w", file, err)
		}
		if n >= noLimit {
			return 0, file, nil
		}
		return n, file, nil
	}
	return 0, "", nil
}

// GCPercentWithMemoryLimit is the collector's GOGC that DefaultGCPercent
// chooses when a memory limit is in force: the heap may grow to this
// percentage over what is live between collections (the Go default is
// 100). serve's live heap is small (5-20 MiB) and admission allocates
// tens of KiB per request, so at GOGC=100 the collector runs several
// times a second under load. Measured on /validate (docs/benchmarks.md,
// "Issue 11 speed goals"): 200 halves the collections and cuts the
// collector's background work 2.3x for about 10 MiB more RSS; 400 cuts
// them 4x and 7.5x for about 30 MiB, a large share of a small container,
// whose page cache also holds the executable. The memory limit still
// caps the heap either way.
const GCPercentWithMemoryLimit = 200

// DefaultGCPercent is the collector's GOGC serve sets when --gc-percent is
// not given: none (0) when the GOGC environment variable is set (the
// runtime already applied it), else GCPercentWithMemoryLimit when a memory
// limit is in force (memoryLimit, the limit serve sets, is positive or
// GOMEMLIMIT is set), else none (the runtime's 100). source says why.
func DefaultGCPercent(getenv func(string) string, memoryLimit int64) (percent int, source string) {
	switch {
	case getenv("GOGC") != "":
		return 0, "GOGC"
	case memoryLimit > 0:
		return GCPercentWithMemoryLimit, "memory limit"
	case getenv("GOMEMLIMIT") != "":
		return GCPercentWithMemoryLimit, "GOMEMLIMIT"
	}
	return 0, ""
}

// DefaultMemoryFloor is the floor of the soft memory limit serve follows
// the live heap with when it has no memory limit (no --memory-limit,
// GOMEMLIMIT or container limit; the chart sets none by default): the Go
// runtime's memory stays under it while the live heap is under two
// thirds of it, and grows past it with the live heap (memlimit.Growth).
// Without it the heap grows to twice the live heap between collections
// (GOGC=100): the background controller's bursts (10,000 Pods: a live
// heap of 45-65 MB while it evaluates) then take 120-130 MiB of
// anonymous memory, over 150 MiB of RSS with the executable's pages
// (docs/benchmarks.md, issue 12). A heap that never nears it (admission
// alone: 5-20 MB live) is collected as at GOGC=100.
const DefaultMemoryFloor = 100 << 20
