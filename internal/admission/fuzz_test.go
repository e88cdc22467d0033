package admission

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
)

// FuzzReview posts arbitrary bodies to /validate and /mutate of a handler
// enforcing the Pod Security Standards. Whatever arrives, the handler must
// not panic and must answer either a client error (4xx) or an
// AdmissionReview whose response carries the request's UID, with a
// message when it denies.
//
//	go test -run '^$' -fuzz '^FuzzReview$' -fuzztime 5m ./internal/admission/
func FuzzReview(f *testing.F) {
	seed := func(kind, op string, object string) {
		body, _ := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
			"request": map[string]any{"uid": "u-1", "kind": map[string]any{"group": "", "version": "v1", "kind": kind},
				"resource":  map[string]any{"group": "", "version": "v1", "resource": "pods"},
				"namespace": "ns", "operation": op, "object": json.RawMessage(object)}})
		f.Add(body)
	}
	seed("Pod", "CREATE", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}}`)
	seed("Pod", "UPDATE", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"","ports":[{"hostPort":"x"}]}]}}`)
	seed("Deployment", "CREATE", `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":{"spec":{"hostPID":true,"containers":null}}}}`)
	seed("Pod", "DELETE", `null`)
	seed("Pod", "CREATE", `{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"image":"GHCR.io/Org/App:1 "}],"volumes":[{"hostPath":{"path":"/"}}]}}`)
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","object":{"kind":"Pod","spec":[]}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\x00\xff"))

	h := newHandler(f, HandlerOptions{Policies: NewAtomicSource(pssSet(f, policy.Enforce))})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{PathValidate, PathMutate} {
			req := httptest.NewRequest(http.MethodPost, path+"?timeout=2s", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 400 && rec.Code < 500 {
				continue
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: HTTP %d: %s", path, rec.Code, rec.Body.Bytes())
			}
			var in, out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("%s: answer is not an AdmissionReview with a response (%v): %s", path, err, rec.Body.Bytes())
			}
			if err := json.Unmarshal(body, &in); err != nil || in.Request == nil {
				t.Fatalf("%s: accepted a body that is not an AdmissionReview request (%v)", path, err)
			}
			if out.Response.UID != in.Request.UID {
				t.Fatalf("%s: response UID %q, request UID %q", path, out.Response.UID, in.Request.UID)
			}
			if !out.Response.Allowed && (out.Response.Result == nil || out.Response.Result.Message == "") {
				t.Fatalf("%s: denial without a message: %+v", path, out.Response)
			}
		}
	})
}
