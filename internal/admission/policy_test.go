package admission

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestValidatePolicy(t *testing.T) {
	t.Parallel()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(&policy.Set{})})
	srv := newTLSServer(t, h.ValidatePolicy())
	const good = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: ok}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
	bad := strings.Replace(good, `validate: {pattern: {metadata: {name: "?*"}}}`,
		`preconditions: {all: [{key: "{{ request.operation }}", operator: Equalz, value: CREATE}]}
    validate: {pattern: {metadata: {name: "?*"}}}`, 1)
	cases := []struct {
		name    string
		req     reviewReq
		allowed bool
		msg     string
	}{
		{"valid policy admitted", reviewReq{kind: "ClusterPolicy", name: "ok", object: good}, true, ""},
		{"malformed policy refused", reviewReq{kind: "ClusterPolicy", name: "ok", object: bad}, false, `unknown operator "Equalz"`},
		{"delete always admitted", reviewReq{op: "DELETE", kind: "ClusterPolicy", name: "ok", oldObject: bad}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := admit(t, srv, "/", tc.req)
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if tc.msg != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tc.msg)) {
				t.Fatalf("result = %+v, want a message containing %q", resp.Result, tc.msg)
			}
		})
	}
	// Bad reviews get the same treatment as on /validate; the server keeps serving.
	code, body := post(t, srv, "/", "application/json", []byte("{not json"))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "malformed AdmissionReview") {
		t.Fatalf("malformed review: %d %s", code, body)
	}
	if resp := admit(t, srv, "/", reviewReq{kind: "ClusterPolicy", name: "ok", object: good}); !resp.Allowed {
		t.Fatal("server stopped serving after a malformed review")
	}
}
