package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"

	"github.com/portcullis/portcullis/internal/engine"
)

// CloudEvent types of a Transition.
const (
	// TypeViolation: a resource is first seen failing a rule.
	TypeViolation = "dev.portcullis.violation.v1"
	// TypeResolution: a resource that failed a rule passes it again, no
	// longer matches it, or is deleted, or the policy is removed.
	TypeResolution = "dev.portcullis.resolution.v1"
)

// Reasons of a resolution whose rule has no current result
// (Transition.Reason). A resolution with a current result (pass, skip)
// carries that result and an empty Reason.
const (
	// ReasonResourceDeleted: the resource was deleted (Tracker.Forget).
	ReasonResourceDeleted = "resourceDeleted"
	// ReasonPolicyDeleted: the policy was deleted (Tracker.ForgetPolicy).
	ReasonPolicyDeleted = "policyDeleted"
	// ReasonNotEvaluated: the rule produced no result for the resource
	// any more (rule removed, policy no longer matches the resource).
	ReasonNotEvaluated = "notEvaluated"
)

// DataContentType is the content type of an event's data.
const DataContentType = "application/json"

// Image is one image of the resource and the digest it resolved to, when
// known.
type Image struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
}

// Transition is a compliance change of one rule on one resource: the
// unit the Tracker returns and the Sender delivers as one CloudEvent.
type Transition struct {
	// Type is TypeViolation or TypeResolution.
	Type string
	// Result is the rule's result: for a violation the failing result,
	// for a resolution the current result (pass, skip) or, when the rule
	// has no current result (see Reason), the last failing result with
	// Status StatusSkip.
	Result engine.Result
	// UID is the resource's metadata.uid.
	UID string
	// Images are the resource's images with their digests.
	Images []Image
	// Time is when the transition was observed.
	Time time.Time
	// Reason says why a resolution has no current result
	// (ReasonResourceDeleted, ReasonPolicyDeleted, ReasonNotEvaluated);
	// "" otherwise.
	Reason string
}

// Subject is the event subject: "namespace/kind/name", or "kind/name" for
// a cluster-scoped resource.
func (t Transition) Subject() string {
	r := t.Result.Resource
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Namespace + "/" + r.Kind + "/" + r.Name
}

// ID is the event id: a digest of the resource UID, policy kind, policy,
// rule, type and time, so every delivery attempt of one transition carries
// the same id and receivers can deduplicate.
func (t Transition) ID() string {
	h := sha256.New()
	for _, s := range []string{
		t.Type, t.UID, t.Subject(), t.Result.PolicyKind, t.Result.Policy, t.Result.Rule,
		t.Time.UTC().Format(time.RFC3339Nano),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Data is the JSON data of an event.
type Data struct {
	Policy     string        `json:"policy"`
	PolicyKind string        `json:"policyKind,omitempty"`
	Rule       string        `json:"rule"`
	Status     engine.Status `json:"status"`
	Severity   string        `json:"severity,omitempty"`
	Category   string        `json:"category,omitempty"`
	Message    string        `json:"message,omitempty"`
	Path       string        `json:"path,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Resource   ResourceRef   `json:"resource"`
	Images     []Image       `json:"images,omitempty"`
}

// ResourceRef identifies the resource an event is about.
type ResourceRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
}

// Data returns the event data of t.
func (t Transition) Data() Data {
	r := t.Result
	return Data{
		Policy:     r.Policy,
		PolicyKind: r.PolicyKind,
		Rule:       r.Rule,
		Status:     r.Status,
		Severity:   r.Severity,
		Category:   r.Category,
		Message:    r.Message,
		Path:       r.Path,
		Reason:     t.Reason,
		Resource: ResourceRef{
			APIVersion: r.Resource.APIVersion,
			Kind:       r.Resource.Kind,
			Namespace:  r.Resource.Namespace,
			Name:       r.Resource.Name,
			UID:        t.UID,
		},
		Images: t.Images,
	}
}

// Event returns t as a CloudEvent from source (the cluster name).
func (t Transition) Event(source string) (cloudevents.Event, error) {
	e := cloudevents.New(cloudevents.CloudEventsVersionV1)
	e.SetID(t.ID())
	e.SetSource(source)
	e.SetType(t.Type)
	e.SetSubject(t.Subject())
	e.SetTime(t.Time)
	data, err := json.Marshal(t.Data())
	if err != nil {
		return e, fmt.Errorf("encode event data of %s %s/%s: %w", t.Subject(), t.Result.Policy, t.Result.Rule, err)
	}
	// The JSON document itself, not base64 (SetData with []byte would mark
	// it base64 for the structured mode).
	e.SetDataContentType(DataContentType)
	e.DataEncoded = data
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("event for %s %s/%s: %w", t.Subject(), t.Result.Policy, t.Result.Rule, err)
	}
	return e, nil
}
