package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	admissionv1 "k8s.io/api/admission/v1"
)

// runServer starts s until the test ends and returns a function that
// stops it and reports Run's error.
func runServer(t *testing.T, s *Server) (stop func() error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func certPool(t *testing.T, bundle []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatalf("no certificates in bundle %q", bundle)
	}
	return pool
}

func pemCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// handshake connects to s verifying against roots as serverName and
// returns the served leaf.
func handshake(s *Server, roots *x509.CertPool, serverName string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestServerSelfSigned(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "certs")
	bundles := make(chan []byte, 4)
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	s, err := NewServer(h, ServerOptions{
		Addr: "127.0.0.1:0", CertDir: dir,
		ServiceName: "portcullis", ServiceNamespace: "security", DNSNames: []string{"127.0.0.1", "portcullis.example"},
		OnCABundle: func(b []byte) { bundles <- b },
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runServer(t, s)
	var bundle []byte
	select {
	case bundle = <-bundles:
	case <-time.After(5 * time.Second):
		t.Fatal("OnCABundle not called at start")
	}
	if !bytes.Equal(bundle, s.CABundle()) {
		t.Error("OnCABundle and CABundle differ")
	}

	// Files: the bundle, the serving certificate and a private key.
	onDisk, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil || !bytes.Equal(onDisk, bundle) {
		t.Errorf("%s = %q, %v; want the bundle", CAFile, onDisk, err)
	}
	if st, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", KeyFile, err, st.Mode())
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
		t.Errorf("written pair does not load: %v", err)
	}
	leaf := pemCerts(t, certPEM)[0]
	wantNames := []string{"portcullis.security.svc", "portcullis.security.svc.cluster.local", "portcullis.security", "portcullis", "portcullis.example"}
	if !slices.Equal(leaf.DNSNames, wantNames) {
		t.Errorf("DNS names = %q, want %q", leaf.DNSNames, wantNames)
	}
	if len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("IP SANs = %v", leaf.IPAddresses)
	}
	if ca := pemCerts(t, bundle); len(ca) != 1 || !ca[0].IsCA {
		t.Errorf("bundle holds %d certificates, want one CA", len(ca))
	}

	roots := certPool(t, bundle)
	for _, name := range []string{"portcullis.security.svc", "portcullis.security.svc.cluster.local", "127.0.0.1"} {
		served, err := handshake(s, roots, name)
		if err != nil {
			t.Errorf("TLS as %s: %v", name, err)
			continue
		}
		if !served.Equal(leaf) {
			t.Errorf("served certificate is not the one in %s", CertFile)
		}
	}
	if _, err := handshake(s, roots, "other.security.svc"); err == nil {
		t.Error("handshake for a name not in the certificate succeeded")
	}
	// TLS 1.1 is refused.
	if conn, err := tls.Dial("tcp", s.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("TLS 1.1 handshake succeeded")
	}

	// A review over the verified connection. The client offers HTTP/2 and
	// HTTP/1.1; the server, without ServerOptions.HTTP2, answers in
	// HTTP/1.1, as the API server calls webhooks behind a Service.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "portcullis.security.svc"},
		ForceAttemptHTTP2: true,
	}}
	body := reviewBody(t, reviewReq{uid: "tls-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	resp, err := client.Post("https://"+s.Addr().String()+PathValidate+"?timeout=10s", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &review); err != nil || review.Response == nil || review.Response.Allowed || review.Response.UID != "tls-1" {
		t.Errorf("review over TLS: %v %s", err, data)
	}
	if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("protocol %s, want HTTP/1.1 (HTTP2 is off)", resp.Proto)
	}
	client.CloseIdleConnections()

	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := handshake(s, roots, "127.0.0.1"); err == nil {
		t.Error("still serving after shutdown")
	}
	if err := s.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

// TestServerHTTP2 checks that ServerOptions.HTTP2 offers HTTP/2 (what the
// API server uses for a webhook URL on localhost) and that a client that
// offers only HTTP/1.1, as the API server does for every other webhook,
// still gets it.
func TestServerHTTP2(t *testing.T) {
	t.Parallel()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	s, err := NewServer(h, ServerOptions{Addr: "127.0.0.1:0", DNSNames: []string{"127.0.0.1"}, HTTP2: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := runServer(t, s)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	roots := certPool(t, s.CABundle())
	body := reviewBody(t, reviewReq{uid: "h2-1", kind: "Pod", namespace: "ops", name: "debugger", object: privilegedPod})
	for _, tc := range []struct {
		name       string
		nextProtos []string
		major      int
	}{
		{"offers h2", nil, 2},
		{"offers http/1.1 only", []string{"http/1.1"}, 1},
	} {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: tc.nextProtos},
			ForceAttemptHTTP2: tc.nextProtos == nil,
		}}
		resp, err := client.Post("https://"+s.Addr().String()+PathValidate+"?timeout=10s", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		client.CloseIdleConnections()
		if resp.ProtoMajor != tc.major {
			t.Errorf("%s: protocol %s, want major version %d", tc.name, resp.Proto, tc.major)
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(data, &review); err != nil || review.Response == nil || review.Response.Allowed || review.Response.UID != "h2-1" {
			t.Errorf("%s: review: %v %s", tc.name, err, data)
		}
	}
}

// TestServerContentLength checks that a review's answer declares its
// length over HTTP/1.1 even when it is larger than net/http's 2 KiB
// response buffer, beyond which net/http would otherwise switch to
// chunked encoding (more framing, more writes).
func TestServerContentLength(t *testing.T) {
	t.Parallel()
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(pssSet(t, policy.Enforce))})
	s, err := NewServer(h, ServerOptions{Addr: "127.0.0.1:0", DNSNames: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, s)
	// Every container fails several controls: a long denial message.
	var containers []string
	for i := range 12 {
		containers = append(containers, fmt.Sprintf(`{"name":"c%d-with-a-rather-long-name","image":"registry.example/team/image-%d:1.0","securityContext":{"privileged":true,"capabilities":{"add":["SYS_ADMIN"]}},"ports":[{"containerPort":80,"hostPort":%d}]}`, i, i, 8000+i))
	}
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ops"},"spec":{"hostPID":true,"hostNetwork":true,"containers":[` + strings.Join(containers, ",") + `]}}`
	body := reviewBody(t, reviewReq{uid: "cl-1", kind: "Pod", namespace: "ops", name: "p", object: pod})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, s.CABundle()), ServerName: "127.0.0.1"}}}
	defer client.CloseIdleConnections()
	resp, err := client.Post("https://"+s.Addr().String()+PathValidate, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"allowed":false`)) {
		t.Fatalf("HTTP %d, %v: %.300s", resp.StatusCode, err, data)
	}
	if len(data) <= 2048 {
		t.Fatalf("the answer is %d bytes: the test needs one above net/http's 2 KiB buffer", len(data))
	}
	if resp.ContentLength != int64(len(data)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("%s answer of %d bytes: Content-Length %d, Transfer-Encoding %q", resp.Proto, len(data), resp.ContentLength, resp.TransferEncoding)
	}
}

func TestServerRotation(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bundles [][]byte
	s, err := NewServer(http.NotFoundHandler(), ServerOptions{
		Addr: "127.0.0.1:0", CertDir: t.TempDir(), DNSNames: []string{"127.0.0.1"},
		Validity: time.Second, CAValidity: 2 * time.Second,
		OnCABundle: func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			bundles = append(bundles, b)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	latest := func() ([]byte, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(bundles) == 0 {
			return nil, 0
		}
		return bundles[len(bundles)-1], len(bundles)
	}
	stop := runServer(t, s)

	// Over 3.5 s (lifetimes are whole seconds, rounded up: 1-2 s and 2-3 s):
	// several serving certificates; bundles at start, at the CA rotation
	// (new and old CA) and when the old CA expires.
	// Every handshake verifies against the latest published bundle.
	serials := map[string]bool{}
	issuers := map[string]bool{}
	deadline := time.Now().Add(3500 * time.Millisecond)
	for time.Now().Before(deadline) {
		b, _ := latest()
		if b == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		leaf, err := handshake(s, certPool(t, b), "127.0.0.1")
		if err != nil {
			t.Fatalf("handshake with the latest CA bundle: %v", err)
		}
		serials[leaf.SerialNumber.String()] = true
		issuers[leaf.Issuer.CommonName] = true
		time.Sleep(25 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(serials) < 3 || len(issuers) < 2 {
		t.Errorf("saw %d serving certificates from %d CAs, want at least 3 from 2", len(serials), len(issuers))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bundles) < 3 {
		t.Fatalf("OnCABundle called %d times, want at least 3", len(bundles))
	}
	if n := len(pemCerts(t, bundles[1])); n != 2 {
		t.Errorf("bundle after CA rotation holds %d CAs, want the new and the old", n)
	}
	if n := len(pemCerts(t, bundles[2])); n != 1 {
		t.Errorf("bundle after the old CA expired holds %d CAs, want 1", n)
	}
	if pemCerts(t, bundles[1])[0].Equal(pemCerts(t, bundles[0])[0]) || !pemCerts(t, bundles[1])[1].Equal(pemCerts(t, bundles[0])[0]) {
		t.Error("rotated bundle is not [new CA, old CA]")
	}
}

func TestServerCertFiles(t *testing.T) {
	t.Parallel()
	// Two certificate generations, made by the generator.
	gens := make([]string, 2)
	for i := range gens {
		gens[i] = t.TempDir()
		g, err := newGenerator(gens[i], []string{"127.0.0.1"}, time.Hour, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.rotate(nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	install := func(from string) {
		for _, f := range []string{KeyFile, CertFile} {
			data, err := os.ReadFile(filepath.Join(from, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(gens[0])
	s, err := NewServer(http.NotFoundHandler(), ServerOptions{
		Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, CertFile), KeyFile: filepath.Join(dir, KeyFile),
		ReloadInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.CABundle() != nil {
		t.Error("CABundle with certificate files is not nil")
	}
	runServer(t, s)
	roots := func(gen string) *x509.CertPool {
		b, err := os.ReadFile(filepath.Join(gen, CAFile))
		if err != nil {
			t.Fatal(err)
		}
		return certPool(t, b)
	}
	if _, err := handshake(s, roots(gens[0]), "127.0.0.1"); err != nil {
		t.Fatalf("first certificate: %v", err)
	}

	// A broken file keeps the previous certificate.
	if err := os.WriteFile(filepath.Join(dir, CertFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := handshake(s, roots(gens[0]), "127.0.0.1"); err != nil {
		t.Fatalf("after a broken file: %v", err)
	}

	// A new pair is picked up without a restart.
	install(gens[1])
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := handshake(s, roots(gens[1]), "127.0.0.1"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new certificate files not served within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	s, err := NewServer(slow, ServerOptions{Addr: "127.0.0.1:0", DNSNames: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runServer(t, s)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, s.CABundle()), ServerName: "127.0.0.1"}}}
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := client.Get("https://" + s.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := <-got
	if r.err != nil || r.body != "done" {
		t.Errorf("in-flight request: %q, %v; want it to finish", r.body, r.err)
	}
}

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	h := http.NotFoundHandler()
	tests := []struct {
		name string
		h    http.Handler
		opts ServerOptions
	}{
		{"no handler", nil, ServerOptions{DNSNames: []string{"x"}}},
		{"cert without key", h, ServerOptions{CertFile: "tls.crt"}},
		{"missing files", h, ServerOptions{CertFile: "/nonexistent/tls.crt", KeyFile: "/nonexistent/tls.key"}},
		{"no names to certify", h, ServerOptions{ServiceName: "svc"}},
		{"CA shorter than certificate", h, ServerOptions{DNSNames: []string{"x"}, Validity: time.Hour, CAValidity: time.Minute}},
		{"GetCertificate with files", h, ServerOptions{CertFile: "tls.crt", KeyFile: "tls.key",
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewServer(tt.h, tt.opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestServerGetCertificate: a server given GetCertificate serves what it
// returns at each handshake (a swap takes effect at once), generates
// nothing, and fails handshakes while there is no certificate.
func TestServerGetCertificate(t *testing.T) {
	t.Parallel()
	var current atomic.Pointer[tls.Certificate]
	var published atomic.Bool
	s, err := NewServer(http.NotFoundHandler(), ServerOptions{Addr: "127.0.0.1:0",
		OnCABundle: func([]byte) { published.Store(true) },
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := current.Load(); c != nil {
				return c, nil
			}
			return nil, errors.New("none yet")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if s.CABundle() != nil {
		t.Error("CABundle with GetCertificate, want none (nothing generated)")
	}
	stop := runServer(t, s)
	if _, err := handshake(s, x509.NewCertPool(), "127.0.0.1"); err == nil {
		t.Fatal("handshake succeeded without a certificate")
	}
	install := func() []byte {
		b, err := IssueBundle([]string{"127.0.0.1"}, time.Hour, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(b.Cert, b.Key)
		if err != nil {
			t.Fatal(err)
		}
		current.Store(&pair)
		return b.CA
	}
	for i := 0; i < 2; i++ {
		ca := install()
		leaf, err := handshake(s, certPool(t, ca), "127.0.0.1")
		if err != nil {
			t.Fatalf("bundle %d: %v", i, err)
		}
		if want := pemCerts(t, ca)[0]; leaf.Issuer.CommonName != want.Subject.CommonName {
			t.Fatalf("bundle %d: served a certificate of %s, want %s", i, leaf.Issuer.CommonName, want.Subject.CommonName)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if published.Load() {
		t.Error("OnCABundle called although the server generates nothing")
	}
}

// TestServerCAFileReload: with certificate files, the CA file is handed to
// OnCABundle at start and again when it changes, before the certificate
// files reloaded in the same check are served; a broken CA file keeps the
// previous bundle.
func TestServerCAFileReload(t *testing.T) {
	t.Parallel()
	gens := make([]string, 2)
	for i := range gens {
		gens[i] = t.TempDir()
		g, err := newGenerator(gens[i], []string{"127.0.0.1"}, time.Hour, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.rotate(nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	install := func(from string, files ...string) {
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(from, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	caOf := func(gen string) []byte {
		b, err := os.ReadFile(filepath.Join(gen, CAFile))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	install(gens[0], KeyFile, CertFile, CAFile)
	var (
		mu        sync.Mutex
		published [][]byte
		// servedNew is whether the new certificate was already served
		// when the new CA was published (it must not be).
		servedNew bool
		s         *Server
	)
	s, err := NewServer(http.NotFoundHandler(), ServerOptions{
		Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, CertFile), KeyFile: filepath.Join(dir, KeyFile),
		CAFile: filepath.Join(dir, CAFile), ReloadInterval: 20 * time.Millisecond,
		OnCABundle: func(b []byte) {
			mu.Lock()
			defer mu.Unlock()
			published = append(published, b)
			if s != nil && bytes.Equal(b, caOf(gens[1])) {
				_, err := handshake(s, certPool(t, caOf(gens[1])), "127.0.0.1")
				servedNew = err == nil
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.CABundle(), caOf(gens[0])) {
		t.Fatal("CABundle is not the CA file's content")
	}
	runServer(t, s)
	waitPublished := func(want []byte) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(published)
			last := []byte(nil)
			if n > 0 {
				last = published[n-1]
			}
			mu.Unlock()
			if bytes.Equal(last, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("CA bundle not published within 5 s (%d published)", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPublished(caOf(gens[0]))

	// A broken CA file publishes nothing and keeps the bundle.
	if err := os.WriteFile(filepath.Join(dir, CAFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if !bytes.Equal(s.CABundle(), caOf(gens[0])) {
		t.Error("a broken CA file replaced the bundle")
	}
	mu.Lock()
	if n := len(published); n != 1 {
		t.Errorf("%d bundles published after a broken CA file, want 1", n)
	}
	mu.Unlock()

	// cert-manager rotates the three files at once.
	install(gens[1], CAFile, KeyFile, CertFile)
	waitPublished(caOf(gens[1]))
	mu.Lock()
	if servedNew {
		t.Error("the new certificate was served before its CA was published")
	}
	mu.Unlock()
	if !bytes.Equal(s.CABundle(), caOf(gens[1])) {
		t.Error("CABundle is not the new CA file's content")
	}
}

// TestServerShutdownDelay: when Run's context ends, Stopping reports true
// at once, the server keeps answering for ShutdownDelay, then drains the
// request in flight and stops accepting.
func TestServerShutdownDelay(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inFlight atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inFlight.Add(1)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	s, err := NewServer(h, ServerOptions{Addr: "127.0.0.1:0", DNSNames: []string{"127.0.0.1"}, ShutdownDelay: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: certPool(t, s.CABundle()), ServerName: "127.0.0.1"}, DisableKeepAlives: true}}
	get := func(path string) (string, error) {
		resp, err := client.Get("https://" + s.Addr().String() + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	slow := make(chan string, 1)
	go func() {
		body, err := get("/slow")
		if err != nil {
			body = err.Error()
		}
		slow <- body
	}()
	for inFlight.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Stopping() {
		t.Fatal("Stopping before the context ended")
	}
	cancel()
	time.Sleep(50 * time.Millisecond)
	if !s.Stopping() {
		t.Error("Stopping is false after the context ended")
	}
	// Still answering during the delay.
	if body, err := get("/"); err != nil || body != "done" {
		t.Errorf("request during the shutdown delay: %q, %v", body, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(700 * time.Millisecond):
	}
	// After the delay: no new connections, the one in flight finishes.
	if _, err := get("/"); err == nil {
		t.Error("new request accepted after the shutdown delay")
	}
	close(release)
	if body := <-slow; body != "done" {
		t.Errorf("in-flight request: %q, want it drained", body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Run did not return after the drain")
	}
}
