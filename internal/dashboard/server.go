package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// CookieName is the cookie that carries a browser's token.
const CookieName = "portcullis_token"

// cookieLifetime is how long a browser keeps the token cookie.
const cookieLifetime = 8 * time.Hour

// maxCookieToken is the longest token a cookie carries (browsers keep
// about 4 KiB per cookie).
const maxCookieToken = 3800

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Handler.
type Options struct {
	// Store is what the dashboard shows.
	Store store.Store
	// Auth checks callers' tokens.
	Auth Authenticator
	// Logger receives errors (default: discarded).
	Logger *slog.Logger
	// Now is the clock (default time.Now): the trends end today.
	Now func() time.Time
}

// Handler serves the dashboard and its API.
type Handler struct {
	st    store.Store
	auth  Authenticator
	log   *slog.Logger
	now   func() time.Time
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// Page names (templates/<name>.html).
var pageNames = []string{"login", "overview", "namespace", "violations", "resource", "trends", "images", "scans", "error"}

// New returns the dashboard's handler.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Auth == nil {
		return nil, errors.New("dashboard: New needs a Store and an Authenticator")
	}
	h := &Handler{st: o.Store, auth: o.Auth, log: o.Logger, now: o.Now, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	for _, name := range pageNames {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)

	for path, fn := range map[string]func(http.ResponseWriter, *http.Request, *Principal){
		"GET /{$}":        h.overview,
		"GET /namespace":  h.namespacePage,
		"GET /violations": h.violationsPage,
		"GET /resource":   h.resourcePage,
		"GET /trends":     h.trendsPage,
		"GET /images":     h.imagesPage,
		"GET /scans":      h.scansPage,
	} {
		h.mux.Handle(path, h.authed(false, fn))
	}
	for path, fn := range map[string]func(http.ResponseWriter, *http.Request, *Principal){
		"GET /api/v1/whoami":     h.apiWhoami,
		"GET /api/v1/clusters":   h.apiClusters,
		"GET /api/v1/posture":    h.apiPosture,
		"GET /api/v1/violations": h.apiViolations,
		"GET /api/v1/resource":   h.apiResource,
		"GET /api/v1/trends":     h.apiTrends,
		"GET /api/v1/images":     h.apiImages,
		"GET /api/v1/scans":      h.apiScans,
	} {
		h.mux.Handle(path, h.authed(true, fn))
	}
	return h, nil
}

// ServeHTTP implements http.Handler: every answer carries the security
// headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// token is the caller's bearer token: the Authorization header, else the
// cookie.
func token(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			return strings.TrimSpace(a[7:])
		}
		return ""
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// authed wraps fn with authentication: API calls without a valid token
// get 401, pages a redirect to the login form.
func (h *Handler) authed(api bool, fn func(http.ResponseWriter, *http.Request, *Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.auth.Authenticate(r.Context(), token(r))
		switch {
		case err == nil:
			fn(w, r, p)
		case errors.Is(err, ErrUnauthenticated):
			if api {
				w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis"`)
				writeJSONError(w, http.StatusUnauthorized, "a valid bearer token is required")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		default:
			h.log.Error("authentication failed", "component", "dashboard", "error", err)
			if api {
				writeJSONError(w, http.StatusServiceUnavailable, "authentication is unavailable")
				return
			}
			h.render(w, http.StatusServiceUnavailable, "error", nil, pageData{Title: "Unavailable", Error: "Authentication is unavailable; try again."})
		}
	})
}

// safeNext returns next when it is a path of this site, else "/": the
// login form never redirects elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// sameOrigin reports whether a form post comes from a page of this site:
// the browser's Sec-Fetch-Site, else Origin, else Referer must say so.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host && (u.Scheme == "https" || u.Scheme == "http")
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login", nil, pageData{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site form posts are refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	fail := func(code int, msg string) {
		h.render(w, code, "login", nil, pageData{Title: "Sign in", Next: next, Error: msg})
	}
	if len(tok) > maxCookieToken {
		fail(http.StatusBadRequest, "This token is too long for a browser cookie; call the API with an Authorization header instead.")
		return
	}
	if _, err := h.auth.Authenticate(r.Context(), tok); err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			fail(http.StatusUnauthorized, "This token is not valid.")
			return
		}
		h.log.Error("authentication failed", "component", "dashboard", "error", err)
		fail(http.StatusServiceUnavailable, "Authentication is unavailable; try again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: tok, Path: "/", MaxAge: int(cookieLifetime / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "cross-site form posts are refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// render writes page name with data.
func (h *Handler) render(w http.ResponseWriter, code int, name string, p *Principal, data pageData) {
	data.Principal = p
	data.Page = name
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := h.pages[name].ExecuteTemplate(w, "layout.html", data); err != nil {
		h.log.Error("render page", "component", "dashboard", "page", name, "error", err)
	}
}

// fail answers a failed page or API call: 400 for a bad parameter, else
// 500 with the details only in the log.
func (h *Handler) fail(w http.ResponseWriter, api bool, p *Principal, err error) {
	code, msg := http.StatusInternalServerError, "internal error"
	var bad badParam
	if errors.As(err, &bad) {
		code, msg = http.StatusBadRequest, bad.Error()
	} else if errors.Is(err, context.Canceled) {
		return
	} else {
		h.log.Error("dashboard query failed", "component", "dashboard", "error", err)
	}
	if api {
		writeJSONError(w, code, msg)
		return
	}
	h.render(w, code, "error", p, pageData{Title: "Error", Error: msg})
}
