// Package events is the sink that reports compliance transitions as
// CloudEvents 1.0 (HTTP binary mode) to an external receiver, and holds the
// transition logic that decides when there is something to report.
//
// A Tracker remembers, per resource UID, which rules currently fail (and
// nothing for compliant resources). Given a resource's full current results
// it returns Transitions: a violation (TypeViolation) for every rule that
// starts failing and a resolution (TypeResolution) for every rule that stops
// failing, whose resource is deleted or whose policy is removed. A resync
// that changes nothing returns nothing.
//
// A Sender delivers Transitions at least once: Send puts them in a bounded
// in-memory queue and never blocks (when the queue is full the oldest event
// is dropped and counted); Start runs the delivery workers until its context
// ends, retrying network errors, 5xx and 429 answers with exponential
// backoff and jitter (honouring Retry-After) and giving up on other 4xx
// answers. Events for one subject are delivered in the order they were
// sent.
package events
