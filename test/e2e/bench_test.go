package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
// compliant pods) in one run. Create i goes, in rotating order so that all
// see the same machine load, to four namespaces: one the webhook
// configuration excludes (the API server calls no webhook), one it
// covers, and two that only a null webhook covers: served in this process
// like serve's webhook, answering "allowed" without decoding the review,
// the least any webhook can cost; one over HTTP/2 (as serve speaks), one
// over HTTP/1.1. It reports the median of each and its ratio to the plain
// create (ratio-p50-null is the floor no webhook's own speed can go under
// on this machine), the mean ratio of the covered creates, and the mean
// webhook call as the API server timed it (µs/apiserver-call-mean,
// µs/apiserver-null-call-mean, µs/apiserver-null-http1-call-mean) and as
// serve's handler did (µs/handler-mean):
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) go test -run '^$' -bench BenchmarkPodCreate -benchtime 300x ./test/e2e/
func BenchmarkPodCreate(b *testing.B) {
	env := Start(b, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	const covered, plain, null, null1 = "bench", "bench-plain", "bench-null", "bench-null-http1"
	for _, ns := range []string{covered, plain, null, null1} {
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
			DNSNames: []string{"127.0.0.1"}, ExcludeNamespaces: []string{"kube-system", "portcullis-system", plain, null, null1},
			Registry: reg},
			func(serve.Running) { close(ready) })
	}()
	<-ready
	nullHook := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		allow(w, body)
	}
	installTestWebhook(ctx, b, env, "null", null, false, nullHook)
	installTestWebhook(ctx, b, env, "null1", null1, true, nullHook)
	// Wait until the API server calls the webhook.
	for {
		err := env.Client.Create(ctx, pod(fmt.Sprintf("probe-%d", time.Now().UnixNano()), covered, "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The excluded namespaces are not sent to serve's webhook.
	for _, ns := range []string{plain, null, null1} {
		if err := env.Client.Create(ctx, pod("probe-"+ns, ns, "docker.io/nginx", false, false)); err != nil {
			b.Fatalf("the webhook covers %s too: %v", ns, err)
		}
	}
	for i := range 20 {
		create(fmt.Sprintf("warmup-%d", i), plain)
		create(fmt.Sprintf("warmup-%d", i), covered)
		create(fmt.Sprintf("warmup-%d", i), null)
		create(fmt.Sprintf("warmup-%d", i), null1)
	}
	n := b.N
	namespaces := []string{plain, covered, null, null1}
	took := map[string][]time.Duration{}
	sum0, count0 := handlerTime(b, reg)
	api0, null0, null10 := readAPIServerCosts(b, env.Config, "validate-"), readAPIServerCosts(b, env.Config, "null."), readAPIServerCosts(b, env.Config, "null1.")
	b.ResetTimer()
	for i := range n {
		name := fmt.Sprintf("pod-%d", i)
		for k := range namespaces { // rotate which goes first
			ns := namespaces[(i+k)%len(namespaces)]
			took[ns] = append(took[ns], create(name, ns))
		}
	}
	b.StopTimer()
	sum1, count1 := handlerTime(b, reg)
	api := readAPIServerCosts(b, env.Config, "validate-").sub(api0)
	nullAPI := readAPIServerCosts(b, env.Config, "null.").sub(null0)
	null1API := readAPIServerCosts(b, env.Config, "null1.").sub(null10)
	if api.validatingCalls != float64(n) || nullAPI.validatingCalls != float64(n) || api.mutatingCalls != 0 {
		b.Errorf("%d creates in each namespace made %v calls of serve's validating webhooks, %v of the null webhook and %v mutating ones, want %d, %d and 0",
			n, api.validatingCalls, nullAPI.validatingCalls, api.mutatingCalls, n, n)
	}
	if api.webhookCount > 0 && nullAPI.webhookCount > 0 && null1API.webhookCount > 0 {
		// The API server's own timing of its webhook calls: building and
		// encoding the review, the round trip (the handler included),
		// decoding the answer.
		b.ReportMetric(api.webhookSum/api.webhookCount*1e6, "µs/apiserver-call-mean")
		b.ReportMetric(nullAPI.webhookSum/nullAPI.webhookCount*1e6, "µs/apiserver-null-call-mean")
		b.ReportMetric(null1API.webhookSum/null1API.webhookCount*1e6, "µs/apiserver-null-http1-call-mean")
	}
	if count1 > count0 {
		// What the webhook's handler took of each call (decode, evaluate,
		// answer), the rest of the call being the API server's side
		// (encoding the review, the HTTP/2 round trip) and scheduling.
		b.ReportMetric((sum1-sum0)/float64(count1-count0)*1e6, "µs/handler-mean")
	}
	p50p, p50w, p50n, p50n1 := median(took[plain]), median(took[covered]), median(took[null]), median(took[null1])
	b.ReportMetric(float64(p50p.Microseconds()), "µs/create-plain-p50")
	b.ReportMetric(float64(p50w.Microseconds()), "µs/create-webhook-p50")
	b.ReportMetric(float64(p50n.Microseconds()), "µs/create-null-p50")
	b.ReportMetric(float64(p50w)/float64(p50p), "ratio-p50")
	b.ReportMetric(float64(p50n)/float64(p50p), "ratio-p50-null")
	b.ReportMetric(float64(p50n1)/float64(p50p), "ratio-p50-null-http1")
	b.ReportMetric(float64(mean(took[covered]))/float64(mean(took[plain])), "ratio-mean")
}

// handlerTime is the sum (seconds) and count of
// portcullis_admission_request_duration_seconds of the validating paths
// ("/validate" and its groups' "/validate/...", not "/validate-policy").
func handlerTime(tb testing.TB, reg *prometheus.Registry) (sum float64, count uint64) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_admission_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "endpoint" && strings.HasPrefix(l.GetValue(), "/validate") && l.GetValue() != "/validate-policy" {
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
