package serve

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/admission"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

func TestProbe(t *testing.T) {
	failing, broken := true, false
	p := probe{
		{name: "always", fn: func() error { return nil }},
		{name: "policies", fn: func() error {
			if failing {
				return errors.New("policy set not loaded yet")
			}
			return nil
		}},
		{name: "broken policies", warning: true, fn: func() error {
			if broken {
				return errors.New("ClusterPolicy/p (last-good): does not compile")
			}
			return nil
		}},
	}
	serveProbe := func() (int, string) {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	if code, body := serveProbe(); code != http.StatusServiceUnavailable ||
		body != "not ready: policies: policy set not loaded yet\n" {
		t.Errorf("failing check: %d %q, want 503 naming only the failed check", code, body)
	}
	failing = false
	if code, body := serveProbe(); code != http.StatusOK || body != "ok" {
		t.Errorf("passing checks: %d %q, want 200 ok", code, body)
	}
	broken = true
	if code, body := serveProbe(); code != http.StatusOK || body != "ok\nwarning: broken policies: ClusterPolicy/p (last-good): does not compile" {
		t.Errorf("failing warning check: %d %q, want 200 ok listing the warning", code, body)
	}
	rec := httptest.NewRecorder()
	probe{}.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("no checks: %d, want 200", rec.Code)
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("short", 10); got != "short" {
		t.Errorf("truncate(short) = %q", got)
	}
	long := strings.Repeat("é", 600) // 1200 bytes
	got := truncate(long, maxEventNote)
	if len(got) > maxEventNote || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("truncate: %d bytes, valid UTF-8 %v, suffix %q", len(got), utf8.ValidString(got), got[len(got)-3:])
	}
	if len(got) < maxEventNote-4 {
		t.Errorf("truncate cut too much: %d bytes", len(got))
	}
}

func TestManagerOptions(t *testing.T) {
	scheme := runtime.NewScheme()
	o := Options{Namespace: "ns", LeaderElection: true, RetryPeriod: time.Second, TLSSecret: "tls"}.withDefaults()
	mo := managerOptions(scheme, o)
	if !mo.LeaderElection || mo.LeaderElectionResourceLock != resourcelock.LeasesResourceLock ||
		mo.LeaderElectionID != "portcullis" || mo.LeaderElectionNamespace != "ns" || !mo.LeaderElectionReleaseOnCancel {
		t.Errorf("leader election options = %+v", mo)
	}
	if mo.RetryPeriod == nil || *mo.RetryPeriod != time.Second || mo.LeaseDuration != nil || mo.RenewDeadline != nil {
		t.Errorf("durations: lease %v renew %v retry %v, want only retry set (1s)", mo.LeaseDuration, mo.RenewDeadline, mo.RetryPeriod)
	}
	if mo.Metrics.BindAddress != "0" || mo.HealthProbeBindAddress != "0" {
		t.Errorf("manager serves metrics %q / probes %q of its own, want neither", mo.Metrics.BindAddress, mo.HealthProbeBindAddress)
	}
	if len(mo.Cache.ByObject) != 1 {
		t.Errorf("cache ByObject = %v, want the certificate Secret only", mo.Cache.ByObject)
	}
	for obj, by := range mo.Cache.ByObject {
		if _, ok := obj.(*corev1.Secret); !ok || by.Field.String() != "metadata.name=tls" || len(by.Namespaces) != 1 {
			t.Errorf("cache restriction %T %v %v, want Secret metadata.name=tls in ns", obj, by.Field, by.Namespaces)
		}
	}
	if mo := managerOptions(scheme, Options{Namespace: "ns"}.withDefaults()); mo.LeaderElection || mo.Cache.ByObject != nil {
		t.Errorf("without leader election or Secret: %+v", mo)
	}
}

func TestRunnablePlacement(t *testing.T) {
	var r manager.Runnable = manager.RunnableFunc(nil)
	for _, tc := range []struct {
		r    manager.LeaderElectionRunnable
		want bool
	}{{everyReplica{r}, false}, {leaderOnly{r}, true}, {&webhookServer{}, false}} {
		if got := tc.r.NeedLeaderElection(); got != tc.want {
			t.Errorf("%T.NeedLeaderElection() = %v, want %v", tc.r, got, tc.want)
		}
	}
}

func bundleSecret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	b, err := admission.IssueBundle([]string{"127.0.0.1"}, time.Hour, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: "1"}, Data: bundleData(b)}
}

// TestCertLoader: the loader serves the Secret's certificate, reports a
// new CA once, writes the files, and keeps the previous certificate (and
// asks the issuer for a repair) when the Secret is damaged.
func TestCertLoader(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var cas [][]byte
	l := newCertLoader(nil, &certSecret{name: "tls", namespace: "ns"}, dir, func(b []byte) { cas = append(cas, b) },
		slog.New(slog.DiscardHandler))
	if l.Ready() {
		t.Fatal("ready before loading")
	}
	if _, err := l.GetCertificate(nil); err == nil {
		t.Fatal("a certificate before loading")
	}
	first := bundleSecret(t, "tls")
	l.load(first)
	l.load(first.DeepCopy()) // resync: same CA
	select {
	case <-l.ready:
	default:
		t.Fatal("ready channel open after loading")
	}
	c, err := l.GetCertificate(nil)
	if err != nil || !bytes.Equal(c.Certificate[0], mustLeaf(t, first).Certificate[0]) {
		t.Fatalf("served %v, %v; want the Secret's certificate", c, err)
	}
	if len(cas) != 1 || !bytes.Equal(cas[0], first.Data[secretCA]) {
		t.Fatalf("CA reported %d times, want once with the Secret's", len(cas))
	}
	for name, mode := range map[string]os.FileMode{secretCA: 0o644, secretCert: 0o644, secretKey: 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", name, err, st.Mode().Perm(), mode)
		}
	}

	other := bundleSecret(t, "other") // not ours: ignored
	l.load(other)
	damaged := bundleSecret(t, "tls")
	damaged.Data[secretKey] = other.Data[secretKey] // key of another certificate
	l.load(damaged)
	if c, _ := l.GetCertificate(nil); !bytes.Equal(c.Certificate[0], mustLeaf(t, first).Certificate[0]) {
		t.Fatal("a damaged or foreign Secret replaced the served certificate")
	}
	select {
	case <-l.poke:
	default:
		t.Fatal("a damaged Secret did not ask the issuer for a repair")
	}

	rotated := bundleSecret(t, "tls")
	l.load(rotated)
	if c, _ := l.GetCertificate(nil); !bytes.Equal(c.Certificate[0], mustLeaf(t, rotated).Certificate[0]) {
		t.Fatal("rotation not served")
	}
	if len(cas) != 2 || !bytes.Equal(cas[1], rotated.Data[secretCA]) {
		t.Fatalf("CA reported %d times, want the rotated CA second", len(cas))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, secretCert)); !bytes.Equal(b, rotated.Data[secretCert]) {
		t.Error("tls.crt not rewritten on rotation")
	}
}

func mustLeaf(t *testing.T, s *corev1.Secret) *tls.Certificate {
	t.Helper()
	c, err := parseBundle(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseBundle(t *testing.T) {
	s := bundleSecret(t, "tls")
	if _, err := parseBundle(s.Data); err != nil {
		t.Fatalf("valid bundle: %v", err)
	}
	for name, mutate := range map[string]func(map[string][]byte){
		"no CA":   func(d map[string][]byte) { delete(d, secretCA) },
		"no key":  func(d map[string][]byte) { delete(d, secretKey) },
		"garbage": func(d map[string][]byte) { d[secretCert] = []byte("not PEM") },
	} {
		d := bundleSecret(t, "tls").Data
		mutate(d)
		if _, err := parseBundle(d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReconcilerWaitCA: a CA rotation waits for the configuration to carry
// the new CA when this process publishes, not otherwise, and not forever.
func TestReconcilerWaitCA(t *testing.T) {
	r := &reconciler{log: slog.New(slog.DiscardHandler)}
	r.init()
	ca := []byte("new CA")
	t0 := time.Now()
	r.waitCA(ca, time.Minute) // not running (not the leader): no wait
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("waited %v while not publishing", d)
	}
	r.setCA(ca)
	select {
	case <-r.trigger:
	default:
		t.Fatal("a new CA did not ask for an apply")
	}
	r.setCA(ca)
	select {
	case <-r.trigger:
		t.Fatal("an unchanged CA asked for an apply")
	default:
	}

	r.mu.Lock()
	r.running = true
	r.mu.Unlock()
	go func() {
		time.Sleep(50 * time.Millisecond)
		r.markPublished(ca)
	}()
	t0 = time.Now()
	r.waitCA(ca, time.Minute)
	if d := time.Since(t0); d < 40*time.Millisecond || d > 10*time.Second {
		t.Fatalf("waited %v, want until the apply (~50ms)", d)
	}
	select {
	case <-r.applied:
	default:
		t.Fatal("applied still open after the first apply")
	}
	t0 = time.Now()
	r.waitCA([]byte("never published"), 100*time.Millisecond)
	if d := time.Since(t0); d < 100*time.Millisecond || d > 10*time.Second {
		t.Fatalf("waited %v, want the timeout (100ms)", d)
	}
}

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		bind, svc, url string
		want           string
	}{
		{"", "portcullis", "", ":9443"},
		{"", "portcullis", "https://10.0.0.5:9443", ":9443"},
		{"", "", "https://10.0.0.5:9443", "10.0.0.5:9443"},
		{"", "", "https://webhook.example.com:9443/x", "webhook.example.com:9443"},
		{"", "", "https://[fd00::5]:9443", "[fd00::5]:9443"},
		{"0.0.0.0", "", "https://10.0.0.5:9443", "0.0.0.0:9443"},
		{"", "", "", ":9443"},
	} {
		got, err := ListenAddr(tc.bind, 9443, tc.svc, tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ListenAddr(%q, 9443, %q, %q) = %q, %v; want %q", tc.bind, tc.svc, tc.url, got, err, tc.want)
		}
	}
	if _, err := ListenAddr("", 9443, "", "http://10.0.0.5"); err == nil {
		t.Error("plain-http webhook URL accepted")
	}
	for url, want := range map[string]int{"https://10.0.0.5:8443": 8443, "https://h.example": 443} {
		if got, err := WebhookURLPort(url); err != nil || got != want {
			t.Errorf("WebhookURLPort(%q) = %d, %v; want %d", url, got, err, want)
		}
	}
}
