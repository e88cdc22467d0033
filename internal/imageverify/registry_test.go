package imageverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v2/pkg/oci/remote"
	"github.com/sigstore/cosign/v2/pkg/oci/static"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

const registryBinary = "/usr/bin/docker-registry"

// testRegistry is a real Distribution registry on 127.0.0.1 (in-memory
// storage, no auth) behind a counting, fault-injecting reverse proxy.
// Setup (pushes, signing) talks to the registry directly (Direct); the
// code under test talks to the proxy (Host).
type testRegistry struct {
	Direct string // host:port of the registry itself
	Host   string // host:port of the proxy

	requests atomic.Int64
	mu       sync.Mutex
	log      []string
	fault    func(*http.Request) (status int, delay time.Duration)
}

// startRegistry starts the registry and its proxy for the test. Without
// the binary the test is skipped, unless PORTCULLIS_REGISTRY=1 (then it
// fails: CI must run hack/registry/install.sh).
func startRegistry(tb testing.TB) *testRegistry {
	tb.Helper()
	if _, err := os.Stat(registryBinary); err != nil {
		if os.Getenv("PORTCULLIS_REGISTRY") == "1" {
			tb.Fatalf("%s missing and PORTCULLIS_REGISTRY=1: run hack/registry/install.sh", registryBinary)
		}
		tb.Skipf("%s missing (run hack/registry/install.sh; PORTCULLIS_REGISTRY=1 makes this fatal)", registryBinary)
	}
	var addr string
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, lastErr = runRegistry(tb)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		tb.Fatal(lastErr)
	}

	reg := &testRegistry{Direct: addr}
	target := &url.URL{Scheme: "http", Host: addr}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = nil
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.requests.Add(1)
		reg.mu.Lock()
		reg.log = append(reg.log, r.Method+" "+r.URL.Path)
		fault := reg.fault
		reg.mu.Unlock()
		if fault != nil {
			status, delay := fault(r)
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					return
				}
			}
			if status != 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				code := "UNAVAILABLE"
				if status == http.StatusTooManyRequests {
					code = "TOOMANYREQUESTS"
				}
				fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"injected fault"}]}`, code)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	reg.Host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

// runRegistry starts docker-registry on a free loopback port and waits for
// /v2/. It returns the address, or an error if it did not come up.
func runRegistry(tb testing.TB) (string, error) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()

	dir := tb.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  inmemory: {}
http:
  addr: %s
`, addr)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(registryBinary, "serve", cfg)
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				tb.Cleanup(stop)
				return addr, nil
			}
		}
		select {
		case <-exited:
			return "", fmt.Errorf("docker-registry exited: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("docker-registry did not answer on %s: %s", addr, stderr.String())
		}
	}
}

// setFault makes the proxy answer matching requests with status (0: pass
// through) after delay. nil clears it.
func (r *testRegistry) setFault(f func(*http.Request) (int, time.Duration)) {
	r.mu.Lock()
	r.fault = f
	r.mu.Unlock()
}

// reset zeroes the request counter and log.
func (r *testRegistry) reset() {
	r.mu.Lock()
	r.requests.Store(0)
	r.log = nil
	r.mu.Unlock()
}

func (r *testRegistry) count() int64 { return r.requests.Load() }

func (r *testRegistry) requestLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// pushRandom pushes a random image to repo:tag and returns its digest.
func (r *testRegistry) pushRandom(tb testing.TB, repo, tag string) v1.Hash {
	tb.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ref, err := name.NewTag(r.Direct + "/" + repo + ":" + tag)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		tb.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// ref returns the proxy-side reference "host/repo:tag" or "host/repo@digest".
func (r *testRegistry) ref(repo, tagOrDigest string) string {
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		return r.Host + "/" + repo + "@" + tagOrDigest
	}
	return r.Host + "/" + repo + ":" + tagOrDigest
}

type testKey struct {
	sv     signature.SignerVerifier
	pubPEM []byte
}

func newKey(tb testing.TB) testKey {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	pubPEM, err := cryptoutils.MarshalPublicKeyToPEM(&priv.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	return testKey{sv: sv, pubPEM: pubPEM}
}

// sign signs repo@digest the way `cosign sign --key` does (simple-signing
// payload, base64 signature annotation on a layer of the .sig tag manifest)
// and pushes the signature. tamper, if set, changes the payload after
// signing.
func (r *testRegistry) sign(tb testing.TB, repo string, digest v1.Hash, key testKey, tamper func([]byte) []byte) {
	tb.Helper()
	dref, err := name.NewDigest(r.Direct + "/" + repo + "@" + digest.String())
	if err != nil {
		tb.Fatal(err)
	}
	pl, err := (&payload.Cosign{Image: dref}).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := key.sv.SignMessage(bytes.NewReader(pl))
	if err != nil {
		tb.Fatal(err)
	}
	if tamper != nil {
		pl = tamper(pl)
	}
	osig, err := static.NewSignature(pl, base64.StdEncoding.EncodeToString(sig))
	if err != nil {
		tb.Fatal(err)
	}
	se, err := ociremote.SignedEntity(dref)
	if err != nil {
		tb.Fatal(err)
	}
	signed, err := mutate.AttachSignatureToEntity(se, osig)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ociremote.WriteSignatures(dref.Context(), signed); err != nil {
		tb.Fatal(err)
	}
}

// copySignatures tags the signature manifest of repo@from as the signature
// manifest of repo@to.
func (r *testRegistry) copySignatures(tb testing.TB, repo string, from, to v1.Hash) {
	tb.Helper()
	fromTag, err := ociremote.SignatureTag(r.directDigest(tb, repo, from))
	if err != nil {
		tb.Fatal(err)
	}
	toTag, err := ociremote.SignatureTag(r.directDigest(tb, repo, to))
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := remote.Get(fromTag)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Tag(toTag, desc); err != nil {
		tb.Fatal(err)
	}
}

// freeAddr returns a loopback address with nothing listening on it.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func withTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func (r *testRegistry) directDigest(tb testing.TB, repo string, d v1.Hash) name.Digest {
	tb.Helper()
	ref, err := name.NewDigest(r.Direct + "/" + repo + "@" + d.String())
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}
