package admission

import (
	"context"

	"github.com/portcullis/portcullis/internal/engine"
)

// Event reasons.
const (
	// ReasonPolicyViolation: a rule of an Audit policy failed (or warned).
	ReasonPolicyViolation = engine.ReasonPolicyViolation
	// ReasonPolicyError: a rule could not be evaluated and the request was
	// admitted anyway (Audit policy or failurePolicy Ignore).
	ReasonPolicyError = engine.ReasonPolicyError
)

// Event is one Kubernetes event to record about an admitted resource.
type Event struct {
	// Resource identifies the object (Kind, Namespace, Name, APIVersion);
	// UID is its metadata.uid when known (empty on CREATE).
	Resource engine.Resource
	UID      string
	// Type is "Warning" (core/v1 EventTypeWarning).
	Type string
	// Reason is ReasonPolicyViolation or ReasonPolicyError.
	Reason string
	// Policy and Rule name the rule; Message is "policy/rule <status>: <message>".
	Policy, Rule string
	Message      string
	// Operation is the admission operation (CREATE, UPDATE, ...).
	Operation string
}

// Recorder receives events for admitted requests that failed Audit rules.
// Record is called on the request path: it must not block (a client-go
// EventRecorder, which queues, is fine).
type Recorder interface {
	Record(ctx context.Context, ev Event)
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, ev Event)

// Record implements Recorder.
func (f RecorderFunc) Record(ctx context.Context, ev Event) { f(ctx, ev) }
