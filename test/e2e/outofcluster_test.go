package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// buildPortcullis builds the portcullis binary into a directory of t.
func buildPortcullis(t testing.TB) (string, error) {
	bin := filepath.Join(t.TempDir(), "portcullis")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/portcullis")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// adminKubeconfig writes a kubeconfig of a system:masters user of env.
func adminKubeconfig(t testing.TB, env *Env) string {
	t.Helper()
	u, err := env.Environment.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeOutOfCluster runs the out-of-cluster example of `serve --help`,
// `portcullis serve --kubeconfig K --webhook-url https://HOST:PORT`, as a
// process against a real API server: it must start (the generated
// certificate covers HOST, an IP SAN here), listen on HOST:PORT only,
// publish the configuration with that URL, and the API server must reach
// it over TLS and get its denials. SIGTERM stops it cleanly.
func TestServeOutOfCluster(t *testing.T) {
	env := Start(t, Options{Configure: func(te *envtest.Environment) {
		te.CRDs = append(PolicyCRDs("portcullis.dev"), ImagePolicyCRD())
	}})
	bin, err := buildPortcullis(t)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := adminKubeconfig(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, p := range decodeAll(t, runbookPolicies) {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, namespace("apps")); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{"serve", "--kubeconfig", kubeconfig, "--webhook-url", url}
	// The exact command; only when another process holds the default
	// metrics port (parallel test runs), move that elsewhere.
	if ln, err := net.Listen("tcp", ":8080"); err != nil {
		t.Logf("port 8080 busy (%v): adding --metrics-addr 127.0.0.1:0", err)
		args = append(args, "--metrics-addr", "127.0.0.1:0")
	} else {
		ln.Close()
	}
	cmd := exec.Command(bin, args...)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("serve output:\n%s", logs.String())
		}
	}()

	// The configuration appears with the URL, and a non-compliant pod is
	// denied by the webhook through the API server.
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("serve exited: %v", err)
		default:
		}
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		err := env.Client.Get(ctx, client.ObjectKey{Name: "portcullis"}, &vwc)
		if err == nil && len(vwc.Webhooks) > 0 {
			if u := vwc.Webhooks[0].ClientConfig.URL; u == nil || !strings.HasPrefix(*u, url+"/") {
				t.Fatalf("webhook URL = %v, want under %s", u, url)
			}
			err = env.Client.Create(ctx, pod("probe", "apps", "docker.io/nginx", false, false))
			if err != nil && strings.Contains(err.Error(), "blocked") && strings.Contains(err.Error(), "require-limits") {
				break
			}
			if err == nil {
				_ = env.Client.Delete(ctx, pod("probe", "apps", "", false, false))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook never denied a non-compliant pod (last error %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := env.Client.Create(ctx, pod("good", "apps", "gcr.io/app:1", true, true)); err != nil {
		t.Errorf("compliant pod: %v", err)
	}

	// Bound to the URL's host only: another local address is refused.
	if addr := otherLocalIP(); addr != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, fmt.Sprint(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("webhook answers on %s: it should listen on 127.0.0.1 only", addr)
		}
	} else {
		t.Log("no non-loopback address to check the bind address against")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Error("serve did not stop within 45 s of SIGTERM")
	}
}

// otherLocalIP returns a non-loopback IPv4 address of this machine ("" if none).
func otherLocalIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
