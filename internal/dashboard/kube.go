package dashboard

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// What a caller must be allowed to do in a namespace to see its findings.
const (
	AccessGroup    = "wgpolicyk8s.io"
	AccessResource = "policyreports"
	AccessVerb     = "list"
)

// DefaultParallelReviews bounds the per-namespace SubjectAccessReviews of
// one sign-in in flight at once.
const DefaultParallelReviews = 8

// DefaultAccessTTL is how long Kubernetes caches a token's Principal.
const DefaultAccessTTL = 30 * time.Second

// maxCached bounds the cache of Principals.
const maxCached = 1024

// Kubernetes authenticates bearer tokens with TokenReview and grants the
// namespaces where a SubjectAccessReview allows listing PolicyReports.
// One cluster-wide review comes first: when it allows, it grants every
// namespace and no other review is made. Otherwise every namespace of
// Cluster the store knows is checked, Parallel reviews at a time. A token's
// Principal is cached for TTL, and concurrent requests with the same
// uncached token (a page and its API calls) share one set of reviews.
type Kubernetes struct {
	// Client makes the reviews (it needs create on tokenreviews and
	// subjectaccessreviews).
	Client kubernetes.Interface
	// Cluster is this cluster's name in the store.
	Cluster string
	// Namespaces lists the namespace names to check (the store's).
	Namespaces func(ctx context.Context) ([]string, error)
	// TTL is how long a result is cached (default DefaultAccessTTL).
	TTL time.Duration
	// Audiences, when set, are the audiences the token must be for.
	Audiences []string
	// Parallel bounds the per-namespace reviews in flight for one token
	// (default DefaultParallelReviews).
	Parallel int

	mu     sync.Mutex
	cache  map[[sha256.Size]byte]cached
	flight singleflight.Group // by token hash
}

type cached struct {
	p       *Principal
	err     error
	expires time.Time
}

// Authenticate implements Authenticator.
func (k *Kubernetes) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	k.mu.Lock()
	if c, ok := k.cache[key]; ok && now.Before(c.expires) {
		k.mu.Unlock()
		return c.p, c.err
	}
	k.mu.Unlock()
	v, err, _ := k.flight.Do(string(key[:]), func() (any, error) {
		p, err := k.review(ctx, token)
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			return nil, err // not cached: the API server may answer next time
		}
		k.store(key, p, err, now)
		return p, err
	})
	p, _ := v.(*Principal)
	return p, err
}

// store caches a review's outcome.
func (k *Kubernetes) store(key [sha256.Size]byte, p *Principal, err error, now time.Time) {
	ttl := k.TTL
	if ttl <= 0 {
		ttl = DefaultAccessTTL
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cache == nil {
		k.cache = map[[sha256.Size]byte]cached{}
	}
	if len(k.cache) >= maxCached {
		for h, c := range k.cache {
			if !now.Before(c.expires) {
				delete(k.cache, h)
			}
		}
		if len(k.cache) >= maxCached {
			clear(k.cache)
		}
	}
	k.cache[key] = cached{p: p, err: err, expires: now.Add(ttl)}
}

func (k *Kubernetes) review(ctx context.Context, token string) (*Principal, error) {
	tr, err := k.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: k.Audiences}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("dashboard: token review: %w", err)
	}
	if !tr.Status.Authenticated {
		if tr.Status.Error != "" {
			return nil, fmt.Errorf("%w: %s", ErrUnauthenticated, tr.Status.Error)
		}
		return nil, ErrUnauthenticated
	}
	u := tr.Status.User
	p := &Principal{Name: u.Username, Clusters: []string{k.Cluster}}
	all, err := k.allowed(ctx, u, "")
	if err != nil {
		return nil, err
	}
	if all {
		p.All = true
		return p, nil
	}
	names, err := k.Namespaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("dashboard: list namespaces: %w", err)
	}
	ok := make([]bool, len(names))
	g, gctx := errgroup.WithContext(ctx)
	limit := k.Parallel
	if limit <= 0 {
		limit = DefaultParallelReviews
	}
	g.SetLimit(limit)
	for i, ns := range names {
		if ns == "" {
			continue // cluster-scoped resources: cluster-wide access only
		}
		g.Go(func() error {
			var err error
			ok[i], err = k.allowed(gctx, u, ns)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	p.Namespaces = []string{}
	for i, ns := range names {
		if ok[i] {
			p.Namespaces = append(p.Namespaces, ns)
		}
	}
	return p, nil
}

// allowed asks whether u may list PolicyReports in ns ("" cluster-wide).
func (k *Kubernetes) allowed(ctx context.Context, u authenticationv1.UserInfo, ns string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for key, v := range u.Extra {
		extra[key] = authorizationv1.ExtraValue(slices.Clone(v))
	}
	sar, err := k.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: AccessVerb, Group: AccessGroup, Resource: AccessResource},
		}}, metav1.CreateOptions{})
	if err != nil {
		where := "cluster-wide"
		if ns != "" {
			where = "in namespace " + strings.TrimSpace(ns)
		}
		return false, fmt.Errorf("dashboard: subject access review %s: %w", where, err)
	}
	return sar.Status.Allowed, nil
}
