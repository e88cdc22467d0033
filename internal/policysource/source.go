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
	kyvernov2 "github.com/portcullis/portcullis/api/kyverno/v2"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/attest"
	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
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
	// ExceptionNamespaces are the namespaces whose kyverno.io/v2
	// PolicyExceptions are honoured ("*": every namespace). Empty: none
	// are watched and exceptions are off, as in Kyverno by default. An
	// exception in another namespace is ignored (see IgnoredExceptions),
	// so that a tenant cannot exempt itself. The PolicyException CRD must
	// be installed when this is set. With CELPolicies, the
	// policies.kyverno.io PolicyExceptions obey the same namespaces.
	ExceptionNamespaces []string
	// CELPolicies also watches the policies.kyverno.io kinds of CELKinds
	// (ValidatingPolicy, MutatingPolicy, GeneratingPolicy and, with
	// ExceptionNamespaces, PolicyException) whose CRD is installed, found
	// through Discovery; a kind whose CRD is absent is logged once and
	// looked for again every CRDRecheck.
	CELPolicies bool
	// Discovery finds the CRDs of the CEL kinds (required with CELPolicies).
	Discovery discovery.DiscoveryInterface
	// CRDRecheck is how often absent CEL kinds are looked for again
	// (default DefaultCRDRecheck).
	CRDRecheck time.Duration
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
	states   atomic.Pointer[[]PolicyState]
	ignored  atomic.Pointer[[]Key]
	// good holds the last version of each policy that compiled (under mu).
	good map[Key]lastGood
	// kindsMu guards celGVKs: the CEL kinds being watched, by kind, with
	// the version they are read in.
	kindsMu sync.Mutex
	celGVKs map[string]schema.GroupVersionKind
	// celAbsentLogged records the CEL kinds logged as not installed (used
	// by Start's goroutine only).
	celAbsentLogged map[string]bool
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
	if opts.CELPolicies && opts.Discovery == nil {
		return nil, errors.New("policysource: CELPolicies needs a discovery client")
	}
	if opts.CRDRecheck <= 0 {
		opts.CRDRecheck = DefaultCRDRecheck
	}
	w := &Watcher{cache: c, opts: opts, trigger: make(chan struct{}, 1), loaded: make(chan struct{}),
		celGVKs: map[string]schema.GroupVersionKind{}, celAbsentLogged: map[string]bool{}}
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

// Problems returns the compile problems of the policies in the cluster
// (normally none: the policy validating webhook refuses them); see States
// for what stands in for each broken policy.
func (w *Watcher) Problems() []*policy.Error {
	if p := w.problems.Load(); p != nil {
		return *p
	}
	return nil
}

// States returns the load state of every policy object of the current
// set, ordered by kind, namespace and name.
func (w *Watcher) States() []PolicyState {
	if p := w.states.Load(); p != nil {
		return *p
	}
	return nil
}

// Broken returns the states of the policies that do not compile.
func (w *Watcher) Broken() []PolicyState {
	var out []PolicyState
	for _, s := range w.States() {
		if !s.Ready {
			out = append(out, s)
		}
	}
	return out
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

// gvks are the kinds watched now: the static ones and the CEL kinds found.
func (w *Watcher) gvks() []schema.GroupVersionKind {
	out := w.staticGVKs()
	w.kindsMu.Lock()
	defer w.kindsMu.Unlock()
	for _, k := range CELKinds {
		if gvk, ok := w.celGVKs[k]; ok {
			out = append(out, gvk)
		}
	}
	return out
}

// staticGVKs are the kinds watched whatever is installed: their CRDs are
// required.
func (w *Watcher) staticGVKs() []schema.GroupVersionKind {
	out := []schema.GroupVersionKind{
		{Group: w.opts.Group, Version: "v1", Kind: kyvernov1.KindClusterPolicy},
		{Group: w.opts.Group, Version: "v1", Kind: kyvernov1.KindPolicy},
	}
	if w.opts.ImagePolicies {
		out = append(out, imagePolicyGVK)
	}
	if len(w.opts.ExceptionNamespaces) > 0 {
		out = append(out, ExceptionGVK)
	}
	return out
}

// watch registers the change handler on the informer of gvk.
func (w *Watcher) watch(ctx context.Context, gvk schema.GroupVersionKind) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	inf, err := w.cache.GetInformer(ctx, obj)
	if err != nil {
		return fmt.Errorf("watch %s: %w", gvk.Kind, err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { w.poke() },
		UpdateFunc: func(any, any) { w.poke() },
		DeleteFunc: func(any) { w.poke() },
	}); err != nil {
		return fmt.Errorf("watch %s: %w", gvk.Kind, err)
	}
	return nil
}

// ExceptionGVK is the PolicyException kind the Watcher watches when
// Options.ExceptionNamespaces is set.
var ExceptionGVK = schema.GroupVersionKind{Group: kyvernov2.Group, Version: "v2", Kind: kyvernov2.KindPolicyException}

// ExceptionAllowed reports whether a PolicyException in namespace ns is
// honoured under the allowed namespaces ("*" allows every namespace).
func ExceptionAllowed(allowed []string, ns string) bool {
	for _, a := range allowed {
		if a == "*" || a == ns {
			return true
		}
	}
	return false
}

// IgnoredExceptions returns the PolicyExceptions of the cluster that are
// not honoured because they are outside Options.ExceptionNamespaces.
func (w *Watcher) IgnoredExceptions() []Key {
	if p := w.ignored.Load(); p != nil {
		return *p
	}
	return nil
}

var imagePolicyGVK = schema.GroupVersionKind{Group: sigv1.Group, Version: sigv1.Version, Kind: sigv1.KindClusterImagePolicy}

// Start registers the informers, compiles the first set once the cache
// has synced, and then recompiles on every change until ctx is done.
// It implements controller-runtime's manager.Runnable.
func (w *Watcher) Start(ctx context.Context) error {
	for _, gvk := range w.staticGVKs() {
		if err := w.watch(ctx, gvk); err != nil {
			return err
		}
	}
	if _, err := w.discoverCEL(ctx); err != nil {
		return err
	}
	var recheck <-chan time.Time
	if len(w.celWanted()) > 0 {
		t := time.NewTicker(w.opts.CRDRecheck)
		defer t.Stop()
		recheck = t.C
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
		case <-recheck:
			added, err := w.discoverCEL(ctx)
			if err != nil {
				w.opts.Logger.Error("watch CEL policy kinds", "error", err)
			}
			if added {
				w.poke()
			}
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
// A policy that does not compile is replaced by its last good version
// when this process compiled one, by a fail-closed stand-in when it is an
// Enforce ClusterImagePolicy (see FallbackFailClosed), else left out; its
// state (States, Broken) says so.
func (w *Watcher) rebuild(ctx context.Context) error {
	var objs []cached
	var ignored []Key
	for _, gvk := range w.gvks() {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := w.cache.List(ctx, list); err != nil {
			return fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			u := &list.Items[i]
			key := Key{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
			if isException(gvk) && !ExceptionAllowed(w.opts.ExceptionNamespaces, key.Namespace) {
				// Not compiled, not in force: only reported.
				ignored = append(ignored, key)
				continue
			}
			// The source names the object; the group tells the two
			// PolicyException kinds apart.
			kind := gvk.Kind
			if isCELException(gvk) {
				kind += "." + gvk.Group
			}
			src := fmt.Sprintf("cluster:%s/%s", kind, u.GetName())
			if key.Namespace != "" {
				src = fmt.Sprintf("cluster:%s/%s/%s", kind, key.Namespace, u.GetName())
			}
			objs = append(objs, cached{key: key, gvk: gvk, obj: u, doc: manifest.Document{Source: src, Index: 1, Object: u.Object}})
		}
	}
	docs := make([]manifest.Document, len(objs))
	for i, o := range objs {
		docs[i] = o.doc
	}
	set, err := policy.Compile(docs, policy.Options{SkipUnsupported: true, Attestations: attest.Check})
	problems := policy.AsErrors(err)
	for _, d := range docs {
		problems = append(problems, Unsupported(d)...)
	}
	bySource := map[string][]string{}
	for _, p := range problems {
		w.opts.Logger.Warn("policy does not compile", "source", p.File, "policy", p.Policy, "rule", p.Rule, "field", p.Field, "error", p.Msg)
		q := *p
		q.File, q.Document = "", 0
		bySource[p.File] = append(bySource[p.File], q.Error())
	}

	w.mu.Lock()
	if w.good == nil {
		w.good = map[Key]lastGood{}
	}
	present := map[Key]bool{}
	states := make([]PolicyState, 0, len(objs))
	var stand []manifest.Document
	for i, o := range objs {
		present[o.key] = true
		st := PolicyState{Key: o.key, GVK: o.gvk, UID: string(o.obj.GetUID()), Generation: o.obj.GetGeneration(),
			Conditions: conditionsOf(o.obj), Ready: true}
		if errs, bad := bySource[o.doc.Source]; bad {
			st.Ready, st.Errors, st.Fallback = false, errs, FallbackNone
			if g, ok := w.good[o.key]; ok {
				st.Fallback, st.LastGoodGeneration = FallbackLastGood, g.generation
				stand = append(stand, g.doc)
			} else if o.gvk == imagePolicyGVK {
				if d, ok := failClosedImagePolicy(o, errs[0]); ok {
					st.Fallback = FallbackFailClosed
					stand = append(stand, d)
				}
			}
		} else {
			w.good[o.key] = lastGood{doc: docs[i], generation: st.Generation}
			stand = append(stand, docs[i])
		}
		states = append(states, st)
	}
	for k := range w.good {
		if !present[k] {
			delete(w.good, k)
		}
	}
	w.mu.Unlock()
	if len(bySource) > 0 {
		// Again with the stand-ins in place of the broken policies.
		var err2 error
		set, err2 = policy.Compile(stand, policy.Options{SkipUnsupported: true, Attestations: attest.Check})
		for _, p := range policy.AsErrors(err2) {
			w.opts.Logger.Error("policy left out", "source", p.File, "policy", p.Policy, "rule", p.Rule, "field", p.Field, "error", p.Msg)
		}
	}
	sortStates(states)
	w.reportIgnored(ignored)
	w.states.Store(&states)
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

// reportIgnored records the exceptions left out and logs the ones not
// reported before.
func (w *Watcher) reportIgnored(ignored []Key) {
	prev := map[Key]bool{}
	for _, k := range w.IgnoredExceptions() {
		prev[k] = true
	}
	for _, k := range ignored {
		if !prev[k] {
			w.opts.Logger.Warn("policy exception ignored: its namespace is not an exceptions namespace (--exceptions-namespace)",
				"exception", k.Namespace+"/"+k.Name, "namespaces", w.opts.ExceptionNamespaces)
		}
	}
	w.ignored.Store(&ignored)
}
