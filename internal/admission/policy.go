package admission

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PathValidatePolicy is where the policy validation webhook is served.
const PathValidatePolicy = "/validate-policy"

// ValidatePolicy returns the handler of the webhook that checks policy
// resources (ClusterPolicy, Policy, sigstore ClusterImagePolicy) before the API server stores them: a
// malformed policy is refused with the same errors `portcullis lint`
// reports, so the policies in force are never replaced by a broken one.
// Requests are read, limited and rejected exactly as on /validate.
func (h *Handler) ValidatePolicy() http.Handler {
	return h.ValidatePolicyWith(nil)
}

// ValidatePolicyWith is ValidatePolicy with a further check: what check
// returns for a policy that compiles refuses it too (for example what the
// serving process cannot enforce as written).
func (h *Handler) ValidatePolicyWith(check func(manifest.Document) []*policy.Error) http.Handler {
	return h.guard(PathValidatePolicy, func(w http.ResponseWriter, r *http.Request) { h.serveValidatePolicy(w, r, check) })
}

func (h *Handler) serveValidatePolicy(w http.ResponseWriter, r *http.Request, check func(manifest.Document) []*policy.Error) {
	start := time.Now()
	d, rerr := h.readReview(w, r)
	if rerr != nil {
		h.reject(w, r, PathValidatePolicy, start, rerr)
		return
	}
	req := d.req
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	switch {
	case req.Operation == admissionv1.Delete:
	case d.obj == nil:
		resp.Allowed = false
		resp.Result = &metav1.Status{Code: http.StatusBadRequest, Message: "request has no policy object"}
	default:
		doc := manifest.Document{Source: req.Kind.Kind + "/" + req.Name, Index: 1, Object: d.obj}
		err := h.compileSafely(r.Context(), req, doc)
		problems := policy.AsErrors(err)
		if check != nil && err == nil {
			problems = check(doc)
		}
		if len(problems) > 0 {
			var msgs []string
			for _, e := range problems {
				e.File, e.Document = "", 0
				msgs = append(msgs, e.Error())
			}
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: http.StatusUnprocessableEntity, Reason: metav1.StatusReasonInvalid,
				Message: "invalid policy:\n" + strings.Join(msgs, "\n")}
			h.logRequest(r.Context(), slog.LevelInfo, req, "policy refused", slog.Int("problems", len(msgs)))
		}
	}
	h.respond(w, r, resp)
}

// compileSafely compiles the policy of a /validate-policy request; a panic
// while compiling it refuses the policy (it could not be checked) with
// the panic as its error.
func (h *Handler) compileSafely(ctx context.Context, req *admissionv1.AdmissionRequest, doc manifest.Document) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p := asPanicError(r)
			h.panicked(ctx, PathValidatePolicy, req, p)
			err = p
		}
	}()
	_, err = policy.Compile([]manifest.Document{doc}, policy.Options{Attestations: attest.Check})
	return err
}
