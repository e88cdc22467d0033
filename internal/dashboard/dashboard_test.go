package dashboard

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

var pagePaths = []string{"/", "/namespace?cluster=prod&namespace=team-a", "/violations", "/resource?cluster=prod&uid=uid-a1",
	"/trends", "/images", "/scans"}

var apiPaths = []string{"/api/v1/whoami", "/api/v1/clusters", "/api/v1/posture?by=namespace", "/api/v1/violations",
	"/api/v1/resource?cluster=prod&uid=uid-a1", "/api/v1/trends", "/api/v1/images", "/api/v1/scans"}

func TestNoAnonymousAccess(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	for _, tok := range []string{"", "wrong", "Admin", "admin2"} {
		for _, p := range pagePaths {
			w := get(t, h, p, tok)
			if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("page %s with token %q: %d %q, want a redirect to the login form", p, tok, w.Code, w.Header().Get("Location"))
			}
		}
		for _, p := range apiPaths {
			if w := get(t, h, p, tok); w.Code != http.StatusUnauthorized {
				t.Errorf("API %s with token %q: %d, want 401", p, tok, w.Code)
			}
		}
	}
	// Basic credentials are not a bearer token.
	r := httptest.NewRequest(http.MethodGet, "/api/v1/violations", nil)
	r.SetBasicAuth("admin", "admin")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("basic credentials: %d, want 401", w.Code)
	}
	for _, p := range append(pagePaths, apiPaths...) {
		if w := get(t, h, p, adminToken); w.Code != http.StatusOK {
			t.Errorf("%s with a valid token: %d %s", p, w.Code, w.Body)
		}
	}
	// The login form and static assets need no token.
	for _, p := range []string{"/login", "/static/app.css", "/static/app.js", "/healthz"} {
		if w := get(t, h, p, ""); w.Code != http.StatusOK {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	// Security headers on every answer.
	w = get(t, h, "/", adminToken)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
}

func TestLoginCookie(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	post := func(form url.Values, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "https://dash.example/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	same := map[string]string{"Origin": "https://dash.example"}
	w := post(url.Values{"token": {adminToken}, "next": {"/violations?severity=high"}}, same)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/violations?severity=high" {
		t.Fatalf("login: %d %q", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if c.Name != CookieName || c.Value != adminToken || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Strict", c)
	}
	// The cookie authenticates pages and the API.
	r := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
	r.AddCookie(c)
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if rw.Code != http.StatusOK || !strings.Contains(rw.Body.String(), `"admin"`) {
		t.Errorf("whoami with the cookie: %d %s", rw.Code, rw.Body)
	}

	// Cross-site and header-less posts are refused (login CSRF).
	for name, hdr := range map[string]map[string]string{
		"cross-site fetch": {"Sec-Fetch-Site": "cross-site", "Origin": "https://dash.example"},
		"other origin":     {"Origin": "https://evil.example"},
		"other referer":    {"Referer": "https://evil.example/x"},
		"no origin":        {},
	} {
		if w := post(url.Values{"token": {adminToken}}, hdr); w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
			t.Errorf("%s: %d, cookies %v; want 403 and no cookie", name, w.Code, w.Result().Cookies())
		}
	}
	// A wrong token: the form again, no cookie.
	if w := post(url.Values{"token": {"nope"}}, same); w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
		t.Errorf("wrong token: %d %v", w.Code, w.Result().Cookies())
	}
	// next never leaves the site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "\t//evil"} {
		w := post(url.Values{"token": {adminToken}, "next": {next}}, same)
		if loc := w.Header().Get("Location"); loc != "/" {
			t.Errorf("next %q: redirected to %q, want /", next, loc)
		}
	}
	// Logout clears the cookie, same origin only.
	if w := post(nil, map[string]string{"Origin": "https://evil.example"}); w.Code != http.StatusForbidden {
		t.Errorf("cross-site logout: %d", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "https://dash.example/logout", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	rw = httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if cs := rw.Result().Cookies(); rw.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("logout: %d %v", rw.Code, cs)
	}
}

// hostile are parameter values that must neither reach SQL as SQL nor
// the page as markup.
var hostile = []string{
	`' OR '1'='1`,
	`team-a' OR 1=1 --`,
	`x'); DROP TABLE results; --`,
	`" OR ""="`,
	`1; SELECT * FROM clusters`,
	scriptName,
	imgPayload,
	`javascript:alert(3)`,
	"\x00\x01'",
	`%27%20OR%201=1`,
	strings.Repeat("A", 600),
}

func TestHostileParameters(t *testing.T) {
	st := fixture(t)
	h := newTestHandler(t, st, testAuth())
	ctx := context.Background()
	before, err := st.Violations(ctx, store.ViolationQuery{Errors: true, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	params := []string{"cluster", "namespace", "policy", "severity", "rule", "kind", "uid", "name", "status", "by", "limit", "offset",
		"days", "from", "to", "errors", "next"}
	paths := []string{"/", "/namespace", "/violations", "/resource", "/trends", "/images", "/scans",
		"/api/v1/posture", "/api/v1/violations", "/api/v1/resource", "/api/v1/trends", "/api/v1/images", "/api/v1/scans", "/login"}
	for _, path := range paths {
		for _, p := range params {
			for _, v := range hostile {
				q := url.Values{p: {v}}
				if path == "/namespace" || path == "/resource" || path == "/api/v1/resource" {
					q.Set("cluster", testCluster)
					if p != "namespace" {
						q.Set("namespace", "team-a")
					}
					if p != "uid" {
						q.Set("uid", "uid-a1")
					}
				}
				// As a team-a user: an injection that widened the filter
				// would show team-b.
				w := get(t, h, path+"?"+q.Encode(), teamAToken)
				body := w.Body.String()
				if w.Code != http.StatusOK && w.Code != http.StatusBadRequest && w.Code != http.StatusNotFound {
					t.Errorf("%s %s=%.40q: status %d", path, p, v, w.Code)
				}
				if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, `href="javascript:`) {
					t.Errorf("%s %s=%.40q: unescaped payload in the answer", path, p, v)
				}
				if strings.Contains(body, "team-b") || strings.Contains(body, "billing") {
					t.Errorf("%s %s=%.40q: a team-a user sees team-b", path, p, v)
				}
			}
		}
	}
	// A namespace filter carrying SQL matches nothing, even for an admin.
	w := get(t, h, "/api/v1/violations?namespace="+url.QueryEscape(`team-a' OR '1'='1`), adminToken)
	var got list[store.Violation]
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got.Items) != 0 {
		t.Errorf("injected namespace: %d violations (%v), want none", len(got.Items), err)
	}
	after, err := st.Violations(ctx, store.ViolationQuery{Errors: true, Limit: store.MaxLimit})
	if err != nil || len(after) != len(before) || len(before) == 0 {
		t.Errorf("violations before %d, after the hostile requests %d (%v)", len(before), len(after), err)
	}
}

func TestStoredPayloadsEscaped(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	for _, p := range []string{"/", "/violations", "/namespace?cluster=prod&namespace=team-b", "/resource?cluster=prod&uid=uid-b1", "/images"} {
		w := get(t, h, p, adminToken)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", p, w.Code)
		}
		if strings.Contains(body, scriptName) || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: the stored payload is not escaped", p)
		}
	}
	w := get(t, h, "/resource?cluster=prod&uid=uid-b1", adminToken)
	if m := contains(w.Body.String(), "&lt;script&gt;alert(1)&lt;/script&gt;", "privileged container &#34;&gt;&lt;img src=x onerror=alert(2)&gt;"); len(m) > 0 {
		t.Errorf("resource page: missing the escaped %q", m)
	}
	w = get(t, h, "/api/v1/violations?namespace=team-b", adminToken)
	body := w.Body.String()
	if strings.Contains(body, "<script>") || !strings.Contains(body, `\u003cscript\u003ealert(1)\u003c/script\u003e`) {
		t.Errorf("JSON: the stored name is not escaped: %s", body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("JSON content type %q", ct)
	}
}

func TestNamespaceAccess(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	// The team-a user: team-a's data, nothing of team-b, no scans.
	for _, p := range []string{"/", "/violations", "/violations?namespace=team-b", "/namespace?cluster=prod&namespace=team-b",
		"/images", "/trends?namespace=team-b", "/api/v1/posture?by=namespace", "/api/v1/violations?namespace=team-b",
		"/api/v1/images", "/api/v1/posture?by=control&namespace=team-b"} {
		w := get(t, h, p, teamAToken)
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d", p, w.Code)
		}
		// team-b's data (its name only where the request repeats it).
		b := w.Body.String()
		if strings.Contains(b, "billing") || strings.Contains(b, "evil/img") || strings.Contains(b, "&lt;script") ||
			strings.Contains(b, "privileged") || (!strings.Contains(p, "team-b") && strings.Contains(b, "team-b")) {
			t.Errorf("%s: the team-a user sees team-b", p)
		}
	}
	if w := get(t, h, "/resource?cluster=prod&uid=uid-b2", teamAToken); w.Code != http.StatusNotFound {
		t.Errorf("team-b resource for the team-a user: %d, want 404", w.Code)
	}
	if w := get(t, h, "/api/v1/resource?cluster=prod&uid=uid-a2", teamAToken); w.Code != http.StatusOK {
		t.Errorf("team-a resource: %d", w.Code)
	}
	var scans list[store.ScanRow]
	if err := json.Unmarshal(get(t, h, "/api/v1/scans", teamAToken).Body.Bytes(), &scans); err != nil || len(scans.Items) != 0 {
		t.Errorf("scans for a namespace user: %+v %v", scans, err)
	}
	var rows list[store.PostureRow]
	if err := json.Unmarshal(get(t, h, "/api/v1/posture?by=namespace", teamAToken).Body.Bytes(), &rows); err != nil ||
		len(rows.Items) != 1 || rows.Items[0].Key != "team-a" {
		t.Errorf("posture by namespace for team-a: %+v %v", rows, err)
	}
	// A user allowed nothing sees nothing.
	for _, p := range []string{"/api/v1/violations", "/api/v1/images", "/api/v1/posture?by=policy"} {
		var l list[json.RawMessage]
		if err := json.Unmarshal(get(t, h, p, nobodyTok).Body.Bytes(), &l); err != nil || len(l.Items) != 0 {
			t.Errorf("%s for a user allowed nothing: %d items %v", p, len(l.Items), err)
		}
	}
	// The admin sees both, and the scan.
	w := get(t, h, "/", adminToken)
	if m := contains(w.Body.String(), "team-a", "team-b", "pss-baseline/privileged", "critical"); len(m) > 0 {
		t.Errorf("overview for the admin lacks %q", m)
	}
	if err := json.Unmarshal(get(t, h, "/api/v1/scans", adminToken).Body.Bytes(), &scans); err != nil || len(scans.Items) != 1 {
		t.Errorf("scans for the admin: %+v %v", scans, err)
	}
}

func TestPages(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	w := get(t, h, "/", adminToken)
	if m := contains(w.Body.String(), `data-points="30"`, `class="score"`, `<circle class="point"`); len(m) > 0 {
		t.Errorf("overview chart lacks %q", m)
	}
	w = get(t, h, "/violations?limit=2", adminToken)
	body := w.Body.String()
	if m := contains(body, "set spec.containers[*].securityContext.runAsNonRoot to true", "/spec/containers/0/securityContext/runAsNonRoot",
		"C-0013", "offset=2", "next &rarr;"); len(m) > 0 {
		t.Errorf("violations page lacks %q", m)
	}
	if n := strings.Count(body, `<tr class="violation">`); n != 2 {
		t.Errorf("violations page: %d rows, want 2", n)
	}
	w = get(t, h, "/violations?limit=2&offset=2", adminToken)
	if !strings.Contains(w.Body.String(), "offset=0") {
		t.Errorf("page 2 has no link back")
	}
	w = get(t, h, "/resource?cluster=prod&uid=uid-a1", adminToken)
	if m := contains(w.Body.String(), "violation", "resolution", "ghcr.io/org/web:1.0"); len(m) > 0 {
		t.Errorf("resource history lacks %q", m)
	}
	w = get(t, h, "/trends?days=7", adminToken)
	if m := contains(w.Body.String(), `data-points="7"`, fixtureToday); len(m) > 0 {
		t.Errorf("trends lack %q", m)
	}
	w = get(t, h, "/images?status=failed", adminToken)
	if m := contains(w.Body.String(), "docker.io/evil/img:latest", "img-failed"); len(m) > 0 || strings.Contains(w.Body.String(), "ghcr.io/org/api") {
		t.Errorf("failed images: lacks %q or lists a verified one", m)
	}
	// The images page is paged like the violations: every image is on
	// one page, once.
	imageRow := regexp.MustCompile(`<tr><td><code>([^<]*)</code></td><td class="muted"><code>([^<]*)</code>`)
	seen := map[string]int{}
	for offset := 0; offset < 10; offset++ {
		w = get(t, h, fmt.Sprintf("/images?limit=1&offset=%d", offset), adminToken)
		body := w.Body.String()
		rows := imageRow.FindAllStringSubmatch(body, -1)
		if len(rows) == 0 {
			if offset < 2 {
				t.Fatalf("images page at offset %d is empty", offset)
			}
			if !strings.Contains(body, "offset="+strconv.Itoa(offset-1)) || strings.Contains(body, "next &rarr;") {
				t.Errorf("images past the end (offset %d): no link back, or a next link", offset)
			}
			break
		}
		if len(rows) != 1 {
			t.Fatalf("images page at offset %d: %d rows, want 1", offset, len(rows))
		}
		seen[rows[0][1]+"@"+rows[0][2]]++
		if !strings.Contains(body, "offset="+strconv.Itoa(offset+1)) || !strings.Contains(body, "next &rarr;") {
			t.Errorf("images page at offset %d has no next link", offset)
		}
		if offset > 0 && !strings.Contains(body, "&larr; previous") {
			t.Errorf("images page at offset %d has no link back", offset)
		}
	}
	all := imageRow.FindAllStringSubmatch(get(t, h, "/images", adminToken).Body.String(), -1)
	if len(all) < 2 || len(seen) != len(all) {
		t.Errorf("paging saw %v, the whole list has %d images", seen, len(all))
	}
	for img, n := range seen {
		if n != 1 {
			t.Errorf("image %s on %d pages", img, n)
		}
	}
	w = get(t, h, "/scans", adminToken)
	if m := contains(w.Body.String(), "manifests/"); len(m) > 0 {
		t.Errorf("scans lack %q", m)
	}
	for _, bad := range []string{"/api/v1/posture?by=nope", "/violations?limit=0", "/violations?limit=x", "/trends?days=9999",
		"/trends?from=yesterday", "/resource?cluster=prod", "/violations?errors=maybe"} {
		if w := get(t, h, bad, adminToken); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, w.Code)
		}
	}
}

func TestTokenFile(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "token")
	if _, err := NewTokenFile(file); err == nil {
		t.Error("a missing token file was accepted")
	}
	if err := os.WriteFile(file, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTokenFile(file); err == nil {
		t.Error("an empty token file was accepted")
	}
	if err := os.WriteFile(file, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tf, err := NewTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "s3cret", testToken + "x", strings.ToUpper(testToken)} {
		if _, err := tf.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v, want ErrUnauthenticated", bad, err)
		}
	}
	if p, err := tf.Authenticate(ctx, testToken); err != nil || !p.All {
		t.Fatalf("the file's token: %+v %v", p, err)
	}
	// Rotated: the new token works, the old one no longer.
	if err := os.WriteFile(file, []byte("rotated-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(file, future, future); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the file is checked at most once a second
	if _, err := tf.Authenticate(ctx, testToken); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the old token after rotation: %v", err)
	}
	if _, err := tf.Authenticate(ctx, "rotated-token"); err != nil {
		t.Errorf("the new token: %v", err)
	}
}

func TestServe(t *testing.T) {
	h := newTestHandler(t, fixture(t), testAuth())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Serve(ctx, h, ServeOptions{Addr: "0.0.0.0:0", InsecureHTTP: true}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain HTTP on a public address: %v", err)
	}
	type listening struct{ url, fp string }
	ch := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, h, ServeOptions{Addr: "127.0.0.1:0", Listening: func(u, fp string) { ch <- listening{u, fp} }})
	}()
	var l listening
	select {
	case l = <-ch:
	case err := <-done:
		t.Fatal(err)
	}
	if !strings.HasPrefix(l.url, "https://127.0.0.1:") || len(l.fp) != 95 {
		t.Fatalf("listening %q, fingerprint %q", l.url, l.fp)
	}
	// The browser-side check: the certificate served has the printed
	// fingerprint.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // compared by fingerprint below
	resp, err := c.Get(l.url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	if got := Fingerprint(resp.TLS.PeerCertificates[0]); got != l.fp {
		t.Errorf("served certificate %s, printed %s", got, l.fp)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
