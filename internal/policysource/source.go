package policysource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Options configure a Watcher.
type Options struct {
	// Group is the API group of the policy CRDs: "portcullis.dev"
	// (default) or "kyverno.io".
	Group string
	// Debounce groups bursts of changes into one recompilation
	// (default 100ms). A change takes effect within Debounce plus the
	// compile time.
	Debounce time.Duration
	// Logger receives compile problems of individual policies (default: discard).
	Logger *slog.Logger
	// ImagePolicies also watches sigstore ClusterImagePolicies
	// (policy.sigstore.dev/v1beta1); their CRD must be installed.
	ImagePolicies bool
}

// Watcher serves the current policy set. It is safe for concurrent use.
type Watcher struct {
	cache    cache.Cache
	opts     Options
	cur      atomic.Pointer[policy.Set]
	ready    atomic.Bool
	loaded   chan struct{}
	loadOnce sync.Once
	trigger  chan struct{}
	mu       sync.Mutex
	subs     []chan struct{}
	problems atomic.Pointer[[]*policy.Error]
}

// New returns a Watcher reading from c (a controller-runtime cache, e.g.
// the manager's). Call Start (or add it to a manager) to begin watching.
func New(c cache.Cache, opts Options) (*Watcher, error) {
	if c == nil {
		return nil, errors.New("policysource: nil cache")
	}
	switch opts.Group {
	case "":
		opts.Group = kyvernov1.PortcullisGroup
	case kyvernov1.PortcullisGroup, kyvernov1.Group:
	default:
		return nil, fmt.Errorf("policysource: unknown policy group %q (want %s or %s)", opts.Group, kyvernov1.PortcullisGroup, kyvernov1.Group)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cache: c, opts: opts, trigger: make(chan struct{}, 1), loaded: make(chan struct{})}
	w.cur.Store(&policy.Set{})
	return w, nil
}

// Current returns the policy set in force. It never returns nil.
func (w *Watcher) Current() *policy.Set { return w.cur.Load() }

// ImagePolicies returns the ClusterImagePolicies in force (none unless
// Options.ImagePolicies): those of the current set.
func (w *Watcher) ImagePolicies() []*imagepolicy.Policy { return w.Current().Images }

// Ready reports whether the first set was compiled from the cluster.
func (w *Watcher) Ready() bool { return w.ready.Load() }

// Loaded returns a channel that is closed once the first set compiled
// from the cluster is in force (Ready reports true from then on), so
// callers wait for it without polling.
func (w *Watcher) Loaded() <-chan struct{} { return w.loaded }

// Problems returns the compile problems of the policies left out of the
// current set (normally none: the CRD validating webhook refuses them).
func (w *Watcher) Problems() []*policy.Error {
	if p := w.problems.Load(); p != nil {
		return *p
	}
	return nil
}

// Subscribe returns a channel that receives a value after every swap of
// the set (buffered, one pending notification at most).
func (w *Watcher) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs = append(w.subs, ch)
	w.mu.Unlock()
	return ch
}

func (w *Watcher) gvks() []schema.GroupVersionKind {
	out := []schema.GroupVersionKind{
		{Group: w.opts.Group, Version: "v1", Kind: kyvernov1.KindClusterPolicy},
		{Group: w.opts.Group, Version: "v1", Kind: kyvernov1.KindPolicy},
	}
	if w.opts.ImagePolicies {
		out = append(out, imagePolicyGVK)
	}
	return out
}

var imagePolicyGVK = schema.GroupVersionKind{Group: sigv1.Group, Version: sigv1.Version, Kind: sigv1.KindClusterImagePolicy}

// Start registers the informers, compiles the first set once the cache
// has synced, and then recompiles on every change until ctx is done.
// It implements controller-runtime's manager.Runnable.
func (w *Watcher) Start(ctx context.Context) error {
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.poke() },
		UpdateFunc: func(any, any) { w.poke() },
		DeleteFunc: func(any) { w.poke() },
	}
	for _, gvk := range w.gvks() {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		inf, err := w.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watch %s: %w", gvk.Kind, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch %s: %w", gvk.Kind, err)
		}
	}
	if !w.cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("policysource: cache did not sync: %w", ctx.Err())
	}
	if err := w.rebuild(ctx); err != nil {
		return err
	}
	w.ready.Store(true)
	w.loadOnce.Do(func() { close(w.loaded) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.trigger:
			timer := time.NewTimer(w.opts.Debounce)
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-timer.C:
			}
			if err := w.rebuild(ctx); err != nil {
				w.opts.Logger.Error("recompile policies", "error", err)
			}
		}
	}
}

func (w *Watcher) poke() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// rebuild compiles every cached policy into a new set and swaps it in.
// Policies that do not compile are left out and reported; the others stay
// in force.
func (w *Watcher) rebuild(ctx context.Context) error {
	var docs []manifest.Document
	for _, gvk := range w.gvks() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := w.cache.List(ctx, list); err != nil {
			return fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			obj := list.Items[i].Object
			src := fmt.Sprintf("cluster:%s/%s", gvk.Kind, list.Items[i].GetName())
			if ns := list.Items[i].GetNamespace(); ns != "" {
				src = fmt.Sprintf("cluster:%s/%s/%s", gvk.Kind, ns, list.Items[i].GetName())
			}
			docs = append(docs, manifest.Document{Source: src, Index: 1, Object: obj})
		}
	}
	set, err := policy.Compile(docs, policy.Options{SkipUnsupported: true})
	problems := policy.AsErrors(err)
	for _, p := range problems {
		w.opts.Logger.Warn("policy left out", "source", p.File, "policy", p.Policy, "rule", p.Rule, "field", p.Field, "error", p.Msg)
	}
	w.problems.Store(&problems)
	w.cur.Store(set)
	w.mu.Lock()
	for _, ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	return nil
}
