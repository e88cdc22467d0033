package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// BenchmarkPodCreate measures pod-create latency through a real API server
// without any webhook and then with Portcullis's webhook (the three runbook
// policies, compliant pods), in one run, and reports the ratio:
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) go test -run '^$' -bench BenchmarkPodCreate -benchtime 300x ./test/e2e/
func BenchmarkPodCreate(b *testing.B) {
	env := Start(b, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	ns := "bench"
	if err := env.Client.Create(ctx, namespace(ns)); err != nil {
		b.Fatal(err)
	}
	create := func(prefix string, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := env.Client.Create(ctx, pod(fmt.Sprintf("%s-%d", prefix, i), ns, "gcr.io/app:1", true, true)); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(n)
	}
	n := b.N
	create("warmup", 20)
	without := create("plain", n)

	for _, p := range decodeAll(b, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	ready := make(chan struct{})
	go func() {
		_ = serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}}, func(serve.Running) { close(ready) })
	}()
	<-ready
	// Wait until the API server calls the webhook.
	for {
		err := env.Client.Create(ctx, pod(fmt.Sprintf("probe-%d", time.Now().UnixNano()), ns, "docker.io/nginx", false, false))
		if err != nil && strings.Contains(err.Error(), "blocked") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	create("warmup-webhook", 20)
	b.ResetTimer()
	with := create("webhook", n)
	b.StopTimer()
	b.ReportMetric(float64(without.Microseconds()), "µs/create-plain")
	b.ReportMetric(float64(with.Microseconds()), "µs/create-webhook")
	b.ReportMetric(float64(with)/float64(without), "ratio")
}
