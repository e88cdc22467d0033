package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/yaml"
)

// compliantPod meets every Pod Security Standards control.
const compliantPod = `apiVersion: v1
kind: Pod
metadata:
  name: payments-api
  namespace: payments
  labels:
    team: payments
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: api
    image: gcr.io/acme/payments-api:2.7.1
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
`

// privilegedPod fails exactly one baseline control (privileged) and is
// otherwise restricted-compliant.
const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: debugger
  namespace: ops
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: shell
    image: gcr.io/acme/shell:1.0
    securityContext:
      privileged: true
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
`

// hostPathPod fails two baseline controls (host namespaces, hostPath) and
// one restricted control (volume types).
const hostPathPod = `apiVersion: v1
kind: Pod
metadata:
  name: node-agent
  namespace: ops
spec:
  hostPID: true
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
  - name: agent
    image: gcr.io/acme/agent:1.0
    securityContext:
      allowPrivilegeEscalation: false
      capabilities:
        drop: ["ALL"]
  volumes:
  - name: root
    hostPath:
      path: /
`

// badDeployment's pod template runs privileged: the autogen rule denies.
const badDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: storefront
  namespace: shop
spec:
  selector:
    matchLabels: {app: storefront}
  template:
    metadata:
      labels: {app: storefront}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 101
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: web
        image: ghcr.io/org/storefront:5.3.0
        securityContext:
          privileged: true
          allowPrivilegeEscalation: false
          capabilities:
            drop: ["ALL"]
`

// pssSets compiles the 17 built-in PSS rules once per mode.
var pssSets = struct {
	sync.Mutex
	m map[string]*policy.Set
}{m: map[string]*policy.Set{}}

// pssSet returns the 17 PSS rules with every policy's failure action set
// to action (Audit or Enforce).
func pssSet(t testing.TB, action string) *policy.Set {
	t.Helper()
	pssSets.Lock()
	defer pssSets.Unlock()
	if s := pssSets.m[action]; s != nil {
		return s
	}
	files, err := controls.Files(controls.SetPSSBaseline, controls.SetPSSRestricted)
	if err != nil {
		t.Fatal(err)
	}
	var docs []manifest.Document
	for _, f := range files {
		data := bytes.ReplaceAll(f.Data, []byte("validationFailureAction: Audit"), []byte("validationFailureAction: "+action))
		d, err := manifest.Decode("builtin:"+f.Path, data)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 17 {
		t.Fatalf("PSS set has %d policies, want 17", set.Len())
	}
	pssSets.m[action] = set
	return set
}

// compile compiles inline policy YAML.
func compile(t testing.TB, yamlText string) *policy.Set {
	t.Helper()
	docs, err := manifest.Decode("inline", []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(docs, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// toJSON converts a YAML object to JSON.
func toJSON(t testing.TB, y string) []byte {
	t.Helper()
	if y == "" {
		return nil
	}
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// reviewReq describes an AdmissionReview request to build.
type reviewReq struct {
	uid, op, namespace, name string
	kind                     string // requested kind, e.g. "Pod"
	object, oldObject        string // YAML
	groups                   []string
	dryRun                   bool
}

func reviewBody(t testing.TB, r reviewReq) []byte {
	t.Helper()
	if r.uid == "" {
		r.uid = "0000-uid"
	}
	if r.op == "" {
		r.op = "CREATE"
	}
	req := map[string]any{
		"uid":       r.uid,
		"kind":      map[string]any{"group": "", "version": "v1", "kind": r.kind},
		"resource":  map[string]any{"group": "", "version": "v1", "resource": strings.ToLower(r.kind) + "s"},
		"namespace": r.namespace,
		"name":      r.name,
		"operation": r.op,
		"userInfo":  map[string]any{"username": "alice", "uid": "alice-uid", "groups": r.groups},
		"dryRun":    r.dryRun,
	}
	if o := toJSON(t, r.object); o != nil {
		req["object"] = json.RawMessage(o)
	}
	if o := toJSON(t, r.oldObject); o != nil {
		req["oldObject"] = json.RawMessage(o)
	}
	body, err := json.Marshal(map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// newTLSServer serves h over real HTTPS (HTTP/2 enabled).
func newTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to path and returns the status, content and header.
func post(t testing.TB, srv *httptest.Server, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// admit posts a review to /validate and decodes the response.
func admit(t testing.TB, srv *httptest.Server, path string, r reviewReq) *admissionv1.AdmissionResponse {
	t.Helper()
	code, data := post(t, srv, path, "application/json", reviewBody(t, r))
	if code != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d: %s", path, code, data)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v\n%s", err, data)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		t.Fatalf("response apiVersion/kind = %q/%q", review.APIVersion, review.Kind)
	}
	if review.Response == nil {
		t.Fatalf("response has no response: %s", data)
	}
	if review.Response.UID != "" && string(review.Response.UID) != defaultUID(r.uid) {
		t.Fatalf("response uid = %q, want %q", review.Response.UID, r.uid)
	}
	return review.Response
}

func defaultUID(uid string) string {
	if uid == "" {
		return "0000-uid"
	}
	return uid
}

// eventLog records events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Record(_ context.Context, ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// newHandler builds a Handler over set, failing the test on error.
func newHandler(t testing.TB, opts HandlerOptions) *Handler {
	t.Helper()
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
