package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/serve"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// certGeneration writes a CA and a serving certificate for 127.0.0.1 to a
// new directory (ca.crt, tls.crt, tls.key, as cert-manager does).
func certGeneration(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := admission.NewServer(http.NotFoundHandler(), admission.ServerOptions{CertDir: dir, DNSNames: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestServeCAFileReloadAndShutdown runs serve with provided certificate
// files (as with cert-manager): a new CA file reaches the webhook
// configuration's caBundle within seconds (it was read once before), and
// on stop /readyz fails at once while the webhook still answers for the
// shutdown delay, before it drains and exits.
func TestServeCAFileReloadAndShutdown(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) { te.CRDs = PolicyCRDs("portcullis.dev") }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	gens := []string{certGeneration(t), certGeneration(t)}
	dir := t.TempDir()
	install := func(gen string) {
		t.Helper()
		for _, f := range []string{admission.CAFile, admission.KeyFile, admission.CertFile} {
			b, err := os.ReadFile(filepath.Join(gen, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	ca := func(gen string) []byte {
		b, err := os.ReadFile(filepath.Join(gen, admission.CAFile))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	install(gens[0])
	ready := make(chan serve.Running, 1)
	errc := make(chan error, 1)
	const delay = 2 * time.Second
	go func() {
		errc <- serve.Run(ctx, env.Config, serve.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Namespace: "portcullis-system",
			CertFile: filepath.Join(dir, admission.CertFile), KeyFile: filepath.Join(dir, admission.KeyFile),
			CAFile: filepath.Join(dir, admission.CAFile), ShutdownDelay: delay}, func(r serve.Running) { ready <- r })
	}()
	var r serve.Running
	select {
	case r = <-ready:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start in 60 s")
	}
	caBundle := func() []byte {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &vwc); err != nil || len(vwc.Webhooks) == 0 {
			return nil
		}
		return vwc.Webhooks[0].ClientConfig.CABundle
	}
	if !bytes.Equal(caBundle(), ca(gens[0])) {
		t.Fatal("the configuration does not carry the CA file")
	}
	install(gens[1])
	start := time.Now()
	for !bytes.Equal(caBundle(), ca(gens[1])) {
		if time.Since(start) > 15*time.Second {
			t.Fatal("a new CA file did not reach the webhook configuration within 15 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new CA published after %v", time.Since(start).Round(time.Millisecond))

	readyz := func() (int, string) {
		resp, err := http.Get("http://" + r.MetricsAddr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before stopping: %d %s", code, body)
	}
	cancel()
	stopAt := time.Now()
	time.Sleep(200 * time.Millisecond)
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz right after stop: %d %q, want 503 shutting down", code, body)
	}
	// The webhook still completes TLS handshakes during the delay.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", r.Addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Errorf("webhook during the shutdown delay: %v", err)
	} else {
		conn.Close()
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
		if d := time.Since(stopAt); d < delay {
			t.Errorf("serve stopped %v after cancel, before the %v delay", d, delay)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("serve did not stop")
	}
}
