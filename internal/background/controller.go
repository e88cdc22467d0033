package background

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/sink/policyreport"
	"github.com/portcullis/portcullis/internal/workpool"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of Options.
const (
	DefaultInterval      = time.Hour
	DefaultFlushInterval = time.Second
)

// PolicySource gives the current policy set and says when it changes
// (policysource.Watcher).
type PolicySource interface {
	Current() *policy.Set
	// Subscribe returns a channel that receives a value after each swap.
	Subscribe() <-chan struct{}
	// Loaded is closed once the first set is compiled.
	Loaded() <-chan struct{}
}

// Observer learns of compliance changes (the CloudEvents sink). Its
// methods are called from the controller's workers and must not block.
type Observer interface {
	// Seed gives, once at start, the failing results already reported
	// for a resource (from the existing reports), so a restart or a new
	// leader does not announce them again.
	Seed(uid string, failing []engine.Result)
	// Changed gives a resource's new results when they differ from the
	// previous evaluation.
	Changed(uid string, object map[string]any, results []engine.Result, now time.Time)
	// Deleted says a resource is gone.
	Deleted(uid string, resource engine.Resource, now time.Time)
	// PolicyDeleted says a policy is gone (kind as engine.Result.PolicyKind,
	// policy its key); the objects it had results for are then given to
	// Changed without them.
	PolicyDeleted(kind, policy string, now time.Time)
}

// Options configure a Controller.
type Options struct {
	// Cache serves the watched objects (the manager's cache).
	Cache cache.Cache
	// Mapper resolves the kinds the policies name.
	Mapper meta.RESTMapper
	// Cluster answers what policies read from the cluster (configMap and
	// apiCall context entries, CEL resource.Get/List), as at admission;
	// nil leaves those entries to values.
	Cluster cel.ResourceStore
	// Scheme, if set, gives typed objects for the kinds it knows: their
	// informers hold Go structs, a fraction of the memory of unstructured
	// maps (10,000 Pods); they are converted for each evaluation. Fields
	// the Go types do not know (an API server newer than Portcullis) are
	// then not seen by background evaluations. Other kinds are
	// unstructured.
	Scheme *runtime.Scheme
	// Client writes the reports (a direct client: reports are not cached).
	Client client.Client
	// Policies is the policy set to evaluate.
	Policies PolicySource
	// Engine evaluates (the admission engine, with its image verifiers).
	Engine *engine.Engine
	// Interval re-evaluates everything (default DefaultInterval).
	Interval time.Duration
	// FlushInterval throttles report writes (default DefaultFlushInterval).
	FlushInterval time.Duration
	// Workers evaluate in parallel (default: GOMAXPROCS, at least 2).
	Workers int
	// Reports tune the reports (ReportPasses, MaxBytes).
	Reports policyreport.Options
	// Observer, if set, learns of compliance changes.
	Observer Observer
	// ReturnMemory returns the memory of a burst of evaluations to the OS
	// (debug.FreeOSMemory) once the burst is done and its reports are
	// written: after the first evaluation of everything, a policy change
	// or a resync the controller is mostly idle, and the heap that held
	// the burst's garbage (up to twice the live heap) would otherwise stay
	// resident. It collects garbage and returns memory for the whole
	// process: serve sets it; a library caller may not want it.
	ReturnMemory bool
	// AfterBurst, if set, is called with ReturnMemory once a burst's
	// memory was returned: serve drops the executable's pages there
	// (internal/execpages), which a burst maps again.
	AfterBurst func()
	// Registry receives the controller's metrics (nil: not registered).
	Registry prometheus.Registerer
	// Logger logs (default: discarded).
	Logger *slog.Logger
}

// key names one watched object.
type key struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// work is what a queued object needs: a full evaluation, or only against
// the policies in ids (after those were added or edited).
type work struct {
	full bool
	ids  map[string]bool
}

// entry is the latest evaluation of one object.
type entry struct {
	uid     string
	res     engine.Resource
	results []stored
	since   time.Time
}

// Controller is the background controller. Create it with New; run it with
// Start (a controller-runtime Runnable needing leader election).
type Controller struct {
	opts    Options
	log     *slog.Logger
	writer  *policyreport.Writer
	metrics *metrics

	mu      sync.Mutex
	entries map[string]map[key]*entry // by namespace ("" : cluster scoped)
	dirty   map[string]bool
	pending map[key]*work
	// deferred is when the writes of a dirty namespace with evaluations
	// still pending were first put off (see flushable).
	deferred map[string]time.Time
	watched  map[schema.GroupVersionKind]bool
	prints   map[string]policyPrint
	// selected is the policies of the last partial evaluation.
	selected selection

	// burst counts the evaluations since memory was last returned.
	burst atomic.Int64
}

// returnMemoryAfter is the evaluations after which a burst's memory is
// worth returning to the OS (a full collection costs tens of
// milliseconds at 100 MB of heap).
const returnMemoryAfter = 1000

// New returns a Controller; it does nothing until Start.
func New(opts Options) (*Controller, error) {
	if opts.Cache == nil || opts.Mapper == nil || opts.Client == nil || opts.Policies == nil || opts.Engine == nil {
		return nil, errors.New("background: Cache, Mapper, Client, Policies and Engine are required")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Workers <= 0 {
		opts.Workers = max(2, goruntime.GOMAXPROCS(0))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, err
	}
	return &Controller{opts: opts, log: log.With("component", "background"), writer: &policyreport.Writer{Client: opts.Client},
		metrics: m, entries: map[string]map[key]*entry{}, dirty: map[string]bool{}, pending: map[key]*work{}, deferred: map[string]time.Time{}, watched: map[schema.GroupVersionKind]bool{}}, nil
}

// NeedLeaderElection makes the controller run on the elected leader only.
func (c *Controller) NeedLeaderElection() bool { return true }

// Start evaluates every watched object, then follows changes until ctx
// ends. It implements manager.Runnable.
func (c *Controller) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-c.opts.Policies.Loaded():
	}
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
		workqueue.TypedRateLimitingQueueConfig[key]{Name: "portcullis-background"})
	defer queue.ShutDown()
	policies := c.opts.Policies.Subscribe()

	if c.opts.Observer != nil {
		if err := c.seed(ctx); err != nil {
			c.log.Warn("seed compliance state from existing reports", "error", err)
		}
	}
	// Namespaces give namespaceSelector labels: when a namespace's labels
	// change, what is in it is evaluated again.
	nsInformer, err := c.opts.Cache.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("background: watch namespaces: %w", err)
	}
	if _, err := nsInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(o, n any) {
			oldNS, ok1 := o.(*corev1.Namespace)
			newNS, ok2 := n.(*corev1.Namespace)
			if ok1 && ok2 && !maps.Equal(oldNS.Labels, newNS.Labels) {
				c.enqueueNamespace(queue, newNS.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("background: watch namespaces: %w", err)
	}
	set := c.opts.Policies.Current()
	c.mu.Lock()
	c.prints = prints(set, c.opts.Mapper)
	c.mu.Unlock()
	if err := c.watch(ctx, set, queue); err != nil {
		return err
	}

	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for c.next(ctx, queue) {
			}
		})
	}
	defer wg.Wait()
	defer queue.ShutDown()

	flush := time.NewTicker(c.opts.FlushInterval)
	defer flush.Stop()
	resync := time.NewTicker(c.opts.Interval)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-flush.C:
			c.flush(ctx)
			c.releaseAfterBurst(queue)
		case <-resync.C:
			c.enqueueWhere(queue, func(schema.GroupVersionKind) bool { return true }, nil)
		case <-policies:
			set := c.opts.Policies.Current()
			if err := c.watch(ctx, set, queue); err != nil {
				c.log.Error("watch the kinds of the new policies", "error", err)
			}
			cur := prints(set, c.opts.Mapper)
			c.mu.Lock()
			d := diff(c.prints, cur)
			c.prints = cur
			c.mu.Unlock()
			if d.empty() {
				continue
			}
			c.log.Info("policies changed: re-evaluating what they match against them", "changed", len(d.changed), "removed", len(d.removed))
			if len(d.removed) > 0 {
				c.announce(ctx, c.dropPolicies(d.removed), time.Now())
			}
			if len(d.changed) > 0 {
				c.enqueueWhere(queue, d.kinds.has, d.changed)
			}
		}
	}
}

// watch starts informers for the kinds set can match that are not watched
// yet; their existing objects arrive as adds.
func (c *Controller) watch(ctx context.Context, set *policy.Set, queue workqueue.TypedRateLimitingInterface[key]) error {
	for _, gvk := range watchedKinds(set, c.opts.Mapper) {
		c.mu.Lock()
		seen := c.watched[gvk]
		c.watched[gvk] = true
		c.mu.Unlock()
		if seen {
			continue
		}
		inf, err := c.opts.Cache.GetInformer(ctx, c.newObject(gvk))
		if err != nil {
			c.log.Warn("cannot watch a kind the policies match", "kind", gvk.String(), "error", err)
			continue
		}
		enqueue := func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if m, ok := o.(metav1Object); ok {
				c.enqueue(queue, key{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()}, nil)
			}
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, o any) { enqueue(o) },
			DeleteFunc: enqueue,
		}); err != nil {
			return fmt.Errorf("background: watch %s: %w", gvk, err)
		}
	}
	return nil
}

// newObject returns an empty object of kind gvk to cache and read: typed
// when the scheme knows the kind, unstructured otherwise.
func (c *Controller) newObject(gvk schema.GroupVersionKind) client.Object {
	if c.opts.Scheme != nil && c.opts.Scheme.Recognizes(gvk) {
		if o, err := c.opts.Scheme.New(gvk); err == nil {
			if co, ok := o.(client.Object); ok {
				return co
			}
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

// asUnstructured returns obj as the engine reads it (JSON-shaped maps).
func asUnstructured(obj client.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

type metav1Object interface {
	GetNamespace() string
	GetName() string
}

// enqueue queues k for a full evaluation (ids nil) or for an evaluation
// against the policies ids only; a full evaluation pending wins.
func (c *Controller) enqueue(queue workqueue.TypedRateLimitingInterface[key], k key, ids map[string]bool) {
	c.mu.Lock()
	c.addPending(k, ids)
	c.mu.Unlock()
	queue.Add(k)
}

// addPending records what k needs; c.mu is held.
func (c *Controller) addPending(k key, ids map[string]bool) {
	w := c.pending[k]
	switch {
	case w == nil && ids == nil:
		c.pending[k] = &work{full: true}
	case w == nil:
		c.pending[k] = &work{ids: ids} // shared, never written
	case ids == nil:
		w.full, w.ids = true, nil
	case !w.full:
		merged := maps.Clone(w.ids)
		maps.Copy(merged, ids)
		w.ids = merged
	}
}

// enqueueNamespace queues every known object of namespace.
func (c *Controller) enqueueNamespace(queue workqueue.TypedRateLimitingInterface[key], namespace string) {
	c.mu.Lock()
	keys := slices.Collect(maps.Keys(c.entries[namespace]))
	for _, k := range keys {
		c.addPending(k, nil)
	}
	c.mu.Unlock()
	for _, k := range keys {
		queue.Add(k)
	}
}

// enqueueWhere queues every known object whose kind matches, for a full
// evaluation (ids nil) or against the policies ids.
func (c *Controller) enqueueWhere(queue workqueue.TypedRateLimitingInterface[key], match func(schema.GroupVersionKind) bool, ids map[string]bool) {
	c.mu.Lock()
	var keys []key
	for _, ns := range c.entries {
		for k := range ns {
			if match(k.gvk) {
				keys = append(keys, k)
				c.addPending(k, ids)
			}
		}
	}
	c.mu.Unlock()
	for _, k := range keys {
		queue.Add(k)
	}
}

// dropPolicies removes the results of the deleted policies (by policyID)
// from every object: nothing is evaluated again.
// It returns the objects whose results changed.
func (c *Controller) dropPolicies(removed map[string]bool) []dropped {
	now := time.Now()
	if c.opts.Observer != nil {
		for id := range removed {
			kind, key, _ := strings.Cut(id, "/")
			c.opts.Observer.PolicyDeleted(kind, key, now)
		}
	}
	var changed []dropped
	c.mu.Lock()
	defer c.mu.Unlock()
	for ns, m := range c.entries {
		for k, e := range m {
			if !slices.ContainsFunc(e.results, func(r stored) bool { return removed[r.policyID()] }) {
				continue
			}
			kept := make([]stored, 0, len(e.results))
			for _, r := range e.results {
				if !removed[r.policyID()] {
					kept = append(kept, r)
				}
			}
			// Entries are replaced, never edited: flush reads their
			// results outside the lock.
			m[k] = &entry{uid: e.uid, res: e.res, results: kept, since: now}
			c.dirty[ns] = true
			changed = append(changed, dropped{k, m[k]})
		}
	}
	return changed
}

// dropped is an object whose results dropPolicies changed.
type dropped struct {
	k key
	e *entry
}

// announce gives the observer the new results of the objects dropPolicies
// changed (read from the cache: the observer wants the object too).
func (c *Controller) announce(ctx context.Context, changed []dropped, now time.Time) {
	if c.opts.Observer == nil {
		return
	}
	for _, d := range changed {
		cached := c.newObject(d.k.gvk)
		if err := c.opts.Cache.Get(ctx, types.NamespacedName{Namespace: d.k.namespace, Name: d.k.name}, cached); err != nil {
			continue // gone meanwhile: its deletion is reported
		}
		obj, err := asUnstructured(cached, d.k.gvk)
		if err != nil || string(obj.GetUID()) != d.e.uid {
			continue
		}
		c.opts.Observer.Changed(d.e.uid, obj.Object, unpack(d.e.results, d.e.res), now)
	}
}

func (c *Controller) next(ctx context.Context, queue workqueue.TypedRateLimitingInterface[key]) bool {
	k, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(k)
	stale, err := c.process(ctx, k)
	if stale {
		// The policies changed while it was evaluated, before its entry
		// existed for the change to re-queue it.
		c.enqueue(queue, k, nil)
	}
	if err != nil {
		if ctx.Err() == nil && queue.NumRequeues(k) < 5 {
			queue.AddRateLimited(k)
		}
		c.log.Warn("background evaluation", "kind", k.gvk.Kind, "namespace", k.namespace, "name", k.name, "error", err)
		return true
	}
	queue.Forget(k)
	return true
}

// process evaluates one object (or forgets it when it is gone); stale says
// the policy set changed during the evaluation.
func (c *Controller) process(ctx context.Context, k key) (stale bool, err error) {
	cached := c.newObject(k.gvk)
	// A typed object is read as the cache holds it, not deep-copied (17%
	// of the CPU of evaluating 10,000 Pods after a policy edit): it is
	// only read, by the conversion to maps, which copies it. An
	// unstructured object is the engine's input itself: it is copied.
	var opts []client.GetOption
	if _, ok := cached.(*unstructured.Unstructured); !ok {
		opts = append(opts, client.UnsafeDisableDeepCopy)
	}
	err = c.opts.Cache.Get(ctx, types.NamespacedName{Namespace: k.namespace, Name: k.name}, cached, opts...)
	if apierrors.IsNotFound(err) {
		c.forget(k)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var labels map[string]string
	if k.namespace != "" {
		// Only its labels are read (never written): no copy either.
		ns := &corev1.Namespace{}
		if err := c.opts.Cache.Get(ctx, types.NamespacedName{Name: k.namespace}, ns, client.UnsafeDisableDeepCopy); err == nil {
			labels = ns.Labels
		}
	}
	return c.evaluateObject(ctx, k, cached, labels)
}

// evaluateObject evaluates cached, the object of k as the cache holds it
// in a namespace with labels, against what its pending work asks for, and
// keeps the results; stale says the policy set changed meanwhile.
func (c *Controller) evaluateObject(ctx context.Context, k key, cached client.Object, labels map[string]string) (stale bool, err error) {
	obj, err := asUnstructured(cached, k.gvk)
	if err != nil {
		return false, err
	}
	set := c.opts.Policies.Current()
	if set == nil {
		return false, nil
	}
	uid := string(obj.GetUID())
	c.mu.Lock()
	w := c.pending[k]
	delete(c.pending, k)
	base := c.entries[k.namespace][k]
	c.mu.Unlock()
	in := engine.Input{Resource: obj.Object, Background: true, NamespaceLabels: labels}
	if c.opts.Cluster != nil {
		in.Cluster, in.Resources = c.opts.Cluster, c.opts.Cluster
	}
	start := time.Now()
	var results []engine.Result
	if w != nil && !w.full && base != nil && base.uid == uid {
		// Only some policies changed: evaluate against those and keep
		// the other policies' results.
		sub, keys := c.selected.of(set, w.ids)
		fresh := c.evaluate(ctx, sub, in, obj)
		results = make([]engine.Result, 0, len(base.results)+len(fresh))
		for _, r := range base.results {
			if m := r.meta(); !keys[policyKey{m.PolicyKind, m.Policy}] {
				results = append(results, r.result(base.res))
			}
		}
		results = append(results, fresh...)
	} else {
		results = c.evaluate(ctx, set, in, obj)
	}
	sortResults(results)
	c.metrics.evaluated.WithLabelValues(k.gvk.Kind).Inc()
	c.burst.Add(1)
	c.metrics.duration.Observe(time.Since(start).Seconds())

	res := engine.Resource{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	now := time.Now()
	c.mu.Lock()
	ns := c.entries[k.namespace]
	if ns == nil {
		ns = map[key]*entry{}
		c.entries[k.namespace] = ns
	}
	prev := ns[k]
	packed := pack(results)
	changed := prev == nil || prev.uid != uid || !slices.Equal(prev.results, packed)
	if changed {
		ns[k] = &entry{uid: uid, res: res, results: packed, since: now}
		c.dirty[k.namespace] = true
	}
	c.mu.Unlock()
	if changed && c.opts.Observer != nil {
		if prev != nil && prev.uid != uid {
			c.opts.Observer.Deleted(prev.uid, prev.res, now)
		}
		c.opts.Observer.Changed(uid, obj.Object, results, now)
	}
	return c.opts.Policies.Current() != set, nil
}

// evaluate runs the engine; a failure or a panic becomes an error result,
// never a crash or a silent pass.
func (c *Controller) evaluate(ctx context.Context, set *policy.Set, in engine.Input, obj *unstructured.Unstructured) (results []engine.Result) {
	res := engine.Resource{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	defer func() {
		if p := recover(); p != nil {
			c.metrics.panics.Inc()
			c.log.Error("panic evaluating a resource", "kind", res.Kind, "namespace", res.Namespace, "name", res.Name,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			results = []engine.Result{{Policy: "portcullis", Rule: "evaluation", Resource: res, Status: engine.StatusError,
				Message: fmt.Sprintf("evaluation failed: internal error: %v", p)}}
		}
	}()
	results, err := c.opts.Engine.Evaluate(ctx, set, in)
	if err != nil && ctx.Err() == nil {
		results = append(results, engine.Result{Policy: "portcullis", Rule: "evaluation", Resource: res, Status: engine.StatusError,
			Message: "evaluation failed: " + err.Error()})
	}
	return results
}

// sortResults orders results by policy, keeping the engine's order within
// a policy: a partial and a full evaluation give the same order.
func sortResults(results []engine.Result) {
	slices.SortStableFunc(results, func(a, b engine.Result) int {
		return cmp.Or(cmp.Compare(a.PolicyKind, b.PolicyKind), cmp.Compare(a.Policy, b.Policy))
	})
}

func (c *Controller) forget(k key) {
	c.mu.Lock()
	delete(c.pending, k)
	prev := c.entries[k.namespace][k]
	if prev != nil {
		delete(c.entries[k.namespace], k)
		if len(c.entries[k.namespace]) == 0 {
			delete(c.entries, k.namespace)
		}
		c.dirty[k.namespace] = true
	}
	c.mu.Unlock()
	if prev != nil && c.opts.Observer != nil {
		c.opts.Observer.Deleted(prev.uid, prev.res, time.Now())
	}
}

// releaseAfterBurst, once a burst of evaluations is done (nothing
// queued, pending or waiting to be written), drops the bookkeeping maps
// the burst grew (Go maps do not shrink) and, with Options.ReturnMemory,
// returns the free memory to the OS. It reports whether it did.
func (c *Controller) releaseAfterBurst(queue workqueue.TypedRateLimitingInterface[key]) bool {
	if c.burst.Load() < returnMemoryAfter || queue.Len() > 0 {
		return false
	}
	c.mu.Lock()
	idle := len(c.pending) == 0 && len(c.dirty) == 0
	if idle {
		c.pending = map[key]*work{}
		c.dirty = map[string]bool{}
		c.deferred = map[string]time.Time{}
	}
	c.mu.Unlock()
	if !idle {
		return false
	}
	n := c.burst.Swap(0)
	if c.opts.ReturnMemory {
		start := time.Now()
		debug.FreeOSMemory()
		if c.opts.AfterBurst != nil {
			c.opts.AfterBurst()
		}
		c.log.Debug("returned the memory of a burst of evaluations to the OS", "evaluations", n, "took", time.Since(start).String())
	}
	return true
}

// maxWriteDelay is how long at most the reports of a namespace wait for
// its pending evaluations (see flushable).
const maxWriteDelay = 5 * time.Second

// flushable takes the dirty namespaces whose reports are to be written
// now out of c.dirty; c.mu is held. A namespace with evaluations still
// pending (a burst: the first evaluation of everything, a policy change,
// a resync) waits until they are done, up to maxWriteDelay (or the flush
// interval, if longer) from the first flush that put it off: its report
// is then built and written once for the burst instead of at every
// flush while the burst runs, each time a little more complete. Each of
// those builds cost CPU and, four namespaces at a time, a transient
// 5-10 MB per namespace at 500 Pods (the results unpacked, the report
// as a map, the API server's answer) while the evaluations allocate.
func (c *Controller) flushable(now time.Time) []string {
	busy := map[string]bool{}
	for k := range c.pending {
		busy[k.namespace] = true
	}
	if c.deferred == nil {
		c.deferred = map[string]time.Time{}
	}
	wait := max(maxWriteDelay, c.opts.FlushInterval)
	var out []string
	for ns := range c.dirty {
		if busy[ns] {
			since, ok := c.deferred[ns]
			if !ok {
				c.deferred[ns] = now
				continue
			}
			if now.Sub(since) < wait {
				continue
			}
		}
		delete(c.deferred, ns)
		delete(c.dirty, ns)
		out = append(out, ns)
	}
	return out
}

// flushWorkers is how many namespaces' reports are written at once.
const flushWorkers = 4

// flush writes the reports of the namespaces whose results changed.
func (c *Controller) flush(ctx context.Context) {
	c.mu.Lock()
	dirty := c.flushable(time.Now())
	// Entries are replaced, never edited: they are read outside the lock,
	// and unpacked one entry per worker at a time (a namespace of 500
	// Pods unpacked at once is 4.7 MB).
	work := make([][]*entry, len(dirty))
	for i, ns := range dirty {
		work[i] = slices.Collect(maps.Values(c.entries[ns]))
	}
	c.mu.Unlock()
	workpool.Run(len(dirty), flushWorkers, func(i int) {
		ns := dirty[i]
		entries := make([]policyreport.Entry, len(work[i]))
		for j, e := range work[i] {
			entries[j] = policyreport.Entry{Resource: e.res, UID: e.uid, Results: each(e.results, e.res), Since: e.since}
		}
		st, err := c.writer.Sync(ctx, ns, policyreport.Build(ns, entries, c.opts.Reports))
		c.metrics.writes.WithLabelValues("created").Add(float64(st.Created))
		c.metrics.writes.WithLabelValues("updated").Add(float64(st.Updated))
		c.metrics.writes.WithLabelValues("deleted").Add(float64(st.Deleted))
		if err != nil {
			c.metrics.writes.WithLabelValues("failed").Inc()
			if ctx.Err() == nil {
				c.log.Warn("write policy reports", "namespace", ns, "error", err)
			}
			c.mu.Lock()
			c.dirty[ns] = true // again at the next flush
			c.mu.Unlock()
		}
	})
	if len(dirty) > 0 {
		c.updateGauges()
	}
}

// maxNamespaceLabels bounds the namespaces named in the violations gauge:
// the namespaces with the most violations keep their name, the others
// are summed under namespace "other" (cluster-scoped objects: "").
const maxNamespaceLabels = 50

// updateGauges recomputes the violation and resource gauges.
func (c *Controller) updateGauges() {
	type pk struct{ policy, severity, namespace string }
	counts := map[pk]int{}
	perNamespace := map[string]int{}
	total := 0
	c.mu.Lock()
	for ns, m := range c.entries {
		for _, e := range m {
			total++
			for _, r := range e.results {
				if r.status() == engine.StatusFail {
					m := r.meta()
					counts[pk{m.Policy, m.Severity, ns}]++
					perNamespace[ns]++
				}
			}
		}
	}
	c.mu.Unlock()
	named := namedNamespaces(perNamespace, maxNamespaceLabels)
	merged := map[pk]int{}
	for k, n := range counts {
		if !named[k.namespace] {
			k.namespace = "other"
		}
		merged[k] += n
	}
	c.metrics.violations.Reset()
	for k, n := range merged {
		c.metrics.violations.WithLabelValues(k.policy, k.severity, k.namespace).Set(float64(n))
	}
	c.metrics.resources.Set(float64(total))
}

// namedNamespaces returns the (at most limit) namespaces with the most
// violations, ties broken by name; cluster scope ("") is always named.
func namedNamespaces(perNamespace map[string]int, limit int) map[string]bool {
	names := slices.Collect(maps.Keys(perNamespace))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(perNamespace[b], perNamespace[a]), cmp.Compare(a, b))
	})
	named := map[string]bool{"": true}
	for _, ns := range names {
		if len(named) > limit {
			break
		}
		named[ns] = true
	}
	return named
}

// seed hands the failing results of the existing reports to the observer.
func (c *Controller) seed(ctx context.Context) error {
	failing := map[string][]engine.Result{}
	for _, kind := range []string{v1alpha2.KindPolicyReport, v1alpha2.KindClusterPolicyReport} {
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion(v1alpha2.APIVersion)
		list.SetKind(kind + "List")
		if err := c.opts.Client.List(ctx, list, client.MatchingLabels{policyreport.ManagedByLabel: policyreport.ManagedBy}); err != nil {
			return fmt.Errorf("list %ss: %w", kind, err)
		}
		for _, item := range list.Items {
			for _, r := range policyreport.Failing(item.Object) {
				failing[r.UID] = append(failing[r.UID], r.Result)
			}
		}
	}
	for uid, rs := range failing {
		c.opts.Observer.Seed(uid, rs)
	}
	return nil
}
