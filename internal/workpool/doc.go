// Package workpool runs independent work items on a bounded number of
// goroutines: the one worker pool of Portcullis (manifest decoding in
// scans, image checks of one admission request). A panic in a work item
// does not kill the process from a worker goroutine: it is carried back
// and raised again in the caller's goroutine, where the caller's own
// recovery (a per-request recover) can turn it into an error.
package workpool
