package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// ErrUnauthenticated is returned by an Authenticator for a token it does
// not accept.
var ErrUnauthenticated = errors.New("dashboard: invalid or expired token")

// Principal is an authenticated caller and what it may see.
type Principal struct {
	// Name identifies the caller in logs and the page header.
	Name string
	// All lets the caller see every cluster and namespace, cluster-scoped
	// resources included.
	All bool
	// Clusters and Namespaces, when All is false, are what the caller may
	// see: these namespaces of these clusters (none when empty).
	Clusters   []string
	Namespaces []string
}

// Authenticator checks a bearer token.
type Authenticator interface {
	// Authenticate returns the token's Principal, ErrUnauthenticated
	// (possibly wrapped) when the token is not valid, or another error
	// when it cannot tell (the API server is unreachable).
	Authenticate(ctx context.Context, token string) (*Principal, error)
}

// filter restricts f to what p may see. Requested clusters and namespaces
// outside p's are dropped; when nothing is left the filter admits nothing.
func (p *Principal) filter(f store.Filter) store.Filter {
	if p.All {
		return f
	}
	none := []string{}
	clusters := intersect(f.Clusters, p.Clusters)
	if len(clusters) == 0 {
		f.Clusters, f.Namespaces = nil, none
		return f
	}
	f.Clusters = clusters
	f.Namespaces = intersect(f.Namespaces, p.Namespaces)
	if f.Namespaces == nil {
		f.Namespaces = none
	}
	return f
}

// clusters restricts a list of requested clusters (all when empty) to
// p's; ok is false when nothing is left.
func (p *Principal) clusters(req []string) (out []string, ok bool) {
	if p.All {
		return req, true
	}
	out = intersect(req, p.Clusters)
	return out, len(out) > 0
}

// intersect returns the values of want that allowed has; all of allowed
// when want is empty.
func intersect(want, allowed []string) []string {
	if len(want) == 0 {
		return slices.Clone(allowed)
	}
	var out []string
	for _, w := range want {
		if slices.Contains(allowed, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// TokenFile accepts the token held in a file (surrounding white space
// ignored); the caller sees everything. The file is read again when its
// size or modification time changes, so a rotated token takes effect
// without a restart. Tokens are compared in constant time.
type TokenFile struct {
	path string

	mu      sync.Mutex
	mod     time.Time
	size    int64
	checked time.Time
	sum     [sha256.Size]byte
}

// NewTokenFile reads the token file; an unreadable or empty file is an
// error.
func NewTokenFile(path string) (*TokenFile, error) {
	t := &TokenFile{path: path}
	if _, err := t.current(); err != nil {
		return nil, err
	}
	return t, nil
}

// current returns the digest of the file's token, read again when the
// file changed (checked at most once a second).
func (t *TokenFile) current() ([sha256.Size]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !t.checked.IsZero() && now.Sub(t.checked) < time.Second {
		return t.sum, nil
	}
	fi, err := os.Stat(t.path)
	if err != nil {
		return t.sum, fmt.Errorf("dashboard: token file: %w", err)
	}
	t.checked = now
	if !t.mod.IsZero() && fi.ModTime().Equal(t.mod) && fi.Size() == t.size {
		return t.sum, nil
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return t.sum, fmt.Errorf("dashboard: token file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return t.sum, fmt.Errorf("dashboard: token file %s is empty", t.path)
	}
	t.sum, t.mod, t.size = sha256.Sum256([]byte(tok)), fi.ModTime(), fi.Size()
	return t.sum, nil
}

// Authenticate implements Authenticator.
func (t *TokenFile) Authenticate(_ context.Context, token string) (*Principal, error) {
	want, err := t.current()
	if err != nil {
		return nil, err
	}
	// Digests of equal length: the comparison time does not depend on
	// the token.
	got := sha256.Sum256([]byte(token))
	if token == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return nil, ErrUnauthenticated
	}
	return &Principal{Name: "token", All: true}, nil
}
