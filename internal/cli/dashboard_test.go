//go:build !offline

package cli_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/cli"
)

// TestDashboardShowsScan: a scan recorded with `scan --store` shows up in
// `portcullis dashboard` over the same store, for a caller with the
// token only.
func TestDashboardShowsScan(t *testing.T) {
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.Mkdir(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(manifests, "a.yaml"), []byte(strings.ReplaceAll(privilegedPod, "NAME", "scanned-by-cli")), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "findings.db")
	if out := runCLI(t, "", "scan", manifests, "--set", "pss-baseline", "--store", db); out.code != 1 {
		t.Fatalf("scan: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("let-me-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Refused configurations.
	for _, args := range [][]string{
		{"dashboard", "--store", db},
		{"dashboard", "--store", db, "--dashboard-token-file", token, "--insecure-http", "--addr", "0.0.0.0:0"},
		{"dashboard", "--dashboard-token-file", token},
		{"dashboard", "--store", db, "--dashboard-token-file", filepath.Join(dir, "missing")},
	} {
		if out := runCLI(t, "", args...); out.code != cli.ExitInvalid {
			t.Errorf("%q: exit %d, want %d\n%s", args, out.code, cli.ExitInvalid, out.stderr)
		}
	}

	for _, mode := range []string{"https", "http"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"dashboard", "--store", db, "--dashboard-token-file", token, "--addr", "127.0.0.1:0"}
			if mode == "http" {
				args = append(args, "--insecure-http")
			}
			pr, pw := io.Pipe()
			done := make(chan int, 1)
			var stderr strings.Builder
			go func() {
				done <- cli.Main(ctx, args, strings.NewReader(""), pw, &stderr)
				pw.Close()
			}()
			lines := bufio.NewScanner(pr)
			if !lines.Scan() {
				t.Fatalf("no output; stderr %s", stderr.String())
			}
			url := strings.TrimPrefix(lines.Text(), "dashboard: ")
			if !strings.HasPrefix(url, mode+"://127.0.0.1:") {
				t.Fatalf("first line %q", lines.Text())
			}
			if mode == "https" && (!lines.Scan() || !strings.Contains(lines.Text(), "SHA-256 fingerprint")) {
				t.Errorf("no fingerprint printed: %q", lines.Text())
			}
			go io.Copy(io.Discard, pr)                                                                                                       //nolint:errcheck
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a self-signed test server
			fetch := func(path, tok string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, url+strings.TrimPrefix(path, "/"), nil)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, _ := fetch("/api/v1/scans", ""); code != http.StatusUnauthorized {
				t.Errorf("anonymous: %d", code)
			}
			if code, _ := fetch("/api/v1/scans", "wrong"); code != http.StatusUnauthorized {
				t.Errorf("wrong token: %d", code)
			}
			code, body := fetch("/api/v1/scans", "let-me-in")
			if code != http.StatusOK || !strings.Contains(body, manifests) {
				t.Errorf("scans: %d %s", code, body)
			}
			code, body = fetch("/violations", "let-me-in")
			if code != http.StatusOK || !strings.Contains(body, "scanned-by-cli") || !strings.Contains(body, "privileged") {
				t.Errorf("violations page: %d, lacks the scanned pod", code)
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d after the context ended; stderr %s", code, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the dashboard did not stop")
			}
		})
	}
}
