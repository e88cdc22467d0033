package admission

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

// BenchmarkServeValidate is one /validate request against the 17 PSS
// rules, in process (no TLS, no network): decode, evaluate, answer.
func BenchmarkServeValidate(b *testing.B) {
	for _, bc := range []struct {
		name, kind, object string
		allowed            bool
	}{
		{"compliant-pod", "Pod", compliantPod, true},
		{"denied-pod", "Pod", hostPathPod, false},
		{"denied-deployment", "Deployment", badDeployment, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHandler(b, HandlerOptions{Policies: NewAtomicSource(pssSet(b, policy.Enforce))})
			body := reviewBody(b, reviewReq{uid: "bench", kind: bc.kind, namespace: "ns", name: "x", object: bc.object})
			want := []byte(`"allowed":false`)
			if bc.allowed {
				want = []byte(`"allowed":true`)
			}
			serve := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, PathValidate, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			if rec := serve(); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), want) {
				b.Fatalf("HTTP %d: %s", rec.Code, rec.Body.Bytes())
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}
