// Package execpages owns one thing: taking the running executable's
// read-only file pages (its code and read-only data) out of the process's
// resident set once they are no longer needed, such as the pages that
// package initialisation and start-up touched.
//
// A Go executable is mapped from its file; every page it touches (with
// the kernel's fault-around, up to 16 neighbouring pages per fault) stays
// mapped and counts in the process's RSS as RssFile until the process
// exits or the kernel reclaims it under memory pressure. For serve, a
// 145 MB executable linking client-go, controller-runtime, sigstore, OPA,
// CUE and cel-go, that is 70-80 MiB, most of it touched once by package
// inits and start-up. Release drops those mappings with
// madvise(MADV_DONTNEED); the pages the process uses afterwards are
// mapped again from the page cache on first use (a minor fault, no disk
// read while the page cache still holds them).
//
// What it does not change: the page cache still holds the executable's
// pages (shared with every process running it, and charged to the
// cgroup that first read them, where they count in the container's
// memory usage until reclaimed); it only makes them unmapped page cache,
// which the kernel reclaims before mapped pages. Anonymous memory (the Go
// heap, stacks, runtime metadata) and writable mappings (.data, .bss) are
// never touched.
package execpages
