package admission

import (
	"github.com/prometheus/client_golang/prometheus"
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
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	panics    *prometheus.CounterVec
}

// latencyBuckets suit a webhook that answers in milliseconds: 250 µs to
// the API server's maximum timeout of 30 s.
var latencyBuckets = []float64{
	0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "requests_total",
			Help: "Admission requests by endpoint, operation, requested kind and result (allowed, denied, invalid, unavailable).",
		}, []string{"endpoint", "operation", "kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "request_duration_seconds",
			Help:    "Time to answer an admission request, from reading the body to writing the response.",
			Buckets: latencyBuckets,
		}, []string{"endpoint"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "policy_results_total",
			Help: "Rule results of admission evaluations by policy and result (pass, fail, warn, error, skip).",
		}, []string{"policy", "result"}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "admission", Name: "panics_total",
			Help: "Panics recovered while serving admission requests, by endpoint; each became a failed evaluation (denied under failurePolicy Fail).",
		}, []string{"path"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.decisions, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
