package background

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the controller; label sets are bounded: kinds are the watched
// kinds (named by the policies), policies the loaded policies, namespaces
// at most maxNamespaceLabels+2 values.
type metrics struct {
	evaluated  *prometheus.CounterVec
	duration   prometheus.Histogram
	violations *prometheus.GaugeVec
	resources  prometheus.Gauge
	writes     *prometheus.CounterVec
	panics     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		evaluated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_background_evaluations_total",
			Help: "Objects evaluated by the background controller, by kind."}, []string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "portcullis_background_evaluation_seconds",
			Help: "Time to evaluate one object in the background.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "portcullis_background_violations",
			Help: "Failing results of the objects in the cluster, by policy, severity and namespace (the 50 namespaces with the most; the rest summed as \"other\"; \"\" for cluster-scoped objects)."}, []string{"policy", "severity", "namespace"}),
		resources: prometheus.NewGauge(prometheus.GaugeOpts{Name: "portcullis_background_resources",
			Help: "Objects the background controller holds results for."}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portcullis_background_report_writes_total",
			Help: "PolicyReport writes by outcome (created, updated, deleted, failed)."}, []string{"outcome"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_background_panics_total",
			Help: "Evaluations that panicked (reported as error results)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.evaluated, m.duration, m.violations, m.resources, m.writes, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("background: register metrics: %w", err)
		}
	}
	return m, nil
}
