package events

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of portcullis_events_failed_total (an event given up).
const (
	// failRejected: the receiver answered a 4xx other than 429 (or a
	// 1xx/3xx the client did not follow).
	failRejected = "rejected"
	// failAttempts: Options.MaxAttempts retryable failures in a row.
	failAttempts = "attempts"
	// failInvalid: the transition could not be made into a valid event.
	failInvalid = "invalid"
)

// Reasons of portcullis_events_retries_total (a failed attempt that will
// be retried).
const (
	retryNetwork   = "network"
	retryServer    = "server_error"
	retryThrottled = "throttled"
)

type metrics struct {
	sent    prometheus.Counter
	failed  *prometheus.CounterVec
	dropped prometheus.Counter
	retries *prometheus.CounterVec
	queue   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "events", Name: "sent_total",
			Help: "CloudEvents the receiver accepted (2xx).",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "events", Name: "failed_total",
			Help: "CloudEvents given up, by reason: rejected (a 4xx answer other than 429), attempts (the attempt limit was reached), invalid (no valid event could be made).",
		}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "events", Name: "dropped_total",
			Help: "CloudEvents dropped undelivered because the queue was full (the oldest go first).",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Subsystem: "events", Name: "retries_total",
			Help: "Failed CloudEvent delivery attempts that will be retried, by reason: network, server_error (5xx), throttled (429).",
		}, []string{"reason"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "portcullis", Subsystem: "events", Name: "queue_length",
			Help: "CloudEvents waiting for delivery, including those being delivered.",
		}),
	}
	for _, r := range []string{failRejected, failAttempts, failInvalid} {
		m.failed.WithLabelValues(r)
	}
	for _, r := range []string{retryNetwork, retryServer, retryThrottled} {
		m.retries.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.dropped, m.retries, m.queue} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
