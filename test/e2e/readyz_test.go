package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/serve"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// gate holds back the requests whose path contains block until open is
// closed (or the request is cancelled).
type gate struct {
	next  http.RoundTripper
	block string
	open  chan struct{}
}

func (g gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, g.block) {
		select {
		case <-g.open:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return g.next.RoundTrip(req)
}

// TestReadyzWaitsForPolicies: /readyz answers 503 (naming the policies)
// while the policy set cannot be loaded, because the API server's answer
// to the ClusterPolicy list is held back, and 200 once it is; started is
// called only then.
func TestReadyzWaitsForPolicies(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := env.Client.Create(ctx, namespace("portcullis-system")); err != nil {
		t.Fatal(err)
	}
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	open := make(chan struct{})
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return gate{next: rt, block: "/apis/portcullis.dev/v1/clusterpolicies", open: open}
	})
	// A free port for the probe server, known before serve starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()

	started := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, cfg, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: metricsAddr, Namespace: "portcullis-system",
			DNSNames: []string{"127.0.0.1"}, CertDir: t.TempDir()}, func(r serve.Running) { started <- r })
	}()
	var code int
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err == nil {
			code, body = readAll(resp)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("probe server never answered: %v", err)
		}
		select {
		case err := <-errc:
			t.Fatalf("serve: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "policies") {
		t.Fatalf("/readyz before the policies are loaded: %d %q, want 503 naming the policies", code, body)
	}
	if code, _ := readAll(mustGet(t, "http://"+metricsAddr+"/healthz")); code != http.StatusOK {
		t.Fatalf("/healthz while loading: %d, want 200 (alive)", code)
	}
	select {
	case <-started:
		t.Fatal("started was called before the policies were loaded")
	case <-time.After(500 * time.Millisecond):
	}

	close(open)
	select {
	case r := <-started:
		if n := r.Policies.Current().Len(); n != 4 {
			t.Errorf("started with %d policies, want 4", n)
		}
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start in 30 s after the policies became readable")
	}
	if code, body := readAll(mustGet(t, "http://"+metricsAddr+"/readyz")); code != http.StatusOK {
		t.Fatalf("/readyz after the policies are loaded: %d %q, want 200", code, body)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v", err)
	}
}

func mustGet(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
