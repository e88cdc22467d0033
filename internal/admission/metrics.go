package admission

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Request results in portcullis_admission_requests_total.
const (
	resultAllowed = "allowed"
	resultDenied  = "denied"
	// resultInvalid: the request was rejected before evaluation (4xx).
	resultInvalid = "invalid"
	// resultUnavailable: no policy set loaded yet (503).
	resultUnavailable = "unavailable"
)

type metrics struct {
	requests  requestCounter
	latency   latencyHistogram
	decisions *prometheus.CounterVec
	panics    *prometheus.CounterVec
}

// labelOther replaces a label value outside its allowlist. A request's
// kind and operation are chosen by whoever sends the AdmissionReview (any
// Pod that can reach the webhook, or any user creating a custom resource):
// used as label values unchecked, they would create one time series per
// value, without bound.
const labelOther = "other"

// labels bounds the label values of the request metrics to fixed sets.
type labels struct {
	kinds      map[string]bool
	operations map[string]bool
	endpoints  map[string]bool
}

// policyKinds are the kinds /validate-policy receives, besides the
// built-in ones.
var policyKinds = []string{"ClusterPolicy", "Policy", "ValidatingPolicy", "ClusterImagePolicy",
	"PolicyException", "ImageValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "DeletingPolicy"}

func newLabels() labels {
	l := labels{kinds: map[string]bool{"": true}, operations: map[string]bool{"": true},
		endpoints: map[string]bool{PathValidate: true, PathMutate: true, PathValidatePolicy: true}}
	// Every kind of the built-in API groups (client-go's scheme: a fixed
	// table of a few hundred names), plus the policy kinds.
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		if !strings.HasSuffix(gvk.Kind, "List") && !strings.HasSuffix(gvk.Kind, "Options") {
			l.kinds[gvk.Kind] = true
		}
	}
	for _, k := range policyKinds {
		l.kinds[k] = true
	}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE", "CONNECT"} {
		l.operations[op] = true
	}
	return l
}

func bound(set map[string]bool, v string) string {
	if set[v] {
		return v
	}
	return labelOther
}

// requestCounter is portcullis_admission_requests_total with bounded
// labels.
type requestCounter struct {
	vec *prometheus.CounterVec
	l   labels
}

// WithLabelValues returns the counter of a request, its endpoint, operation
// and kind mapped to "other" when they are not in the allowlists.
func (c requestCounter) WithLabelValues(endpoint, operation, kind, result string) prometheus.Counter {
	return c.vec.WithLabelValues(bound(c.l.endpoints, endpoint), bound(c.l.operations, operation), bound(c.l.kinds, kind), result)
}

// latencyHistogram is portcullis_admission_request_duration_seconds with
// a bounded endpoint label.
type latencyHistogram struct {
	vec *prometheus.HistogramVec
	l   labels
}

// WithLabelValues returns the histogram of an endpoint ("other" when it is
// not one of the handler's paths).
func (h latencyHistogram) WithLabelValues(endpoint string) prometheus.Observer {
	return h.vec.WithLabelValues(bound(h.l.endpoints, endpoint))
}

// latencyBuckets suit a webhook that answers in milliseconds: 250 µs to
// the API server's maximum timeout of 30 s.
var latencyBuckets = []float64{
	0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	l := newLabels()
	m := &metrics{
		requests: requestCounter{l: l, vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "requests_total",
			Help: "Admission requests by endpoint, operation, requested kind (\"other\" outside the built-in and policy kinds) and result (allowed, denied, invalid, unavailable).",
		}, []string{"endpoint", "operation", "kind", "result"})},
		latency: latencyHistogram{l: l, vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "request_duration_seconds",
			Help:    "Time to answer an admission request, from reading the body to writing the response.",
			Buckets: latencyBuckets,
		}, []string{"endpoint"})},
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "policy_results_total",
			Help: "Rule results of admission evaluations by policy and result (pass, fail, warn, error, skip).",
		}, []string{"policy", "result"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "panics_total",
			Help: "Panics recovered while serving admission requests, by endpoint; each became a failed evaluation (denied under failurePolicy Fail).",
		}, []string{"path"}),
	}
	for _, c := range []prometheus.Collector{m.requests.vec, m.latency.vec, m.decisions, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
