package vcache

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// KeySize is the length in bytes of a signing key (HMAC-SHA256 keys as
// long as the hash output).
const KeySize = 32

// Key is one HMAC-SHA256 signing key.
type Key struct {
	// ID names the key in the annotations it signed.
	ID string `json:"id"`
	// Secret is the key material (KeySize random bytes).
	Secret []byte `json:"secret"`
	// Created is when the key was generated.
	Created time.Time `json:"created"`
	// RetiresAt is, for a previous key, the end of its overlap window:
	// annotations it signed are accepted until then. Zero for the
	// current key.
	RetiresAt time.Time `json:"retiresAt,omitzero"`
}

// KeySet is the current signing key and the previous keys still inside
// their overlap window.
type KeySet struct {
	Current  Key   `json:"current"`
	Previous []Key `json:"previous,omitempty"`
}

// NewKey generates a key with a random ID.
func NewKey(now time.Time) (Key, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("vcache: generate key: %w", err)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return Key{}, fmt.Errorf("vcache: generate key id: %w", err)
	}
	return Key{ID: hex.EncodeToString(id), Secret: secret, Created: now.UTC().Truncate(time.Second)}, nil
}

// NewKeySet generates a key set with one fresh key.
func NewKeySet(now time.Time) (KeySet, error) {
	k, err := NewKey(now)
	if err != nil {
		return KeySet{}, err
	}
	return KeySet{Current: k}, nil
}

// Rotate returns a key set with a fresh current key; the current key
// becomes a previous key that keeps verifying until now+overlap, and
// previous keys already retired at now are dropped. ks is unchanged.
func (ks KeySet) Rotate(now time.Time, overlap time.Duration) (KeySet, error) {
	k, err := NewKey(now)
	if err != nil {
		return KeySet{}, err
	}
	old := ks.Current
	old.RetiresAt = now.Add(overlap).UTC().Truncate(time.Second)
	out := KeySet{Current: k, Previous: []Key{old}}
	for _, p := range ks.Previous {
		if now.Before(p.RetiresAt) {
			out.Previous = append(out.Previous, p)
		}
	}
	return out, nil
}

// verifier returns the key named id that may verify at now: the current
// key, or a previous key before its RetiresAt.
func (ks KeySet) verifier(id string, now time.Time) (Key, bool) {
	if ks.Current.ID == id && len(ks.Current.Secret) == KeySize {
		return ks.Current, true
	}
	for _, p := range ks.Previous {
		if p.ID == id && len(p.Secret) == KeySize && now.Before(p.RetiresAt) {
			return p, true
		}
	}
	return Key{}, false
}

// Validate reports whether ks can sign: a current key of KeySize bytes
// with an ID, and previous keys of KeySize bytes with IDs.
func (ks KeySet) Validate() error {
	if ks.Current.ID == "" || !validID(ks.Current.ID) {
		return errors.New("vcache: key set: the current key has no valid id")
	}
	if len(ks.Current.Secret) != KeySize {
		return fmt.Errorf("vcache: key set: current key %s has %d bytes, want %d", ks.Current.ID, len(ks.Current.Secret), KeySize)
	}
	for _, p := range ks.Previous {
		if !validID(p.ID) || len(p.Secret) != KeySize {
			return fmt.Errorf("vcache: key set: previous key %q is malformed", p.ID)
		}
	}
	return nil
}

// validID reports whether id may name a key: 1 to 64 characters of
// [A-Za-z0-9_-] (it sits between dots in the annotation).
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// MarshalKeySet encodes ks for storage (the Secret's data).
func MarshalKeySet(ks KeySet) ([]byte, error) {
	if err := ks.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(ks)
	if err != nil {
		return nil, fmt.Errorf("vcache: encode key set: %w", err)
	}
	return data, nil
}

// ParseKeySet decodes what MarshalKeySet wrote and validates it.
func ParseKeySet(data []byte) (KeySet, error) {
	var ks KeySet
	if err := json.Unmarshal(data, &ks); err != nil {
		return KeySet{}, fmt.Errorf("vcache: decode key set: %w", err)
	}
	if err := ks.Validate(); err != nil {
		return KeySet{}, err
	}
	return ks, nil
}
