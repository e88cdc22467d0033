package admission

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Names of the files written to ServerOptions.CertDir.
const (
	CAFile   = "ca.crt"
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Default certificate lifetimes.
const (
	DefaultCertValidity = 365 * 24 * time.Hour
	// A generated CA lives DefaultCAValidityFactor times the serving
	// certificate's validity unless CAValidity is set.
	DefaultCAValidityFactor = 10
)

// renewFraction is how far into its lifetime a certificate is replaced:
// at two thirds, leaving a third of its validity as margin.
const renewNum, renewDen = 2, 3

// clockSkew backdates NotBefore so that peers with a slow clock accept a
// fresh certificate.
const clockSkew = time.Minute

// keyPair is a certificate with its key.
type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
	// issued is when it was made (NotBefore is backdated and, like
	// NotAfter, has a precision of one second).
	issued time.Time
}

func (k *keyPair) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.der})
}

// minRotationDelay keeps a misconfigured (tiny) validity from spinning.
const minRotationDelay = 100 * time.Millisecond

// renewAt is when a generated certificate should be replaced: two thirds
// into its lifetime, counted from its issue.
func (k *keyPair) renewAt() time.Time {
	return k.issued.Add(k.cert.NotAfter.Sub(k.issued) * renewNum / renewDen)
}

// notAfter is now+validity rounded up to the second (certificates store
// whole seconds; truncating could cut a short validity to nothing).
func notAfter(now time.Time, validity time.Duration) time.Time {
	t := now.Add(validity)
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// generator issues and rotates a self-signed CA and a serving certificate.
type generator struct {
	dir        string
	dnsNames   []string
	ips        []net.IP
	validity   time.Duration
	caValidity time.Duration
	now        func() time.Time

	mu      sync.Mutex
	ca      *keyPair
	oldCAs  []*keyPair // previous CAs still valid, kept in the bundle
	serving *keyPair
	bundle  []byte

	current atomic.Pointer[tls.Certificate]
}

func newGenerator(dir string, hosts []string, validity, caValidity time.Duration) (*generator, error) {
	if len(hosts) == 0 {
		return nil, errors.New("admission: self-generated certificates need ServiceName and ServiceNamespace, or DNSNames")
	}
	if validity <= 0 {
		validity = DefaultCertValidity
	}
	if caValidity <= 0 {
		caValidity = validity * DefaultCAValidityFactor
	}
	if caValidity < validity {
		return nil, fmt.Errorf("admission: CA validity %v is shorter than the certificate validity %v", caValidity, validity)
	}
	g := &generator{dir: dir, validity: validity, caValidity: caValidity, now: time.Now}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			g.ips = append(g.ips, ip)
		} else {
			g.dnsNames = append(g.dnsNames, h)
		}
	}
	return g, nil
}

// getCertificate serves the current serving certificate.
func (g *generator) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := g.current.Load()
	if c == nil {
		return nil, errors.New("no serving certificate yet")
	}
	return c, nil
}

// rotate replaces whatever is due: the CA (the bundle then holds the new
// CA and every older one still valid) and the serving certificate (issued
// by the newest CA, never outliving it). A changed bundle is written and
// handed to publish before any certificate of the new CA is served; a
// serving certificate of the previous CA stays until its own renewal, so
// clients have time to pick up the new bundle. It returns when the next
// rotation is due.
func (g *generator) rotate(publish func([]byte)) (next time.Time, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	n := len(g.oldCAs)
	g.oldCAs = dropExpired(g.oldCAs, now)
	bundleChanged := n != len(g.oldCAs)
	if g.ca == nil || !now.Before(g.ca.renewAt()) {
		ca, err := g.newCA(now)
		if err != nil {
			return time.Time{}, err
		}
		if g.ca != nil {
			g.oldCAs = append([]*keyPair{g.ca}, g.oldCAs...)
		}
		g.ca = ca
		bundleChanged = true
	}
	if bundleChanged {
		var b bytes.Buffer
		b.Write(g.ca.pem())
		for _, old := range g.oldCAs {
			b.Write(old.pem())
		}
		g.bundle = b.Bytes()
		if err := g.write(CAFile, g.bundle, 0o644); err != nil {
			return time.Time{}, err
		}
		if publish != nil {
			publish(bytes.Clone(g.bundle))
		}
	}
	if g.serving == nil || !now.Before(g.serving.renewAt()) {
		if err := g.issueServing(now); err != nil {
			return time.Time{}, err
		}
	}
	next = g.serving.renewAt()
	if t := g.ca.renewAt(); t.Before(next) {
		next = t
	}
	for _, old := range g.oldCAs { // drop it from the bundle when it expires
		if old.cert.NotAfter.Before(next) {
			next = old.cert.NotAfter
		}
	}
	if earliest := now.Add(minRotationDelay); next.Before(earliest) {
		next = earliest
	}
	return next, nil
}

// issueServing issues, writes and installs a new serving certificate.
func (g *generator) issueServing(now time.Time) error {
	serving, err := g.newServing(now)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(serving.key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	// Key first: a watcher that sees the new certificate finds its key.
	if err := g.write(KeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := g.write(CertFile, serving.pem(), 0o644); err != nil {
		return err
	}
	g.serving = serving
	g.current.Store(&tls.Certificate{
		Certificate: [][]byte{serving.der},
		PrivateKey:  serving.key,
		Leaf:        serving.cert,
	})
	return nil
}

func dropExpired(cas []*keyPair, now time.Time) []*keyPair {
	var out []*keyPair
	for _, c := range cas {
		if now.Before(c.cert.NotAfter) {
			out = append(out, c)
		}
	}
	return out
}

// caBundle returns the PEM bundle of trusted CAs (newest first).
func (g *generator) caBundle() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Clone(g.bundle)
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func (g *generator) newCA(now time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("admission: generate CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The serial in the name tells CA generations apart.
		Subject:               pkix.Name{CommonName: "portcullis-webhook-ca-" + serial.Text(36)[:8], Organization: []string{"portcullis"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter(now, g.caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("admission: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key, der: der, issued: now}, nil
}

func (g *generator) newServing(now time.Time) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("admission: generate serving key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	end := notAfter(now, g.validity)
	if end.After(g.ca.cert.NotAfter) {
		end = g.ca.cert.NotAfter
	}
	cn := "portcullis-webhook"
	if len(g.dnsNames) > 0 {
		cn = g.dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     end,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     g.dnsNames,
		IPAddresses:  g.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, g.ca.cert, &key.PublicKey, g.ca.key)
	if err != nil {
		return nil, fmt.Errorf("admission: create serving certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key, der: der, issued: now}, nil
}

// write replaces dir/name atomically (nothing when dir is "").
func (g *generator) write(name string, data []byte, mode os.FileMode) error {
	if g.dir == "" {
		return nil
	}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return fmt.Errorf("admission: certificate directory: %w", err)
	}
	tmp, err := os.CreateTemp(g.dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("admission: write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("admission: write %s: %w", name, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("admission: write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admission: write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(g.dir, name)); err != nil {
		return fmt.Errorf("admission: write %s: %w", name, err)
	}
	return nil
}

// fileCert serves a certificate and key from files, reloading them when
// their size or modification time changes.
type fileCert struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
	stamp             string
}

func newFileCert(certFile, keyFile string) (*fileCert, error) {
	f := &fileCert{certFile: certFile, keyFile: keyFile}
	if _, err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fileCert) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.current.Load(), nil
}

// reload loads the pair when the files changed since the last load; it
// reports whether it did. On error the previous certificate stays.
func (f *fileCert) reload() (bool, error) {
	var stamp string
	for _, p := range []string{f.certFile, f.keyFile} {
		st, err := os.Stat(p)
		if err != nil {
			return false, fmt.Errorf("admission: certificate: %w", err)
		}
		stamp += fmt.Sprintf("%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	if stamp == f.stamp {
		return false, nil
	}
	pair, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return false, fmt.Errorf("admission: certificate: %w", err)
	}
	f.current.Store(&pair)
	f.stamp = stamp
	return true, nil
}

// fileCA is a PEM CA bundle read from a file, re-read when its size or
// modification time changes.
type fileCA struct {
	path    string
	stamp   string
	current atomic.Pointer[[]byte]
}

// reload reads the bundle when the file changed since the last read; it
// reports whether the content changed. A file without a certificate is an
// error and keeps the previous bundle.
func (f *fileCA) reload() (bool, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return false, fmt.Errorf("admission: CA file: %w", err)
	}
	stamp := fmt.Sprintf("%d/%d", st.Size(), st.ModTime().UnixNano())
	if stamp == f.stamp {
		return false, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return false, fmt.Errorf("admission: CA file: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return false, fmt.Errorf("admission: CA file %s holds no PEM certificate", f.path)
	}
	f.stamp = stamp
	if old := f.current.Load(); old != nil && bytes.Equal(*old, b) {
		return false, nil
	}
	f.current.Store(&b)
	return true, nil
}

// bundle returns the current bundle.
func (f *fileCA) bundle() []byte {
	if p := f.current.Load(); p != nil {
		return bytes.Clone(*p)
	}
	return nil
}
