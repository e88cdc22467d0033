package admission

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type httptestServer = httptest.Server

// auditPolicy requires a team label, in Audit mode.
const auditPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team-label
spec:
  validationFailureAction: Audit
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "label team is required"
      pattern:
        metadata:
          labels:
            team: "?*"
`

// errorPolicy cannot be evaluated online (its context entry is missing),
// so its rule errors. FAILURE is replaced by the failurePolicy.
const errorPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: needs-config
spec:
  validationFailureAction: Enforce
  failurePolicy: FAILURE
  rules:
  - name: check-config
    match:
      any:
      - resources:
          kinds: [Pod]
    context:
    - name: cfg
      configMap:
        name: settings
        namespace: default
    validate:
      message: "not allowed"
      deny:
        conditions:
          any:
          - key: "{{ cfg.data.blocked }}"
            operator: Equals
            value: "true"
`

// unscoredPolicy fails as a warning (scored: "false"), even in Enforce.
const unscoredPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: prefer-team-label
  annotations:
    policies.kyverno.io/scored: "false"
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "label team is recommended"
      pattern:
        metadata:
          labels:
            team: "?*"
`

const evalErrMsg = `evaluation error: failed to substitute variables in deny conditions: failed to resolve cfg.data.blocked at path /any/0/key: JMESPath query failed: Unknown key "cfg" in path`

func TestValidate(t *testing.T) {
	t.Parallel()
	type want struct {
		allowed  bool
		code     int32
		message  string
		warnings []string
		events   []Event
	}
	tests := []struct {
		name string
		set  func(t *testing.T) *policy.Set
		req  reviewReq
		want want
	}{
		{
			name: "compliant pod admitted",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req:  reviewReq{uid: "u-1", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod},
			want: want{allowed: true},
		},
		{
			name: "privileged pod denied by enforce policy",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req:  reviewReq{uid: "u-2", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod},
			want: want{code: 403, message: "resource Pod/ops/debugger was blocked due to the following policies\n\n" +
				"disallow-privileged-containers:\n" +
				"  privileged-containers: validation error: Privileged mode is not allowed: securityContext.privileged must be unset or false on every container. rule privileged-containers failed at path /spec/containers/0/securityContext/privileged/\n"},
		},
		{
			name: "every failed rule listed by policy",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req:  reviewReq{uid: "u-3", kind: "Pod", namespace: "ops", name: "node-agent", object: hostPathPod},
			want: want{code: 403, message: "resource Pod/ops/node-agent was blocked due to the following policies\n\n" +
				"disallow-host-namespaces:\n" +
				"  host-namespaces: validation error: Host namespaces are not allowed: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false. rule host-namespaces failed at path /spec/hostPID/\n" +
				"disallow-host-path:\n" +
				"  host-path: validation error: hostPath volumes are not allowed: no entry of spec.volumes may set hostPath. rule host-path failed at path /spec/volumes/0/hostPath/\n" +
				"restrict-volume-types:\n" +
				"  restricted-volumes: validation error: Only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret volumes are allowed. rule restricted-volumes failed at path /spec/volumes/0/hostPath/\n"},
		},
		{
			name: "deployment with privileged template denied by autogen rule",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req:  reviewReq{uid: "u-4", kind: "Deployment", namespace: "shop", name: "storefront", object: badDeployment},
			want: want{code: 403, message: "resource Deployment/shop/storefront was blocked due to the following policies\n\n" +
				"disallow-privileged-containers:\n" +
				"  autogen-privileged-containers: validation error: Privileged mode is not allowed: securityContext.privileged must be unset or false on every container. rule autogen-privileged-containers failed at path /spec/template/spec/containers/0/securityContext/privileged/\n"},
		},
		{
			name: "audit policies admit with warnings and events",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Audit) },
			req:  reviewReq{uid: "u-5", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod},
			want: want{allowed: true,
				warnings: []string{"disallow-privileged-containers/privileged-containers: validation error: Privileged mode is not allowed: securityContext.privileged must be unset or false on every container. rule privileged-containers failed at path /spec/containers/0/securityContext/privileged/"},
				events: []Event{{Type: "Warning", Reason: ReasonPolicyViolation, Policy: "disallow-privileged-containers", Rule: "privileged-containers", Operation: "CREATE",
					Message: "policy disallow-privileged-containers/privileged-containers fail: validation error: Privileged mode is not allowed: securityContext.privileged must be unset or false on every container. rule privileged-containers failed at path /spec/containers/0/securityContext/privileged/"}}},
		},
		{
			name: "inline audit policy warns on update and names the object uid",
			set:  func(t *testing.T) *policy.Set { return compile(t, auditPolicy) },
			req: reviewReq{uid: "u-6", op: "UPDATE", kind: "Pod", namespace: "ops", name: "debugger",
				object:    strings.Replace(privilegedPod, "namespace: ops", "namespace: ops\n  uid: 7f3c", 1),
				oldObject: privilegedPod},
			want: want{allowed: true,
				warnings: []string{"require-team-label/check-team: validation error: label team is required. rule check-team failed at path /metadata/labels/"},
				events: []Event{{UID: "7f3c", Type: "Warning", Reason: ReasonPolicyViolation, Policy: "require-team-label", Rule: "check-team", Operation: "UPDATE",
					Message: "policy require-team-label/check-team fail: validation error: label team is required. rule check-team failed at path /metadata/labels/"}}},
		},
		{
			name: "dry run warns without events",
			set:  func(t *testing.T) *policy.Set { return compile(t, auditPolicy) },
			req:  reviewReq{uid: "u-7", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod, dryRun: true},
			want: want{allowed: true,
				warnings: []string{"require-team-label/check-team: validation error: label team is required. rule check-team failed at path /metadata/labels/"}},
		},
		{
			name: "unscored policy warns instead of denying",
			set:  func(t *testing.T) *policy.Set { return compile(t, unscoredPolicy) },
			req:  reviewReq{uid: "u-8", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod},
			want: want{allowed: true,
				warnings: []string{"prefer-team-label/check-team: validation error: label team is recommended. rule check-team failed at path /metadata/labels/"},
				events: []Event{{Type: "Warning", Reason: ReasonPolicyViolation, Policy: "prefer-team-label", Rule: "check-team", Operation: "CREATE",
					Message: "policy prefer-team-label/check-team warn: validation error: label team is recommended. rule check-team failed at path /metadata/labels/"}}},
		},
		{
			name: "rule error of an enforce policy fails closed",
			set:  func(t *testing.T) *policy.Set { return compile(t, strings.Replace(errorPolicy, "FAILURE", "Fail", 1)) },
			req:  reviewReq{uid: "u-9", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod},
			want: want{code: 403, message: "resource Pod/payments/payments-api was blocked due to the following policies\n\n" +
				"needs-config:\n  check-config: " + evalErrMsg + "\n"},
		},
		{
			name: "rule error with failurePolicy Ignore admits with a warning",
			set: func(t *testing.T) *policy.Set {
				return compile(t, strings.Replace(errorPolicy, "FAILURE", "Ignore", 1))
			},
			req: reviewReq{uid: "u-10", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod},
			want: want{allowed: true, warnings: []string{"needs-config/check-config: " + evalErrMsg},
				events: []Event{{Type: "Warning", Reason: ReasonPolicyError, Policy: "needs-config", Rule: "check-config", Operation: "CREATE",
					Message: "policy needs-config/check-config error: " + evalErrMsg}}},
		},
		{
			name: "delete evaluates the old object",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req:  reviewReq{uid: "u-11", op: "DELETE", kind: "Pod", namespace: "ops", name: "debugger", oldObject: privilegedPod},
			want: want{allowed: true},
		},
		{
			name: "kind without policies admitted",
			set:  func(t *testing.T) *policy.Set { return pssSet(t, policy.Enforce) },
			req: reviewReq{uid: "u-12", kind: "ConfigMap", namespace: "ops", name: "cfg",
				object: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ops}\ndata: {a: b}\n"},
			want: want{allowed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events := &eventLog{}
			h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(tt.set(t)), Recorder: events})
			srv := newTLSServer(t, h)
			resp := admit(t, srv, PathValidate, tt.req)
			if string(resp.UID) != tt.req.uid {
				t.Errorf("uid = %q, want %q", resp.UID, tt.req.uid)
			}
			if resp.Allowed != tt.want.allowed {
				t.Errorf("allowed = %v, want %v (result %+v)", resp.Allowed, tt.want.allowed, resp.Result)
			}
			if tt.want.allowed {
				if resp.Result != nil {
					t.Errorf("allowed response has result %+v", resp.Result)
				}
			} else {
				if resp.Result == nil {
					t.Fatal("denied response has no result")
				}
				if resp.Result.Code != tt.want.code || resp.Result.Message != tt.want.message {
					t.Errorf("result = %d %q\nwant     %d %q", resp.Result.Code, resp.Result.Message, tt.want.code, tt.want.message)
				}
			}
			if !slices.Equal(resp.Warnings, tt.want.warnings) {
				t.Errorf("warnings = %q\nwant       %q", resp.Warnings, tt.want.warnings)
			}
			got := events.all()
			if len(got) != len(tt.want.events) {
				t.Fatalf("events = %+v, want %+v", got, tt.want.events)
			}
			for i, ev := range tt.want.events {
				ev.Resource = got[i].Resource
				if got[i] != ev {
					t.Errorf("event %d = %+v\nwant      %+v", i, got[i], ev)
				}
				if got[i].Resource.Kind != tt.req.kind || got[i].Resource.Name != tt.req.name || got[i].Resource.Namespace != tt.req.namespace {
					t.Errorf("event %d resource = %v", i, got[i].Resource)
				}
			}
		})
	}
}

// chunked hides a body's length so it is sent without Content-Length.
type chunked struct{ r *strings.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	srv := newTLSServer(t, h)
	good := reviewBody(t, reviewReq{uid: "good", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod})
	withRequest := func(req string) string {
		return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + req + `}`
	}
	huge := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","pad":"` + strings.Repeat("x", DefaultMaxRequestBytes) + `"}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		hideLength  bool
		wantCode    int
		wantMsg     string
	}{
		{name: "GET", method: http.MethodGet, wantCode: 405,
			wantMsg: "method GET not allowed: POST an admission.k8s.io/v1 AdmissionReview"},
		{name: "PUT on mutate", method: http.MethodPut, path: PathMutate, body: string(good), wantCode: 405,
			wantMsg: "method PUT not allowed: POST an admission.k8s.io/v1 AdmissionReview"},
		{name: "wrong content type", contentType: "text/plain", body: string(good), wantCode: 415,
			wantMsg: `unsupported Content-Type "text/plain": want application/json`},
		{name: "no content type", contentType: "-", body: string(good), wantCode: 415,
			wantMsg: `unsupported Content-Type "": want application/json`},
		{name: "yaml content type", contentType: "application/yaml", body: string(good), wantCode: 415,
			wantMsg: `unsupported Content-Type "application/yaml": want application/json`},
		{name: "empty body", body: "", wantCode: 400,
			wantMsg: "empty request body: want an admission.k8s.io/v1 AdmissionReview"},
		{name: "blank body", body: " \n\t", wantCode: 400,
			wantMsg: "empty request body: want an admission.k8s.io/v1 AdmissionReview"},
		{name: "truncated JSON", body: `{"apiVersion": "admission.k8s.io/v1", "kind": "Admiss`, wantCode: 400,
			wantMsg: "malformed AdmissionReview: unexpected end of JSON input"},
		{name: "not JSON", body: `<AdmissionReview/>`, wantCode: 400,
			wantMsg: "malformed AdmissionReview: invalid character '<' looking for beginning of value"},
		{name: "JSON array", body: `[1,2]`, wantCode: 400,
			wantMsg: "malformed AdmissionReview: json: cannot unmarshal array into Go value of type v1.AdmissionReview"},
		{name: "JSON null", body: `null`, wantCode: 400,
			wantMsg: `unsupported apiVersion "" and kind "": want admission.k8s.io/v1 AdmissionReview`},
		{name: "wrong kind", body: `{"apiVersion":"v1","kind":"Pod","request":{"uid":"x"}}`, wantCode: 400,
			wantMsg: `unsupported apiVersion "v1" and kind "Pod": want admission.k8s.io/v1 AdmissionReview`},
		{name: "v1beta1 review", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, wantCode: 400,
			wantMsg: `unsupported apiVersion "admission.k8s.io/v1beta1" and kind "AdmissionReview": want admission.k8s.io/v1 AdmissionReview`},
		{name: "missing request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantCode: 400,
			wantMsg: "AdmissionReview has no request"},
		{name: "missing uid", body: withRequest(`{"operation":"CREATE","object":{"apiVersion":"v1","kind":"Pod"}}`), wantCode: 400,
			wantMsg: "AdmissionReview request has no uid"},
		{name: "missing uid on mutate", path: PathMutate, body: withRequest(`{"operation":"CREATE"}`), wantCode: 400,
			wantMsg: "AdmissionReview request has no uid"},
		{name: "uid of the wrong type", body: withRequest(`{"uid":42}`), wantCode: 400,
			wantMsg: "malformed AdmissionReview: json: cannot unmarshal number into Go struct field AdmissionRequest.request.uid of type types.UID"},
		{name: "object not an object", body: withRequest(`{"uid":"x","kind":{"kind":"Pod"},"object":"pod"}`), wantCode: 400,
			wantMsg: "request.object is not a JSON object: json: cannot unmarshal string into Go value of type map[string]interface {}"},
		{name: "old object not an object", body: withRequest(`{"uid":"x","kind":{"kind":"Pod"},"oldObject":[1]}`), wantCode: 400,
			wantMsg: "request.oldObject is not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{name: "oversized with length", body: huge, wantCode: 400,
			wantMsg: "AdmissionReview too large: request body larger than 3145728 bytes"},
		{name: "oversized chunked", body: huge, hideLength: true, wantCode: 400,
			wantMsg: "AdmissionReview too large: request body larger than 3145728 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method, path, ct := tt.method, tt.path, tt.contentType
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = PathValidate
			}
			if ct == "" {
				ct = "application/json; charset=utf-8"
			}
			var body io.Reader = strings.NewReader(tt.body)
			if tt.hideLength {
				body = chunked{strings.NewReader(tt.body)}
			}
			req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			if ct != "-" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || string(data) != tt.wantMsg+"\n" {
				t.Errorf("got HTTP %d %q\nwant HTTP %d %q", resp.StatusCode, data, tt.wantCode, tt.wantMsg+"\n")
			}
			if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if tt.wantCode == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
			// The server keeps serving.
			if r := admit(t, srv, PathValidate, reviewReq{uid: "good", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod}); !r.Allowed {
				t.Errorf("good request after a bad one: %+v", r)
			}
		})
	}
}

func TestMutateAdmitsWithoutPatch(t *testing.T) {
	t.Parallel()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	srv := newTLSServer(t, h)
	resp := admit(t, srv, PathMutate, reviewReq{uid: "m-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	if !resp.Allowed || resp.UID != "m-1" || resp.Patch != nil || resp.PatchType != nil || resp.Result != nil {
		t.Errorf("mutate response = %+v", resp)
	}
}

func TestPolicySwap(t *testing.T) {
	t.Parallel()
	src := &AtomicSource{}
	h := newHandler(t, HandlerOptions{Policies: src})
	srv := newTLSServer(t, h)
	req := reviewReq{uid: "s", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod}

	// Before any set: not ready, and reviews are refused with 503 so the
	// API server applies the webhook's failurePolicy.
	if code, body := get(t, srv, PathReadyz); code != 503 || body != "not ready: no policy set loaded\n" {
		t.Errorf("readyz before load = %d %q", code, body)
	}
	if code, body := post(t, srv, PathValidate, "application/json", reviewBody(t, req)); code != 503 || string(body) != "no policy set loaded yet\n" {
		t.Errorf("validate before load = %d %q", code, body)
	}
	if code, body := get(t, srv, PathHealthz); code != 200 || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}

	steps := []struct {
		name        string
		set         *policy.Set
		wantAllowed bool
		wantWarn    int
	}{
		{"audit PSS", pssSet(t, policy.Audit), true, 1},
		{"enforce PSS", pssSet(t, policy.Enforce), false, 0},
		{"team label audit", compile(t, auditPolicy), true, 1},
		{"empty set", compile(t, ""), true, 0},
	}
	for _, st := range steps {
		src.Store(st.set)
		if code, body := get(t, srv, PathReadyz); code != 200 || body != "ok\n" {
			t.Errorf("%s: readyz = %d %q", st.name, code, body)
		}
		resp := admit(t, srv, PathValidate, req)
		if resp.Allowed != st.wantAllowed || len(resp.Warnings) != st.wantWarn {
			t.Errorf("%s: allowed %v with %d warnings, want %v with %d: %+v", st.name, resp.Allowed, len(resp.Warnings), st.wantAllowed, st.wantWarn, resp)
		}
	}
}

func get(t testing.TB, srv *httptestServer, path string) (int, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func TestMetricsAndLogs(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce)), Registry: reg, Logger: logger})
	srv := newTLSServer(t, h)

	admit(t, srv, PathValidate, reviewReq{uid: "a-1", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod})
	admit(t, srv, PathValidate, reviewReq{uid: "a-2", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod})
	admit(t, srv, PathValidate, reviewReq{uid: "d-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	admit(t, srv, PathMutate, reviewReq{uid: "m-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	post(t, srv, PathValidate, "application/json", []byte("{"))

	code, text := get(t, srv, PathMetrics)
	if code != 200 {
		t.Fatalf("metrics: HTTP %d", code)
	}
	for _, want := range []string{
		`portcullis_admission_requests_total{endpoint="/validate",kind="Pod",operation="CREATE",result="allowed"} 2`,
		`portcullis_admission_requests_total{endpoint="/validate",kind="Pod",operation="CREATE",result="denied"} 1`,
		`portcullis_admission_requests_total{endpoint="/mutate",kind="Pod",operation="CREATE",result="allowed"} 1`,
		`portcullis_admission_requests_total{endpoint="/validate",kind="",operation="",result="invalid"} 1`,
		`portcullis_admission_request_duration_seconds_count{endpoint="/validate"} 4`,
		`portcullis_admission_request_duration_seconds_bucket{endpoint="/validate",le="0.001"}`,
		`portcullis_admission_policy_results_total{policy="disallow-privileged-containers",result="fail"} 1`,
		`portcullis_admission_policy_results_total{policy="disallow-privileged-containers",result="pass"} 2`,
		`portcullis_admission_policy_results_total{policy="restrict-volume-types",result="pass"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The same registry cannot take a second handler's metrics.
	if _, err := NewHandler(HandlerOptions{Policies: &AtomicSource{}, Registry: reg}); err == nil {
		t.Error("second handler on the same registry: no error")
	}

	out := logs.String()
	var denied map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "denied" {
			denied = m
		}
	}
	if denied == nil {
		t.Fatalf("no denial logged:\n%s", out)
	}
	for k, v := range map[string]string{"uid": "d-1", "kind": "Pod", "namespace": "ops", "name": "debugger", "operation": "CREATE"} {
		if denied[k] != v {
			t.Errorf("denial log %s = %v, want %s", k, denied[k], v)
		}
	}
	if strings.Contains(out, "gcr.io/acme") || strings.Contains(out, "privileged must be") {
		t.Errorf("logs carry object contents or messages:\n%s", out)
	}
}

// prodPolicy requires a team label on pods in namespaces labelled env=prod.
const prodPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: prod-team
spec:
  validationFailureAction: Enforce
  rules:
  - name: team-in-prod
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaceSelector:
            matchLabels: {env: prod}
    validate:
      message: "pods in prod need a team label"
      pattern:
        metadata:
          labels:
            team: "?*"
`

func TestNamespaceLabels(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"env": "prod"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sandbox", Labels: map[string]string{"env": "dev"}}},
	)
	fromClient := NamespaceLabelsFromClient(client, time.Minute)
	failing := func(context.Context, string) (map[string]string, error) {
		return nil, errors.New("apiserver unreachable")
	}
	set := compile(t, prodPolicy)
	tests := []struct {
		name      string
		labels    NamespaceLabelsFunc
		set       *policy.Set
		namespace string
		allowed   bool
		code      int32
		message   string
		warnings  []string
	}{
		{name: "prod namespace selected", labels: fromClient, set: set, namespace: "shop", code: 403,
			message: "resource Pod/shop/debugger was blocked due to the following policies\n\nprod-team:\n  team-in-prod: validation error: pods in prod need a team label. rule team-in-prod failed at path /metadata/labels/\n"},
		{name: "dev namespace not selected", labels: fromClient, set: set, namespace: "sandbox", allowed: true},
		{name: "no lookup: nothing selected", labels: nil, set: set, namespace: "shop", allowed: true},
		{name: "lookup error fails closed", labels: failing, set: set, namespace: "shop", code: 500,
			message: "resource Pod/shop/debugger was blocked: policy evaluation error: labels of namespace shop unavailable: apiserver unreachable"},
		{name: "lookup error with audit policies admits", labels: failing, set: compile(t, auditPolicy), namespace: "shop", allowed: true,
			warnings: []string{"policy evaluation error: labels of namespace shop unavailable: apiserver unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(tt.set), NamespaceLabels: tt.labels})
			srv := newTLSServer(t, h)
			obj := strings.Replace(privilegedPod, "namespace: ops", "namespace: "+tt.namespace, 1)
			resp := admit(t, srv, PathValidate, reviewReq{uid: "n", kind: "Pod", namespace: tt.namespace, name: "debugger", object: obj})
			checkVerdict(t, resp, tt.allowed, tt.code, tt.message, tt.warnings)
		})
	}
}

func TestEvaluationDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		set      *policy.Set
		allowed  bool
		code     int32
		message  string
		warnings []string
	}{
		{name: "enforce policies fail closed", set: pssSet(t, policy.Enforce), code: 500,
			message: "resource Pod/payments/payments-api was blocked: policy evaluation error: evaluate Pod: context deadline exceeded"},
		{name: "audit policies admit with a warning", set: pssSet(t, policy.Audit), allowed: true,
			warnings: []string{"policy evaluation error: evaluate Pod: context deadline exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(tt.set)})
			srv := newTLSServer(t, h)
			// The API server passes its timeout as ?timeout=; 1ns expires at once.
			resp := admit(t, srv, PathValidate+"?timeout=1ns", reviewReq{uid: "t", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod})
			checkVerdict(t, resp, tt.allowed, tt.code, tt.message, tt.warnings)
			// A usable timeout evaluates normally.
			if resp := admit(t, srv, PathValidate+"?timeout=10s", reviewReq{uid: "t", kind: "Pod", namespace: "payments", name: "payments-api", object: compliantPod}); !resp.Allowed || len(resp.Warnings) != 0 {
				t.Errorf("with timeout=10s: %+v", resp)
			}
		})
	}
}

func checkVerdict(t *testing.T, resp *admissionv1.AdmissionResponse, allowed bool, code int32, message string, warnings []string) {
	t.Helper()
	if resp.Allowed != allowed {
		t.Errorf("allowed = %v, want %v (%+v)", resp.Allowed, allowed, resp.Result)
	}
	if !allowed {
		if resp.Result == nil || resp.Result.Code != code || resp.Result.Message != message {
			t.Errorf("result = %+v\nwant code %d message %q", resp.Result, code, message)
		}
	}
	if !slices.Equal(resp.Warnings, warnings) {
		t.Errorf("warnings = %q, want %q", resp.Warnings, warnings)
	}
}

func TestNewHandlerNeedsPolicies(t *testing.T) {
	t.Parallel()
	if _, err := NewHandler(HandlerOptions{}); err == nil {
		t.Error("no error without Policies")
	}
}
