package serve

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/vcache"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func newKeyStore(cs *fake.Clientset) *keyStore {
	return &keyStore{cs: cs, namespace: "portcullis", name: "vkey", overlap: time.Hour, resync: time.Second,
		log: slog.New(slog.DiscardHandler), now: time.Now}
}

func storedKeys(t *testing.T, cs *fake.Clientset) (vcache.KeySet, *corev1.Secret) {
	t.Helper()
	sec, err := cs.CoreV1().Secrets("portcullis").Get(context.Background(), "vkey", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := vcache.ParseKeySet(sec.Data[keySetData])
	if err != nil {
		t.Fatal(err)
	}
	return ks, sec
}

func TestKeyStoreCreatesAndShares(t *testing.T) {
	cs := fake.NewClientset()
	a, b := newKeyStore(cs), newKeyStore(cs)
	if _, ok := a.Keys(); ok {
		t.Fatal("keys before the first sync")
	}
	if err := a.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ka, _ := a.Keys()
	kb, _ := b.Keys()
	stored, _ := storedKeys(t, cs)
	if ka.Current.ID != stored.Current.ID || kb.Current.ID != stored.Current.ID {
		t.Fatalf("replicas disagree: %s, %s, Secret %s", ka.Current.ID, kb.Current.ID, stored.Current.ID)
	}
}

// TestKeyStoreLosesCreateRace: another replica creates the Secret between
// this one's read and create; this one must adopt the other's key.
func TestKeyStoreLosesCreateRace(t *testing.T) {
	cs := fake.NewClientset()
	winner, err := vcache.NewKeySet(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := vcache.MarshalKeySet(winner)
	raced := false
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vkey", Namespace: "portcullis"}, Data: map[string][]byte{keySetData: data}}
		if err := cs.Tracker().Add(other); err != nil {
			t.Error(err)
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "vkey")
	})
	k := newKeyStore(cs)
	if err := k.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := k.Keys()
	if !raced || got.Current.ID != winner.Current.ID {
		t.Fatalf("raced %v; key %s, want the winner's %s", raced, got.Current.ID, winner.Current.ID)
	}
}

func TestKeyStoreRotation(t *testing.T) {
	cs := fake.NewClientset()
	a, b := newKeyStore(cs), newKeyStore(cs)
	ctx := context.Background()
	if err := a.sync(ctx); err != nil {
		t.Fatal(err)
	}
	before, sec := storedKeys(t, cs)
	sec.Annotations = map[string]string{VerificationKeyRotateAnnotation: "2026-12-05"}
	if _, err := cs.CoreV1().Secrets("portcullis").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// b rotates after a conflicting rotation by a (a's update lands
	// first): b re-reads and adopts it instead of rotating twice.
	conflicted := false
	cs.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicted {
			return false, nil, nil
		}
		conflicted = true
		// The other replica's rotation lands first (written through the
		// tracker: the fake client is locked while a reactor runs).
		gvr := corev1.SchemeGroupVersion.WithResource("secrets")
		obj, err := cs.Tracker().Get(gvr, "portcullis", "vkey")
		if err != nil {
			t.Error(err)
			return true, nil, err
		}
		sec := obj.(*corev1.Secret).DeepCopy()
		ks, err := vcache.ParseKeySet(sec.Data[keySetData])
		if err != nil {
			t.Error(err)
		}
		rotated, _ := ks.Rotate(time.Now(), time.Hour)
		sec.Data[keySetData], _ = vcache.MarshalKeySet(rotated)
		sec.Data[keyRotateData] = []byte(sec.Annotations[VerificationKeyRotateAnnotation])
		if err := cs.Tracker().Update(gvr, sec, "portcullis"); err != nil {
			t.Error(err)
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "vkey", nil)
	})
	if err := b.sync(ctx); err != nil {
		t.Fatal(err)
	}
	after, sec := storedKeys(t, cs)
	kb, _ := b.Keys()
	switch {
	case !conflicted:
		t.Fatal("no conflict was produced")
	case after.Current.ID == before.Current.ID:
		t.Fatal("not rotated")
	case kb.Current.ID != after.Current.ID:
		t.Fatalf("replica b uses %s, the Secret %s", kb.Current.ID, after.Current.ID)
	case len(after.Previous) != 1 || after.Previous[0].ID != before.Current.ID:
		t.Fatalf("previous keys %+v, want the rotated-out key only (rotated once)", after.Previous)
	case string(sec.Data[keyRotateData]) != "2026-12-05":
		t.Fatalf("rotation request not recorded: %q", sec.Data[keyRotateData])
	}
	if d := time.Until(after.Previous[0].RetiresAt); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("previous key retires in %v, want the 1h overlap", d)
	}
	// The same request does not rotate again.
	if err := a.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := storedKeys(t, cs); again.Current.ID != after.Current.ID {
		t.Fatal("rotated twice for one request")
	}
}

func TestKeyStoreReplacesUnusableContent(t *testing.T) {
	cs := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vkey", Namespace: "portcullis"},
		Data: map[string][]byte{keySetData: []byte("not json"), "other": []byte("kept")}})
	k := newKeyStore(cs)
	if err := k.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Keys(); !ok {
		t.Fatal("no keys")
	}
	if _, sec := storedKeys(t, cs); string(sec.Data["other"]) != "kept" {
		t.Fatal("other data of the Secret lost")
	}
}
