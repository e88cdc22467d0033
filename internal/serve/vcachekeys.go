package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/vcache"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The verification key Secret: the key set (vcache.MarshalKeySet) and the
// last rotation request handled. Setting the annotation
// VerificationKeyRotateAnnotation to a new value asks for a rotation.
const (
	keySetData    = "keys.json"
	keyRotateData = "rotated-for"
	// VerificationKeyRotateAnnotation on the verification key Secret asks
	// for a key rotation whenever its value changes (kubectl annotate
	// --overwrite ...=$(date +%s)).
	VerificationKeyRotateAnnotation = "portcullis.dev/rotate-key"
)

// DefaultVerificationKeyResync is how often every replica re-reads the
// verification key Secret.
const DefaultVerificationKeyResync = 30 * time.Second

// keyStore holds the signing keys of the verification cache: read from
// (and created in, and rotated in) a Secret shared by the replicas, or
// generated in memory when no Secret is named (one replica).
type keyStore struct {
	cs        kubernetes.Interface
	namespace string
	name      string
	overlap   time.Duration
	resync    time.Duration
	log       *slog.Logger
	now       func() time.Time
	cur       atomic.Pointer[vcache.KeySet]
}

// NeedLeaderElection: every replica reads the keys (any replica may
// create the Secret or rotate the key; optimistic concurrency decides).
func (*keyStore) NeedLeaderElection() bool { return false }

// Keys returns the key set, false until one is loaded.
func (k *keyStore) Keys() (vcache.KeySet, bool) {
	ks := k.cur.Load()
	if ks == nil {
		return vcache.KeySet{}, false
	}
	return *ks, true
}

// Start loads the keys, then re-reads them every resync until ctx ends.
func (k *keyStore) Start(ctx context.Context) error {
	if k.name == "" {
		ks, err := vcache.NewKeySet(k.now())
		if err != nil {
			return err
		}
		k.cur.Store(&ks)
		return nil
	}
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		if err := k.sync(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("verification key Secret unavailable: the verification cache is off until it is", "secret", k.name, "error", err.Error())
			wait = min(max(2*wait, time.Second), k.resync)
			continue
		}
		wait = k.resync
	}
}

// sync reads the Secret, creating it with a fresh key when it is absent
// and rotating the key when the rotation annotation asks for it, and
// publishes the key set. Two replicas doing so at once agree: a create
// that finds the Secret, or an update that conflicts, reads again.
func (k *keyStore) sync(ctx context.Context) error {
	secrets := k.cs.CoreV1().Secrets(k.namespace)
	for range 5 {
		sec, err := secrets.Get(ctx, k.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			ks, err := vcache.NewKeySet(k.now())
			if err != nil {
				return err
			}
			data, err := vcache.MarshalKeySet(ks)
			if err != nil {
				return err
			}
			sec = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: k.name, Namespace: k.namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "portcullis"}},
				Type: corev1.SecretTypeOpaque, Data: map[string][]byte{keySetData: data}}
			if _, err := secrets.Create(ctx, sec, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue // another replica created it: use its key
				}
				return fmt.Errorf("create verification key Secret %s/%s: %w", k.namespace, k.name, err)
			}
			k.log.Info("generated the verification cache key", "secret", k.name, "key", ks.Current.ID)
			continue
		}
		if err != nil {
			return fmt.Errorf("read verification key Secret %s/%s: %w", k.namespace, k.name, err)
		}
		ks, perr := vcache.ParseKeySet(sec.Data[keySetData])
		want := sec.Annotations[VerificationKeyRotateAnnotation]
		rotate := want != "" && want != string(sec.Data[keyRotateData])
		if perr == nil && !rotate {
			k.cur.Store(&ks)
			return nil
		}
		var next vcache.KeySet
		if perr != nil {
			// Unusable content: a fresh key (records of the old one are
			// ignored, which only costs registry requests).
			next, err = vcache.NewKeySet(k.now())
		} else {
			next, err = ks.Rotate(k.now(), k.overlap)
		}
		if err != nil {
			return err
		}
		data, err := vcache.MarshalKeySet(next)
		if err != nil {
			return err
		}
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[keySetData] = data
		if rotate {
			sec.Data[keyRotateData] = []byte(want)
		}
		if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) {
				continue // another replica rotated first
			}
			return fmt.Errorf("rotate the key in Secret %s/%s: %w", k.namespace, k.name, err)
		}
		reason := "requested"
		if perr != nil {
			reason = perr.Error()
		}
		k.log.Info("rotated the verification cache key", "secret", k.name, "key", next.Current.ID,
			"previousValidUntil", k.now().Add(k.overlap).UTC().Format(time.RFC3339), "reason", reason)
	}
	return errors.New("verification key Secret: too many concurrent changes")
}
