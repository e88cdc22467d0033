package dashboard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/admission"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// Addr is HOST:PORT to listen on (port 0 picks one).
	Addr string
	// CertFile and KeyFile name the serving certificate and key (PEM),
	// reloaded when they change. GetCertificate, instead, supplies it.
	// Without either, a self-signed certificate for the address' host,
	// localhost and the loopback addresses is generated, and its
	// fingerprint given to Listening.
	CertFile, KeyFile string
	GetCertificate    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// InsecureHTTP serves plain HTTP; only a loopback Addr is accepted.
	InsecureHTTP bool
	// Logger receives the server's logs (default: discarded).
	Logger *slog.Logger
	// Listening, when set, is called once the address is bound, with the
	// dashboard's URL and, for a generated certificate, its SHA-256
	// fingerprint (to compare with what the browser shows).
	Listening func(url, fingerprint string)
}

// Serve serves h until ctx ends (then shuts down gracefully).
func Serve(ctx context.Context, h http.Handler, o ServeOptions) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("dashboard: address %q: %w", o.Addr, err)
	}
	if o.InsecureHTTP {
		if o.CertFile != "" || o.GetCertificate != nil {
			return errors.New("dashboard: plain HTTP and a TLS certificate exclude each other")
		}
		if !isLoopback(host) {
			return fmt.Errorf("dashboard: plain HTTP is only served on a loopback address, not %q (use TLS)", host)
		}
		return serveHTTP(ctx, h, o)
	}
	so := admission.ServerOptions{Addr: o.Addr, CertFile: o.CertFile, KeyFile: o.KeyFile, GetCertificate: o.GetCertificate,
		Logger: o.Logger, ShutdownTimeout: 10 * time.Second, Purpose: "the findings dashboard"}
	var fingerprint string
	if o.CertFile == "" && o.KeyFile == "" && o.GetCertificate == nil {
		cert, err := SelfSigned([]string{host, "localhost", "127.0.0.1", "::1"}, 365*24*time.Hour)
		if err != nil {
			return err
		}
		fingerprint = Fingerprint(cert.Leaf)
		so.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil }
	}
	srv, err := admission.NewServer(h, so)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if o.Listening != nil {
		o.Listening("https://"+srv.Addr().String()+"/", fingerprint)
	}
	return srv.Run(ctx)
}

func serveHTTP(ctx context.Context, h http.Handler, o ServeOptions) error {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	if o.Listening != nil {
		o.Listening("http://"+ln.Addr().String()+"/", "")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dashboard: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("dashboard: shutdown: %w", err)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SelfSigned makes a self-signed ECDSA P-256 serving certificate for
// hosts (names and IP addresses) valid for validity.
func SelfSigned(hosts []string, validity time.Duration) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dashboard: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("dashboard: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "portcullis dashboard"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("dashboard: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("dashboard: certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is a certificate's SHA-256 fingerprint as browsers show it
// (upper-case hex bytes separated by colons).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
