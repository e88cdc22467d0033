package admission

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"testing"
	"unsafe"

	"github.com/portcullis/portcullis/internal/policy"
)

// TestGrowStackCoversARequest: after growStack, serving a /validate
// request against the 17 PSS rules does not grow the goroutine's stack
// again (a grown stack is a copied one: the address of a local variable
// changes), on a fresh goroutine as net/http serves each HTTP/2 request.
// It fails when stackReserve is too small for the handler's recursion.
func TestGrowStackCoversARequest(t *testing.T) {
	// No collection meanwhile: it could shrink the test goroutine's stack.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	for _, bc := range []struct {
		name string
		body []byte
		want string
	}{
		{"loadgen-review", loadgenReview(t), `"allowed":true`},
		{"compliant-pod", reviewBody(t, reviewReq{uid: "u", kind: "Pod", namespace: "ns", name: "x", object: compliantPod}), `"allowed":true`},
		{"denied-pod", reviewBody(t, reviewReq{uid: "u", kind: "Pod", namespace: "ns", name: "x", object: hostPathPod}), `"allowed":false`},
		{"denied-deployment", reviewBody(t, reviewReq{uid: "u", kind: "Deployment", namespace: "ns", name: "x", object: badDeployment}), `"allowed":false`},
	} {
		body := bc.body
		type outcome struct {
			moved bool
			rec   *httptest.ResponseRecorder
		}
		done := make(chan outcome)
		go func() {
			req := httptest.NewRequest(http.MethodPost, PathValidate, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			growStack()
			var mark byte
			before := uintptr(unsafe.Pointer(&mark))
			h.ServeHTTP(rec, req)
			done <- outcome{uintptr(unsafe.Pointer(&mark)) != before, rec}
		}()
		o := <-done
		if o.rec.Code != http.StatusOK || !bytes.Contains(o.rec.Body.Bytes(), []byte(bc.want)) {
			t.Fatalf("%s: HTTP %d: %s", bc.name, o.rec.Code, o.rec.Body.Bytes())
		}
		if o.moved {
			t.Errorf("%s: the stack grew while serving the request: stackReserve (%d bytes) is too small", bc.name, stackReserve)
		}
	}
}
