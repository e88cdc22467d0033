package admission

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultAddr is where Server listens by default (the usual webhook port).
const DefaultAddr = ":9443"

// ServerOptions configure a Server. The serving certificate comes from
// GetCertificate when set, else from CertFile and KeyFile, else the server
// generates its own certificates (CertDir, ServiceName, ServiceNamespace,
// DNSNames, Validity, CAValidity, OnCABundle).
type ServerOptions struct {
	// Addr is the TCP address to listen on (default DefaultAddr);
	// "127.0.0.1:0" picks a free port (see Server.Addr).
	Addr string

	// CertFile and KeyFile name a PEM certificate (chain) and key to serve.
	// They are reloaded when they change, checked every ReloadInterval
	// (default 10 s), so cert-manager rotations need no restart.
	CertFile, KeyFile string
	ReloadInterval    time.Duration
	// CAFile, with CertFile, names the PEM CA bundle that clients trust
	// (cert-manager's ca.crt). It is read at start and re-read every
	// ReloadInterval; OnCABundle gets it at start and whenever it changes,
	// before a certificate reloaded in the same check is served.
	CAFile string

	// GetCertificate, when set, supplies the serving certificate of every
	// TLS handshake (for example one loaded from a Secret that another
	// component keeps current); the server then neither reads files nor
	// generates certificates. It must be safe for concurrent use; an error
	// fails the handshake.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)

	// CertDir receives the self-generated ca.crt (the CA bundle), tls.crt
	// and tls.key ("" keeps them in memory only).
	CertDir string
	// ServiceName and ServiceNamespace give the serving certificate the
	// names <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local (plus <svc> and
	// <svc>.<ns>). DNSNames adds names; IP addresses become IP SANs.
	ServiceName, ServiceNamespace string
	DNSNames                      []string
	// Validity is the serving certificate's lifetime (default one year);
	// CAValidity the CA's (default ten times Validity). Each is replaced
	// two thirds into its lifetime.
	Validity, CAValidity time.Duration
	// OnCABundle is called with the PEM CA bundle when the server starts
	// and whenever it changes, before any certificate of a new CA is
	// served: patch the webhook configurations' caBundle here. It runs on
	// the server's goroutine and may block briefly.
	OnCABundle func(caBundle []byte)

	// ClientCAFile, when set, names a PEM bundle of CAs: every TLS client
	// must present a certificate signed by one of them
	// (tls.RequireAndVerifyClientCert), so only the API server (configured
	// with a client certificate for webhooks through its admission
	// configuration) can send AdmissionReviews. The health and metrics
	// paths on this port then need one too: probe the plain metrics port.
	ClientCAFile string

	// HTTP2 offers HTTP/2 as well as HTTP/1.1 (ALPN "h2"). Off by default:
	// the API server calls webhooks behind a Service, and every webhook URL
	// other than localhost, over HTTP/1.1 only (it sets ALPN "http/1.1"
	// so that replicas share the load), HTTP/1.1 keep-alive costs fewer
	// system calls and goroutine hand-offs per request than HTTP/2
	// framing, and an HTTP/2 listener is exposed to the "rapid reset"
	// class of attacks (CVE-2023-44487), which is why controller-runtime's
	// webhook server turns it off too.
	HTTP2 bool

	// ShutdownDelay keeps serving this long after Run's context ends,
	// before the listener closes, so that load balancers and the API
	// server stop sending here once readiness fails (see Stopping).
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests after
	// ShutdownDelay (default 30 s).
	ShutdownTimeout time.Duration
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// Purpose names what the server serves in its log line "serving
	// <Purpose>" (default "admission webhooks").
	Purpose string
}

// Server serves a handler over HTTPS (TLS 1.2 or later) with net/http.
type Server struct {
	handler http.Handler
	opts    ServerOptions
	log     *slog.Logger
	gen     *generator
	files   *fileCert
	ca      *fileCA // CAFile, with files
	tls     *tls.Config
	// stopping is set when Run's context ends, before the drain.
	stopping atomic.Bool
	next     time.Time // next certificate rotation

	mu  sync.Mutex
	ln  net.Listener
	ran bool
}

// NewServer checks opts, loads or generates the first certificates
// (written to CertDir) and returns a Server for handler. Nothing listens until Listen or Run.
func NewServer(handler http.Handler, opts ServerOptions) (*Server, error) {
	if handler == nil {
		return nil, errors.New("admission: NewServer needs a handler")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 10 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	s := &Server{handler: handler, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.ClientCAFile != "" {
		if err := requireClientCerts(s.tls, opts.ClientCAFile); err != nil {
			return nil, err
		}
	}
	switch {
	case opts.GetCertificate != nil:
		if opts.CertFile != "" || opts.KeyFile != "" {
			return nil, errors.New("admission: GetCertificate and CertFile/KeyFile exclude each other")
		}
		s.tls.GetCertificate = opts.GetCertificate
	case opts.CertFile != "" || opts.KeyFile != "":
		if opts.CertFile == "" || opts.KeyFile == "" {
			return nil, errors.New("admission: CertFile and KeyFile go together")
		}
		f, err := newFileCert(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, err
		}
		s.files = f
		s.tls.GetCertificate = f.getCertificate
		if opts.CAFile != "" {
			ca := &fileCA{path: opts.CAFile}
			if _, err := ca.reload(); err != nil {
				return nil, err
			}
			s.ca = ca
		}
	default:
		if opts.CAFile != "" {
			return nil, errors.New("admission: CAFile goes with CertFile and KeyFile")
		}
		g, err := newGenerator(opts.CertDir, serviceHosts(opts), opts.Validity, opts.CAValidity)
		if err != nil {
			return nil, err
		}
		if s.next, err = g.rotate(nil); err != nil {
			return nil, err
		}
		s.gen = g
		s.tls.GetCertificate = g.getCertificate
	}
	return s, nil
}

// serviceHosts lists the names the generated certificate covers.
func serviceHosts(o ServerOptions) []string {
	var hosts []string
	if o.ServiceName != "" && o.ServiceNamespace != "" {
		svc, ns := o.ServiceName, o.ServiceNamespace
		hosts = append(hosts, svc+"."+ns+".svc", svc+"."+ns+".svc.cluster.local", svc+"."+ns, svc)
	}
	seen := map[string]bool{}
	var out []string
	for _, h := range append(hosts, o.DNSNames...) {
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// Listen binds the address, so that Addr is known before Run. Run calls
// it when needed.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("admission: listen: %w", err)
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address (nil before Listen).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// CABundle returns the PEM bundle of the self-generated CAs, or the
// current content of CAFile (nil when serving certificate files without
// CAFile or GetCertificate's certificates).
func (s *Server) CABundle() []byte {
	switch {
	case s.gen != nil:
		return s.gen.caBundle()
	case s.ca != nil:
		return s.ca.bundle()
	}
	return nil
}

// Stopping reports whether Run's context has ended: the server is
// draining (readiness should fail) and stops accepting after
// ShutdownDelay.
func (s *Server) Stopping() bool { return s.stopping.Load() }

// Run serves until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to ShutdownTimeout) and
// returns nil. It generates (and keeps rotating) the self-generated
// certificates, or keeps reloading the certificate files (nothing of the
// kind with GetCertificate). A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("admission: Server.Run called twice")
	}
	s.ran = true
	s.mu.Unlock()

	if b := s.CABundle(); b != nil {
		s.publish(b)
	}
	if err := s.Listen(); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		// A review is at most a few MiB; the API server waits at most 30 s.
		ReadTimeout:  MaxTimeout,
		WriteTimeout: MaxTimeout + 5*time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:  func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		Protocols:    s.protocols(),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(s.ln, "", "") }()
	purpose := s.opts.Purpose
	if purpose == "" {
		purpose = "admission webhooks"
	}
	s.log.Info("serving "+purpose, "addr", s.ln.Addr().String(), "selfSignedCerts", s.gen != nil)

	var tick <-chan time.Time // nil (never) with GetCertificate
	var timer *time.Timer
	switch {
	case s.gen != nil:
		timer = time.NewTimer(time.Until(s.next))
		defer timer.Stop()
		tick = timer.C
	case s.files != nil:
		t := time.NewTicker(s.opts.ReloadInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-serveErr:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return fmt.Errorf("admission: serve: %w", err)
		case <-ctx.Done():
			s.stopping.Store(true)
			if d := s.opts.ShutdownDelay; d > 0 {
				// Readiness fails now; keep answering while the
				// endpoints drop this replica.
				s.log.Info("admission webhook server stopping: not ready, still serving", "for", d)
				select {
				case err := <-serveErr:
					return fmt.Errorf("admission: serve: %w", err)
				case <-time.After(d):
				}
			}
			s.log.Info("shutting down admission webhook server: draining in-flight requests", "timeout", s.opts.ShutdownTimeout)
			sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil {
				_ = srv.Close()
				return fmt.Errorf("admission: shutdown: %w", err)
			}
			return nil
		case <-tick:
			if s.gen != nil {
				n, err := s.gen.rotate(s.publish)
				if err != nil {
					// Keep serving the current certificate; retry soon.
					s.log.Error("certificate rotation failed", "error", err)
					n = time.Now().Add(min(time.Minute, s.gen.validity/10))
				} else {
					s.log.Info("certificates checked", "nextRotation", n)
				}
				timer.Reset(time.Until(n))
				continue
			}
			if s.ca != nil {
				// The CA first: clients must trust a new issuer before
				// its certificate is served.
				changed, err := s.ca.reload()
				switch {
				case err != nil:
					s.log.Warn("reloading the CA file failed; publishing the previous CA", "error", err)
				case changed:
					s.log.Info("reloaded the CA file", "ca", s.opts.CAFile)
					s.publish(s.ca.bundle())
				}
			}
			changed, err := s.files.reload()
			switch {
			case err != nil:
				s.log.Warn("reloading certificate files failed; serving the previous certificate", "error", err)
			case changed:
				s.log.Info("reloaded certificate files", "cert", s.opts.CertFile)
			}
		}
	}
}

// protocols are the HTTP versions the server offers: HTTP/1.1, and
// HTTP/2 with ServerOptions.HTTP2.
func (s *Server) protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetHTTP2(s.opts.HTTP2)
	return p
}

func (s *Server) publish(bundle []byte) {
	s.log.Info("CA bundle changed")
	if s.opts.OnCABundle != nil {
		s.opts.OnCABundle(bundle)
	}
}
