package registrytest

import (
	"bytes"
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

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Binary is where hack/registry/install.sh puts the registry.
const Binary = "/usr/bin/docker-registry"

// Registry is a real Distribution registry on 127.0.0.1 (in-memory
// storage) behind a counting, fault-injecting reverse proxy. Setup (pushes,
// signing) talks to the registry directly (Direct); the code under test
// talks to the proxy (Host).
type Registry struct {
	Direct string // host:port of the registry itself
	Host   string // host:port of the proxy

	// Username and Password are the credentials when the registry was
	// started WithBasicAuth ("" otherwise).
	Username, Password string

	requests atomic.Int64
	mu       sync.Mutex
	log      []string
	fault    func(*http.Request) (status int, delay time.Duration)
}

// Option configures Start.
type Option func(*config)

type config struct {
	user, pass string
}

// WithBasicAuth makes the registry require HTTP basic credentials
// (htpasswd) for every request, pushes and pulls alike.
func WithBasicAuth(user, pass string) Option {
	return func(c *config) { c.user, c.pass = user, pass }
}

// Start starts the registry and its proxy for the test; both stop at
// cleanup. Without the binary the test is skipped, unless
// PORTCULLIS_REGISTRY=1 (then it fails: CI must run
// hack/registry/install.sh).
func Start(tb testing.TB, opts ...Option) *Registry {
	tb.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("PORTCULLIS_REGISTRY") == "1" {
			tb.Fatalf("%s missing and PORTCULLIS_REGISTRY=1: run hack/registry/install.sh", Binary)
		}
		tb.Skipf("%s missing (run hack/registry/install.sh; PORTCULLIS_REGISTRY=1 makes this fatal)", Binary)
	}
	var addr string
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, lastErr = run(tb, cfg)
		if lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		tb.Fatal(lastErr)
	}

	reg := &Registry{Direct: addr, Username: cfg.user, Password: cfg.pass}
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

// run starts docker-registry on a free loopback port and waits for /v2/.
// It returns the address, or an error if it did not come up.
func run(tb testing.TB, c config) (string, error) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()

	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "config.yml")
	auth := ""
	if c.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(c.pass), bcrypt.MinCost)
		if err != nil {
			return "", err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(c.user+":"+string(hash)+"\n"), 0o600); err != nil {
			return "", err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: portcullis-test\n    path: %s\n", htpasswd)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  inmemory: {}
http:
  addr: %s
%s`, addr, auth)
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(Binary, "serve", cfgPath)
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
			// 401 is the answer of a registry with auth: it is up.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
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

// SetFault makes the proxy answer requests for which f returns a non-zero
// status with that status (after delay; a zero status with a delay only
// delays). nil clears it.
func (r *Registry) SetFault(f func(*http.Request) (status int, delay time.Duration)) {
	r.mu.Lock()
	r.fault = f
	r.mu.Unlock()
}

// Reset zeroes the request counter and log.
func (r *Registry) Reset() {
	r.mu.Lock()
	r.requests.Store(0)
	r.log = nil
	r.mu.Unlock()
}

// Count is the number of requests the proxy received since Start or Reset.
func (r *Registry) Count() int64 { return r.requests.Load() }

// Log lists the proxy's requests as "METHOD /path".
func (r *Registry) Log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// Auth is the authenticator for direct setup requests (anonymous without
// basic auth).
func (r *Registry) Auth() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// RemoteOptions are the go-containerregistry options for direct setup
// requests.
func (r *Registry) RemoteOptions() []remote.Option {
	return []remote.Option{remote.WithAuth(r.Auth())}
}

// PushRandom pushes a random single-layer image to repo:tag (directly)
// and returns its digest.
func (r *Registry) PushRandom(tb testing.TB, repo, tag string) v1.Hash {
	tb.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ref, err := name.NewTag(r.Direct + "/" + repo + ":" + tag)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img, r.RemoteOptions()...); err != nil {
		tb.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Ref returns the proxy-side reference "host/repo:tag" or
// "host/repo@digest" (when tagOrDigest starts with "sha256:").
func (r *Registry) Ref(repo, tagOrDigest string) string {
	if strings.HasPrefix(tagOrDigest, "sha256:") {
		return r.Host + "/" + repo + "@" + tagOrDigest
	}
	return r.Host + "/" + repo + ":" + tagOrDigest
}

// DirectDigest is the registry-side reference repo@d.
func (r *Registry) DirectDigest(tb testing.TB, repo string, d v1.Hash) name.Digest {
	tb.Helper()
	ref, err := name.NewDigest(r.Direct + "/" + repo + "@" + d.String())
	if err != nil {
		tb.Fatal(err)
	}
	return ref
}

// FreeAddr returns a loopback address with nothing listening on it.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
