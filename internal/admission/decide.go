package admission

import (
	"net/http"

	"github.com/portcullis/portcullis/internal/engine"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// status is the response status of a denial: 403 for a policy verdict,
// 500 when evaluation could not run.
func status(d *engine.Decision) *metav1.Status {
	code, reason := int32(http.StatusForbidden), metav1.StatusReasonForbidden
	if d.EvaluationFailed {
		code, reason = http.StatusInternalServerError, metav1.StatusReasonInternalError
	}
	return &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: d.Message}
}

// events are the decision's events as admission records them.
func events(d *engine.Decision, uid, operation string) []Event {
	out := make([]Event, 0, len(d.Events))
	for _, e := range d.Events {
		out = append(out, Event{Resource: e.Resource, UID: uid, Type: "Warning", Reason: e.Reason,
			Policy: e.Policy, Rule: e.Rule, Message: e.Message, Operation: operation})
	}
	return out
}
