package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/admission"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Keys of the shared certificate Secret (the kubernetes.io/tls layout plus ca.crt).
const (
	secretCert = "tls.crt"
	secretKey  = "tls.key"
	secretCA   = "ca.crt"
)

// Bounds of the issuer's wait between two checks of the Secret.
const (
	issuerMinWait = time.Second
	issuerMaxWait = time.Minute
)

// certSecret is the Secret holding a self-generated CA and serving
// certificate shared by every replica.
type certSecret struct {
	cs        kubernetes.Interface
	namespace string
	name      string
	hosts     []string
	validity  time.Duration
	log       *slog.Logger
}

// ensure makes the Secret hold a valid bundle, issuing one when it is
// missing, incomplete, unreadable or due for renewal. It returns when the
// bundle should be renewed. Only the leader calls it; optimistic
// concurrency on the Secret still decides races (a loser re-reads).
func (s *certSecret) ensure(ctx context.Context) (time.Time, error) {
	secrets := s.cs.CoreV1().Secrets(s.namespace)
	for attempt := 0; attempt < 5; attempt++ {
		now := time.Now()
		sec, err := secrets.Get(ctx, s.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			b, err := admission.IssueBundle(s.hosts, s.validity, nil, now)
			if err != nil {
				return time.Time{}, err
			}
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "portcullis"}},
				Type: corev1.SecretTypeTLS, Data: bundleData(b)}
			if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue // another writer won: read its bundle
				}
				return time.Time{}, fmt.Errorf("create certificate Secret %s/%s: %w", s.namespace, s.name, err)
			}
			s.log.Info("issued webhook certificate", "secret", s.name)
			continue
		case err != nil:
			return time.Time{}, fmt.Errorf("read certificate Secret %s/%s: %w", s.namespace, s.name, err)
		}
		renewAt := admission.BundleRenewAt(sec.Data[secretCert], now)
		if _, perr := parseBundle(sec.Data); perr != nil || !now.Before(renewAt) {
			b, err := admission.IssueBundle(s.hosts, s.validity, sec.Data[secretCA], now)
			if err != nil {
				return time.Time{}, err
			}
			sec.Data = bundleData(b)
			if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) {
					continue // another writer rotated first
				}
				return time.Time{}, fmt.Errorf("rotate certificate Secret %s/%s: %w", s.namespace, s.name, err)
			}
			reason := "due"
			if perr != nil {
				reason = perr.Error()
			}
			s.log.Info("rotated webhook certificate", "secret", s.name, "reason", reason)
			continue
		}
		return renewAt, nil
	}
	return time.Time{}, fmt.Errorf("certificate Secret %s/%s: too many concurrent changes", s.namespace, s.name)
}

func bundleData(b admission.Bundle) map[string][]byte {
	return map[string][]byte{secretCert: b.Cert, secretKey: b.Key, secretCA: b.CA}
}

// parseBundle checks the Secret's data: a certificate with its key and a
// CA bundle.
func parseBundle(data map[string][]byte) (*tls.Certificate, error) {
	if len(data[secretCA]) == 0 {
		return nil, errors.New("no " + secretCA)
	}
	pair, err := tls.X509KeyPair(data[secretCert], data[secretKey])
	if err != nil {
		return nil, fmt.Errorf("unusable %s/%s: %w", secretCert, secretKey, err)
	}
	return &pair, nil
}

// certIssuer is the single writer of the certificate Secret (leader
// only): it creates the Secret, rotates it when due, and repairs it when
// it is deleted or damaged. It checks at renewal time and at least every
// minute, and at once when the loader sees the Secret go or break.
type certIssuer struct {
	secret *certSecret
	poke   <-chan struct{}
	log    *slog.Logger
}

// Start implements manager.Runnable.
func (i *certIssuer) Start(ctx context.Context) error {
	for {
		wait := issuerMaxWait
		renewAt, err := i.secret.ensure(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			i.log.Error("certificate Secret", "error", err)
			wait = 5 * issuerMinWait
		default:
			wait = min(max(time.Until(renewAt), issuerMinWait), issuerMaxWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-i.poke:
			t.Stop()
		}
	}
}

// certLoader serves the certificate the Secret holds, on every replica:
// it watches the Secret (through the manager's cache, restricted to that
// one Secret), swaps the serving certificate when it changes, hands the
// CA to onCA, and (with dir) writes ca.crt, tls.crt and tls.key there.
type certLoader struct {
	cache  cache.Cache
	secret *certSecret
	dir    string
	onCA   func([]byte)
	log    *slog.Logger

	current   atomic.Pointer[tls.Certificate]
	ready     chan struct{} // closed once a certificate is loaded
	readyOnce sync.Once
	poke      chan struct{} // asks the issuer to check the Secret

	mu sync.Mutex // serializes loads
	ca []byte
}

func newCertLoader(c cache.Cache, s *certSecret, dir string, onCA func([]byte), log *slog.Logger) *certLoader {
	return &certLoader{cache: c, secret: s, dir: dir, onCA: onCA, log: log,
		ready: make(chan struct{}), poke: make(chan struct{}, 1)}
}

// GetCertificate serves the loaded certificate (admission.ServerOptions.GetCertificate).
func (l *certLoader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := l.current.Load(); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("no serving certificate yet: waiting for Secret %s/%s", l.secret.namespace, l.secret.name)
}

// Ready reports whether a certificate is loaded.
func (l *certLoader) Ready() bool { return l.current.Load() != nil }

// Start implements manager.Runnable.
func (l *certLoader) Start(ctx context.Context) error {
	inf, err := l.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watch certificate Secret: %w", err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.load(obj) },
		UpdateFunc: func(_, obj any) { l.load(obj) },
		DeleteFunc: func(any) {
			l.log.Warn("certificate Secret deleted; serving the loaded certificate", "secret", l.secret.name)
			l.askIssuer()
		},
	})
	if err != nil {
		return fmt.Errorf("watch certificate Secret: %w", err)
	}
	<-ctx.Done()
	_ = inf.RemoveEventHandler(reg)
	return nil
}

func (l *certLoader) askIssuer() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// load installs the Secret's bundle; a damaged one keeps the previous
// certificate and asks the issuer for a repair.
func (l *certLoader) load(obj any) {
	sec, ok := obj.(*corev1.Secret)
	if !ok || sec.Name != l.secret.name || sec.Namespace != l.secret.namespace {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	pair, err := parseBundle(sec.Data)
	if err != nil {
		l.log.Warn("certificate Secret unusable; serving the loaded certificate", "secret", l.secret.name, "error", err)
		l.askIssuer()
		return
	}
	if l.dir != "" {
		if err := writeBundle(l.dir, sec.Data); err != nil {
			l.log.Error("write certificate files", "dir", l.dir, "error", err)
		}
	}
	l.current.Store(pair)
	if ca := sec.Data[secretCA]; !bytes.Equal(ca, l.ca) {
		l.ca = bytes.Clone(ca)
		l.log.Info("loaded webhook certificate", "secret", l.secret.name, "resourceVersion", sec.ResourceVersion)
		l.onCA(l.ca)
	}
	l.readyOnce.Do(func() { close(l.ready) })
}

// writeBundle replaces the files atomically; the key is readable by its
// owner only.
func writeBundle(dir string, data map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{secretCA, 0o644}, {secretKey, 0o600}, {secretCert, 0o644}} {
		tmp, err := os.CreateTemp(dir, "."+f.name+"-*")
		if err != nil {
			return fmt.Errorf("write certificate: %w", err)
		}
		_, werr := tmp.Write(data[f.name])
		cerr := tmp.Close()
		if werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(tmp.Name(), f.mode)
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), filepath.Join(dir, f.name))
		}
		if werr != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write certificate: %w", werr)
		}
	}
	return nil
}
