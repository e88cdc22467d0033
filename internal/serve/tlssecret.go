package serve

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/admission"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Keys of the shared certificate Secret (the kubernetes.io/tls layout plus ca.crt).
const (
	secretCert = "tls.crt"
	secretKey  = "tls.key"
	secretCA   = "ca.crt"
)

// secretCerts keeps a self-generated CA and serving certificate in a
// Secret shared by every replica: the first replica to find it missing or
// due for renewal issues a new bundle (optimistic concurrency on the
// Secret decides races: a loser re-reads the winner's bundle), and each
// replica serves what the Secret holds, written to files its server
// reloads.
type secretCerts struct {
	cs        kubernetes.Interface
	namespace string
	name      string
	hosts     []string
	validity  time.Duration
	dir       string
	log       *slog.Logger
	ca        []byte
	renewAt   time.Time
}

func (s *secretCerts) certFile() string { return filepath.Join(s.dir, secretCert) }
func (s *secretCerts) keyFile() string  { return filepath.Join(s.dir, secretKey) }

// sync makes the Secret hold a valid bundle and writes it to dir. It
// returns the CA bundle and whether it changed since the last sync.
func (s *secretCerts) sync(ctx context.Context) ([]byte, bool, error) {
	secrets := s.cs.CoreV1().Secrets(s.namespace)
	for attempt := 0; attempt < 5; attempt++ {
		now := time.Now()
		sec, err := secrets.Get(ctx, s.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			b, err := admission.IssueBundle(s.hosts, s.validity, nil, now)
			if err != nil {
				return nil, false, err
			}
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: s.namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "portcullis"}},
				Type: corev1.SecretTypeTLS, Data: bundleData(b)}
			if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue // another replica won: read its bundle
				}
				return nil, false, fmt.Errorf("create certificate Secret %s/%s: %w", s.namespace, s.name, err)
			}
			s.log.Info("issued webhook certificate", "secret", s.name)
			continue
		case err != nil:
			return nil, false, fmt.Errorf("read certificate Secret %s/%s: %w", s.namespace, s.name, err)
		}
		renewAt := admission.BundleRenewAt(sec.Data[secretCert], now)
		if len(sec.Data[secretKey]) == 0 || len(sec.Data[secretCA]) == 0 || !now.Before(renewAt) {
			b, err := admission.IssueBundle(s.hosts, s.validity, sec.Data[secretCA], now)
			if err != nil {
				return nil, false, err
			}
			sec.Data = bundleData(b)
			if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) {
					continue // another replica rotated first
				}
				return nil, false, fmt.Errorf("rotate certificate Secret %s/%s: %w", s.namespace, s.name, err)
			}
			s.log.Info("rotated webhook certificate", "secret", s.name)
			continue
		}
		if err := s.write(sec.Data); err != nil {
			return nil, false, err
		}
		changed := !bytes.Equal(s.ca, sec.Data[secretCA])
		s.ca, s.renewAt = sec.Data[secretCA], renewAt
		return s.ca, changed, nil
	}
	return nil, false, fmt.Errorf("certificate Secret %s/%s: too many concurrent changes", s.namespace, s.name)
}

func bundleData(b admission.Bundle) map[string][]byte {
	return map[string][]byte{secretCert: b.Cert, secretKey: b.Key, secretCA: b.CA}
}

// write replaces the files atomically; the key is readable by its owner only.
func (s *secretCerts) write(data map[string][]byte) error {
	for _, f := range []struct {
		name string
		mode os.FileMode
	}{{secretCA, 0o644}, {secretCert, 0o644}, {secretKey, 0o600}} {
		tmp, err := os.CreateTemp(s.dir, "."+f.name+"-*")
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
			werr = os.Rename(tmp.Name(), filepath.Join(s.dir, f.name))
		}
		if werr != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("write certificate: %w", werr)
		}
	}
	return nil
}

// next is when to check the Secret again: at renewal, and at least every
// minute to pick up another replica's rotation.
func (s *secretCerts) next() time.Duration {
	d := time.Until(s.renewAt)
	if d > time.Minute {
		d = time.Minute
	}
	if d < time.Second {
		d = time.Second
	}
	return d
}
