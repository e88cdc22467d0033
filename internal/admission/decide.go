package admission

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

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

// auditAnnotations are the decision's audit annotations as a webhook
// returns them. The API server records each as "<webhook name>/<key>" and
// drops keys that are not a plain name (no "/", at most 63 characters), so
// "<policy>/<key>" becomes "<policy>_<key>" (shortened with a hash when
// too long) and the API server's own validation-failure key its last
// part.
func auditAnnotations(d *engine.Decision) map[string]string {
	if len(d.AuditAnnotations) == 0 {
		return nil
	}
	out := make(map[string]string, len(d.AuditAnnotations))
	for k, v := range d.AuditAnnotations {
		out[webhookAuditKey(k)] = v
	}
	return out
}

func webhookAuditKey(k string) string {
	if k == engine.ValidationFailureAnnotation {
		return "validation_failure"
	}
	k = strings.ReplaceAll(k, "/", "_")
	const maxLen = 63
	if len(k) <= maxLen {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	suffix := "-" + hex.EncodeToString(sum[:])[:10]
	return strings.TrimRight(k[:maxLen-len(suffix)], "-_.") + suffix
}
