package admission

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// PolicySource gives the policy set to evaluate a request against. Current
// is called once per request and must be cheap and safe for concurrent
// use; it returns nil until policies are loaded.
type PolicySource interface {
	Current() *policy.Set
}

// AtomicSource is a PolicySource whose set is replaced atomically with
// Store. The zero value holds no set. A request evaluates against the set
// that was current when it arrived.
type AtomicSource struct {
	p atomic.Pointer[policy.Set]
}

// NewAtomicSource returns an AtomicSource holding set (which may be nil).
func NewAtomicSource(set *policy.Set) *AtomicSource {
	s := &AtomicSource{}
	s.p.Store(set)
	return s
}

// Current implements PolicySource.
func (s *AtomicSource) Current() *policy.Set { return s.p.Load() }

// Store makes set the current set.
func (s *AtomicSource) Store(set *policy.Set) { s.p.Store(set) }

var _ PolicySource = (*AtomicSource)(nil)

// NamespaceLabelsFunc returns the labels of the namespace called name. It
// is called for namespaced requests, under the request's deadline.
type NamespaceLabelsFunc func(ctx context.Context, name string) (map[string]string, error)

// NamespaceLabelsFromClient returns a NamespaceLabelsFunc reading
// namespaces through client, caching each namespace's labels for ttl (no
// caching when ttl <= 0). The returned maps must not be modified.
func NamespaceLabelsFromClient(client kubernetes.Interface, ttl time.Duration) NamespaceLabelsFunc {
	type entry struct {
		labels  map[string]string
		expires time.Time
	}
	var mu sync.Mutex
	cache := map[string]entry{}
	return func(ctx context.Context, name string) (map[string]string, error) {
		now := time.Now()
		if ttl > 0 {
			mu.Lock()
			e, ok := cache[name]
			mu.Unlock()
			if ok && now.Before(e.expires) {
				return e.labels, nil
			}
		}
		ns, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get namespace %s: %w", name, err)
		}
		if ttl > 0 {
			mu.Lock()
			if len(cache) > 10000 { // bound memory: namespaces come and go
				clear(cache)
			}
			cache[name] = entry{labels: ns.Labels, expires: now.Add(ttl)}
			mu.Unlock()
		}
		return ns.Labels, nil
	}
}
