package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/controls"
	"github.com/portcullis/portcullis/internal/serve"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// countingTransport counts the requests of the serve process.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// reportTotals sums the summaries of every Portcullis report and their
// encoded size (custom resources are stored in etcd as JSON).
func reportTotals(ctx context.Context, b *testing.B, c client.Client) (results int64, failsOf map[string]int64, bytes int) {
	failsOf = map[string]int64{}
	for _, kind := range []string{"PolicyReportList", "ClusterPolicyReportList"} {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion("wgpolicyk8s.io/v1alpha2")
		list.SetKind(kind)
		if err := c.List(ctx, list); err != nil {
			b.Fatal(err)
		}
		for _, r := range list.Items {
			data, _ := json.Marshal(r.Object)
			bytes += len(data)
			for _, k := range []string{"pass", "fail", "warn", "error", "skip"} {
				n, _, _ := unstructured.NestedInt64(r.Object, "summary", k)
				results += n
			}
			items, _, _ := unstructured.NestedSlice(r.Object, "results")
			for _, x := range items {
				failsOf[x.(map[string]any)["policy"].(string)]++
			}
		}
	}
	return results, failsOf, bytes
}

func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkBackground10k: PORTCULLIS_BENCH_PODS Pods (default 10,000; half
// of them privileged) in 20 namespaces of the test API server, the built-in
// PSS + runbook policies; serve with the background controller. Reports:
// the time to the first complete reports, the time from deleting one
// policy to reports without it, the API requests of serve in that
// re-evaluation, the encoded size of all reports (what etcd stores) and
// the RSS of the test process (serve with its caches; the API server and
// etcd are other processes).
//
//	KUBEBUILDER_ASSETS=$(hack/envtest/build.sh | tail -1) go test -run '^$' -bench BenchmarkBackground10k -benchtime 1x -timeout 60m ./test/e2e/
func BenchmarkBackground10k(b *testing.B) {
	pods := 10000
	if v, err := strconv.Atoi(os.Getenv("PORTCULLIS_BENCH_PODS")); err == nil && v > 0 {
		pods = v
	}
	env := Start(b, Options{CRDDirectoryPaths: []string{reportCRDs}, Configure: func(te *envtest.Environment) {
		te.CRDs = PolicyCRDs("kyverno.io")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	const namespaces = 20
	for i := range namespaces {
		if err := env.Client.Create(ctx, namespace(fmt.Sprintf("team-%02d", i))); err != nil {
			b.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, namespace("portcullis-system")); err != nil {
		b.Fatal(err)
	}
	files, err := controls.Files()
	if err != nil {
		b.Fatal(err)
	}
	var policyNames []string
	for _, f := range files {
		for _, d := range strings.Split(string(f.Data), "\n---\n") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil || u.Object == nil {
				continue
			}
			if err := env.Client.Create(ctx, u); err != nil {
				b.Fatalf("policy %s: %v", f.Path, err)
			}
			policyNames = append(policyNames, u.GetName())
		}
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				p := pod(fmt.Sprintf("app-%05d", i), fmt.Sprintf("team-%02d", i%namespaces), "gcr.io/app:1", true, true)
				p.Labels = map[string]string{"app": "bench"}
				if i%2 == 1 {
					yes := true
					p.Spec.Containers[0].SecurityContext.Privileged = &yes
					p.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
				}
				if err := env.Client.Create(ctx, p); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range pods {
		work <- i
	}
	close(work)
	wg.Wait()
	b.Logf("created %d Pods in %s", pods, time.Since(t0).Round(time.Second))

	cfg := rest.CopyConfig(env.Config)
	counter := &countingTransport{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { counter.base = rt; return counter })
	cfg.QPS, cfg.Burst = 200, 400
	reg := prometheus.NewRegistry()
	ready := make(chan struct{})
	started := time.Now()
	go func() {
		err := serve.Run(ctx, cfg, serve.Options{Addr: "127.0.0.1:0", Namespace: "portcullis-system", PolicyGroup: "kyverno.io",
			DNSNames: []string{"127.0.0.1"}, Background: true, Registry: reg}, func(serve.Running) { close(ready) })
		if err != nil && ctx.Err() == nil {
			b.Error(err)
		}
	}()
	<-ready
	b.ResetTimer()
	// Every Pod is reported once its namespace's report counts its results.
	var total int64
	var bytes int
	stable := 0
	for {
		n, _, size := reportTotals(ctx, b, env.Client)
		if n > 0 && n == total {
			stable++
		} else {
			stable = 0
		}
		total, bytes = n, size
		evaluated := counterValue(b, reg, "portcullis_background_evaluations_total", "kind", "Pod")
		if stable >= 3 && evaluated >= float64(pods) {
			break
		}
		if time.Since(started) > 20*time.Minute {
			b.Fatalf("reports incomplete after 20 minutes: %d results, %v Pods evaluated", n, evaluated)
		}
		time.Sleep(500 * time.Millisecond)
	}
	initial := time.Since(started)
	rss := rssMiB()

	// Deleting a policy: every report loses its results.
	victim := ""
	_, fails, _ := reportTotals(ctx, b, env.Client)
	for p, n := range fails {
		if n > 0 && (victim == "" || p < victim) {
			victim = p
		}
	}
	before := counter.n.Load()
	changed := time.Now()
	pol := &unstructured.Unstructured{}
	pol.SetAPIVersion("kyverno.io/v1")
	pol.SetKind("ClusterPolicy")
	pol.SetName(victim)
	if err := env.Client.Delete(ctx, pol); err != nil {
		b.Fatal(err)
	}
	for {
		_, fails, _ := reportTotals(ctx, b, env.Client)
		if fails[victim] == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	reeval := time.Since(changed)
	requests := counter.n.Load() - before
	b.StopTimer()
	b.ReportMetric(initial.Seconds(), "initial-s")
	b.ReportMetric(reeval.Seconds(), "policy-change-s")
	b.ReportMetric(float64(requests), "api-requests/change")
	b.ReportMetric(float64(bytes)/1e6, "report-MB")
	b.ReportMetric(rss, "rss-MiB")
	b.Logf("%d Pods, %d policies, %d results in reports (%.2f MB); first reports after %s; deleting %s updated them in %s with %d API requests; RSS %.0f MiB",
		pods, len(policyNames), total, float64(bytes)/1e6, initial.Round(time.Millisecond), victim, reeval.Round(time.Millisecond), requests, rss)
}
