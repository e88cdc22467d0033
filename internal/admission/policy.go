package admission

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyValidator serves the webhook that checks policy resources
// (ClusterPolicy, Policy) before the API server stores them: a malformed
// policy is refused with the same errors `portcullis lint` reports, so the
// policies in force are never replaced by a broken one.
type PolicyValidator struct {
	log *slog.Logger
	max int64
}

// NewPolicyValidator returns the policy validation handler (logger may be nil).
func NewPolicyValidator(log *slog.Logger) *PolicyValidator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PolicyValidator{log: log, max: DefaultMaxRequestBytes}
}

func (v *PolicyValidator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeText(w, http.StatusMethodNotAllowed, "admission reviews must be POSTed")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, v.max+1))
	if err != nil {
		writeText(w, http.StatusBadRequest, "cannot read request body: "+err.Error())
		return
	}
	if int64(len(body)) > v.max {
		writeText(w, http.StatusBadRequest, fmt.Sprintf("AdmissionReview too large: request body larger than %d bytes", v.max))
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		writeText(w, http.StatusBadRequest, "malformed AdmissionReview: "+err.Error())
		return
	}
	if review.Request == nil || review.Request.UID == "" {
		writeText(w, http.StatusBadRequest, "AdmissionReview has no request or no request.uid")
		return
	}
	req := review.Request
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation != admissionv1.Delete {
		var obj map[string]any
		if err := json.Unmarshal(req.Object.Raw, &obj); err != nil || obj == nil {
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: http.StatusBadRequest, Message: "policy object is not valid JSON"}
		} else if _, err := policy.Compile([]manifest.Document{{Source: req.Kind.Kind + "/" + req.Name, Index: 1, Object: obj}}, policy.Options{}); err != nil {
			var msgs []string
			for _, e := range policy.AsErrors(err) {
				e.File, e.Document = "", 0
				msgs = append(msgs, e.Error())
			}
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
				Message: "invalid policy:\n" + strings.Join(msgs, "\n")}
			v.log.Info("policy refused", "uid", string(req.UID), "kind", req.Kind.Kind, "name", req.Name, "problems", len(msgs))
		}
	}
	out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
	data, err := json.Marshal(out)
	if err != nil {
		writeText(w, http.StatusInternalServerError, "cannot encode response")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
