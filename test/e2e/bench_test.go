package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// BenchmarkPodCreate measures pod-create latency through a real API server
// with and without Portcullis's webhook (the three runbook policies,
// compliant pods) in one run, alternating: create i goes to a namespace
// the webhook configuration excludes (the API server calls no webhook)
// and then to one it covers, so both halves see the same machine load.
// It reports the median and mean of each and their ratios:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) go test -run '^$' -bench BenchmarkPodCreate -benchtime 300x ./test/e2e/
func BenchmarkPodCreate(b *testing.B) {
	env := Start(b, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	const covered, plain = "bench", "bench-plain"
	for _, ns := range []string{covered, plain} {
		if err := env.Client.Create(ctx, namespace(ns)); err != nil {
			b.Fatal(err)
		}
	}
	create := func(name, ns string) time.Duration {
		start := time.Now()
		if err := env.Client.Create(ctx, pod(name, ns, "gcr.io/app:1", true, true)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, p := range decodeAll(b, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	ready := make(chan struct{})
	reg := prometheus.NewRegistry()
	go func() {
		_ = serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, ExcludeNamespaces: []string{"kube-system", "portcullis-system", plain},
			Registry: reg},
			func(serve.Running) { close(ready) })
	}()
	<-ready
	// Wait until the API server calls the webhook.
	for {
		err := env.Client.Create(ctx, pod(fmt.Sprintf("probe-%d", time.Now().UnixNano()), covered, "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The excluded namespace is not sent to the webhook.
	if err := env.Client.Create(ctx, pod("probe-plain", plain, "docker.io/nginx", false, false)); err != nil {
		b.Fatalf("the webhook covers %s too: %v", plain, err)
	}
	for i := range 20 {
		create(fmt.Sprintf("warmup-%d", i), plain)
		create(fmt.Sprintf("warmup-%d", i), covered)
	}
	n := b.N
	without, with := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	sum0, count0 := handlerTime(b, reg)
	b.ResetTimer()
	for i := range n {
		name := fmt.Sprintf("pod-%d", i)
		if i%2 == 0 { // alternate which goes first
			without = append(without, create(name, plain))
			with = append(with, create(name, covered))
		} else {
			with = append(with, create(name, covered))
			without = append(without, create(name, plain))
		}
	}
	b.StopTimer()
	sum1, count1 := handlerTime(b, reg)
	if count1 > count0 {
		// What the webhook's handler took of each call (decode, evaluate,
		// answer), the rest of the difference being the API server's
		// side: encoding the review, the HTTP/2 round trip, scheduling.
		b.ReportMetric((sum1-sum0)/float64(count1-count0)*1e6, "µs/handler-mean")
	}
	p50w, p50p := median(with), median(without)
	meanw, meanp := mean(with), mean(without)
	b.ReportMetric(float64(p50p.Microseconds()), "µs/create-plain-p50")
	b.ReportMetric(float64(p50w.Microseconds()), "µs/create-webhook-p50")
	b.ReportMetric(float64(p50w)/float64(p50p), "ratio-p50")
	b.ReportMetric(float64(meanw)/float64(meanp), "ratio-mean")
}

// handlerTime is the sum (seconds) and count of
// portcullis_admission_request_duration_seconds{endpoint="/validate"}.
func handlerTime(b *testing.B, reg *prometheus.Registry) (sum float64, count uint64) {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_admission_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && strings.HasPrefix(l.GetValue(), "/validate") {
					sum += m.GetHistogram().GetSampleSum()
					count += m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return sum, count
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}
