// Package memlimit keeps the Go runtime's soft memory limit
// (debug.SetMemoryLimit) a fixed share ahead of the live heap, above a
// floor: a process whose live heap is small is held under the floor
// instead of growing to twice its live heap between collections (GOGC=100),
// and one whose live heap grows past the floor is never held at a limit it
// needs more than (where the collector would run constantly). serve follows
// the live heap when it has no memory limit; scan --library does while it
// decodes its manifests (with GOGC 400 then) and while it scans.
package memlimit
