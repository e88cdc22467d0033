package dashboard

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium returns the headless browser to drive: skipped without one,
// unless CI=true (then it must be installed: hack/chromium/install.sh).
func chromium(t *testing.T) string {
	t.Helper()
	// Debian's /usr/bin/chromium is a shell wrapper of this binary.
	if _, err := os.Stat("/usr/lib/chromium/chromium"); err == nil {
		return "/usr/lib/chromium/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH (CI=true): run hack/chromium/install.sh")
	}
	t.Skip("no chromium on PATH (hack/chromium/install.sh installs it)")
	return ""
}

// browser is one headless Chromium (its own profile: its own cookies).
type browser struct {
	t       *testing.T
	ctx     context.Context
	base    string
	dialogs atomic.Int32
}

func newBrowser(t *testing.T, exe, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.IgnoreCertErrors, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, base: base}
	// A script payload that ran would open a dialog: count them.
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch ev.(type) {
		case page.EventJavascriptDialogOpening, *page.EventJavascriptDialogOpening:
			b.dialogs.Add(1)
		}
	}))
	b.ctx = ctx
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser and ties it to its context: this
	// one, not a shorter one of a later step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 60*time.Second)
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b *browser) login(token string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("form.login")),
		chromedp.WaitVisible(chromedp.CSS("header nav")))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return run(b, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(`+jsString(sel)+`)).map(e => e.textContent).join("\n")`))
}

func jsString(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// screenshot saves the page as NAME.png in the directory
// PORTCULLIS_SCREENSHOTS names (docs/screenshots), when it is set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("PORTCULLIS_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := run(b, chromedp.FullScreenshot(100)) // 100: PNG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestBrowser drives the dashboard in headless Chromium: sign in, the
// overview with its chart, a namespace, a violation's resource, the other
// pages; stored script payloads stay text; a user limited to one
// namespace sees nothing of another.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	srv := httptest.NewTLSServer(newTestHandler(t, fixture(t), testAuth()))
	t.Cleanup(srv.Close)

	admin := newBrowser(t, exe, srv.URL)
	admin.do(chromedp.Navigate(srv.URL + "/login"))
	admin.screenshot("login")
	admin.login(adminToken)

	// Overview: posture tables and the chart with a point per day.
	if n := admin.count("svg.trend circle.point"); n != 30 {
		t.Errorf("overview chart: %d points, want 30", n)
	}
	if n := admin.count("svg.trend rect.bar"); n != 30 {
		t.Errorf("overview chart: %d bars, want 30", n)
	}
	line := run(admin, chromedp.AttributeValue(chromedp.CSS("svg.trend polyline.score"), "points")).Value
	if len(strings.Fields(line)) != 30 {
		t.Errorf("score line %q", line)
	}
	// The meters are sized by the embedded script (CSP allows it).
	width := run(admin, chromedp.Evaluate[string](`document.querySelector(".meter > span").style.width`))
	if !strings.HasSuffix(width, "%") {
		t.Errorf("meter width %q: the dashboard's script did not run", width)
	}
	if ns := admin.text("table.posture td a"); !strings.Contains(ns, "team-a") || !strings.Contains(ns, "team-b") {
		t.Errorf("overview namespaces %q", ns)
	}
	admin.screenshot("overview")

	// Drill into team-b, then into the violation of the script-named Pod.
	admin.do(chromedp.Click(chromedp.Search(`//table[contains(@class,"posture")]//a[text()="team-b"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.violations")))
	if title := admin.text("h1"); title != "Namespace team-b" {
		t.Errorf("drill-down title %q", title)
	}
	if n := admin.count("tr.violation"); n < 2 {
		t.Errorf("team-b: %d violations", n)
	}
	admin.screenshot("namespace")
	admin.do(chromedp.Click(chromedp.Search(`//a[contains(@class,"resource")][contains(., "alert(1)")]`)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	if name := admin.text("dd.name"); name != scriptName {
		t.Errorf("resource name shown as %q, want the payload as text", name)
	}
	if n := admin.count("script"); n != 1 {
		t.Errorf("%d script elements on the resource page, want only the dashboard's", n)
	}
	if msg := admin.text("td.message"); !strings.Contains(msg, imgPayload) {
		t.Errorf("message %q: want the stored markup as text", msg)
	}
	if n := admin.count("img"); n != 0 {
		t.Errorf("%d img elements: the stored markup became HTML", n)
	}
	if rem := admin.text("td.remediation"); rem == "" {
		t.Errorf("no remediation column content")
	}
	admin.screenshot("resource")

	// Violations with a hostile filter in the URL: shown as text, no
	// results, no script.
	admin.do(chromedp.Navigate(srv.URL + "/violations?namespace=" + `%3Cscript%3Ealert(5)%3C%2Fscript%3E%27+OR+%271%27%3D%271`))
	if n := admin.count("tr.violation"); n != 0 {
		t.Errorf("hostile namespace filter: %d violations", n)
	}
	admin.do(chromedp.Navigate(srv.URL + "/violations"))
	if n := admin.count("tr.violation"); n == 0 {
		t.Error("no violations listed")
	}
	admin.screenshot("violations")
	for _, p := range []string{"trends", "images", "scans"} {
		admin.do(chromedp.Navigate(srv.URL+"/"+p), chromedp.WaitVisible(chromedp.CSS("main table")))
		admin.screenshot(p)
	}
	if n := admin.count("svg.trend circle.point"); n != 0 {
		t.Errorf("scans page has a chart")
	}
	if got := admin.dialogs.Load(); got != 0 {
		t.Errorf("%d JavaScript dialogs opened: a payload ran", got)
	}

	// A user limited to team-a, in another browser.
	alice := newBrowser(t, exe, srv.URL)
	alice.login(teamAToken)
	if ns := alice.text("table.posture"); strings.Contains(ns, "team-b") || !strings.Contains(ns, "team-a") {
		t.Errorf("team-a user's overview: %q", ns)
	}
	alice.do(chromedp.Navigate(srv.URL+"/namespace?cluster=prod&namespace=team-b"), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := alice.count("tr.violation"); n != 0 {
		t.Errorf("the team-a user sees %d violations of team-b", n)
	}
	if body := alice.text("main"); strings.Contains(body, "billing") || strings.Contains(body, "privileged") {
		t.Errorf("the team-a user sees team-b's findings")
	}
	alice.do(chromedp.Navigate(srv.URL + "/violations"))
	if body := alice.text("table.violations"); strings.Contains(body, "team-b") || !strings.Contains(body, "team-a") {
		t.Errorf("the team-a user's violations: %q", body)
	}
	// Signed out, the pages need the token again.
	alice.do(chromedp.Click(chromedp.CSS("header form.who button")), chromedp.WaitVisible(chromedp.CSS("#token")))
	alice.do(chromedp.Navigate(srv.URL + "/violations"))
	loc := run(alice, chromedp.Location())
	if !strings.Contains(loc, "/login") {
		t.Errorf("after signing out /violations is at %s", loc)
	}
}
