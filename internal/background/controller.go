package background

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/sink/policyreport"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	DefaultWorkers       = 2
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
}

// Options configure a Controller.
type Options struct {
	// Cache serves the watched objects (the manager's cache).
	Cache cache.Cache
	// Mapper resolves the kinds the policies name.
	Mapper meta.RESTMapper
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
	// Workers evaluate in parallel (default DefaultWorkers).
	Workers int
	// Reports tune the reports (ReportPasses, MaxBytes).
	Reports policyreport.Options
	// Observer, if set, learns of compliance changes.
	Observer Observer
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

// entry is the latest evaluation of one object.
type entry struct {
	uid     string
	res     engine.Resource
	results []engine.Result
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
	watched map[schema.GroupVersionKind]bool
	prints  map[string]policyPrint
}

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
		opts.Workers = DefaultWorkers
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
		metrics: m, entries: map[string]map[key]*entry{}, dirty: map[string]bool{}, watched: map[schema.GroupVersionKind]bool{}}, nil
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
	// Namespaces give namespaceSelector labels.
	if _, err := c.opts.Cache.GetInformer(ctx, &corev1.Namespace{}); err != nil {
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
		case <-resync.C:
			c.enqueueWhere(queue, func(schema.GroupVersionKind) bool { return true })
		case <-policies:
			set := c.opts.Policies.Current()
			if err := c.watch(ctx, set, queue); err != nil {
				c.log.Error("watch the kinds of the new policies", "error", err)
			}
			cur := prints(set, c.opts.Mapper)
			c.mu.Lock()
			ks, n := changedKinds(c.prints, cur)
			c.prints = cur
			c.mu.Unlock()
			if n > 0 {
				c.log.Info("policies changed: re-evaluating what they match", "policies", n)
				c.enqueueWhere(queue, ks.has)
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
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(gvk)
		inf, err := c.opts.Cache.GetInformer(ctx, obj)
		if err != nil {
			c.log.Warn("cannot watch a kind the policies match", "kind", gvk.String(), "error", err)
			continue
		}
		enqueue := func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if m, ok := o.(metav1Object); ok {
				queue.Add(key{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()})
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

type metav1Object interface {
	GetNamespace() string
	GetName() string
}

// enqueueWhere queues every known object whose kind matches.
func (c *Controller) enqueueWhere(queue workqueue.TypedRateLimitingInterface[key], match func(schema.GroupVersionKind) bool) {
	c.mu.Lock()
	var keys []key
	for _, ns := range c.entries {
		for k := range ns {
			if match(k.gvk) {
				keys = append(keys, k)
			}
		}
	}
	c.mu.Unlock()
	for _, k := range keys {
		queue.Add(k)
	}
}

func (c *Controller) next(ctx context.Context, queue workqueue.TypedRateLimitingInterface[key]) bool {
	k, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(k)
	if err := c.process(ctx, k); err != nil {
		if ctx.Err() == nil && queue.NumRequeues(k) < 5 {
			queue.AddRateLimited(k)
		}
		c.log.Warn("background evaluation", "kind", k.gvk.Kind, "namespace", k.namespace, "name", k.name, "error", err)
		return true
	}
	queue.Forget(k)
	return true
}

// process evaluates one object (or forgets it when it is gone).
func (c *Controller) process(ctx context.Context, k key) error {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(k.gvk)
	err := c.opts.Cache.Get(ctx, types.NamespacedName{Namespace: k.namespace, Name: k.name}, obj)
	if apierrors.IsNotFound(err) {
		c.forget(k)
		return nil
	}
	if err != nil {
		return err
	}
	set := c.opts.Policies.Current()
	if set == nil {
		return nil
	}
	in := engine.Input{Resource: obj.Object, Background: true}
	if k.namespace != "" {
		ns := &corev1.Namespace{}
		if err := c.opts.Cache.Get(ctx, types.NamespacedName{Name: k.namespace}, ns); err == nil {
			in.NamespaceLabels = ns.Labels
		}
	}
	start := time.Now()
	results := c.evaluate(ctx, set, in, obj)
	c.metrics.evaluated.WithLabelValues(k.gvk.Kind).Inc()
	c.metrics.duration.Observe(time.Since(start).Seconds())

	res := engine.Resource{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	uid := string(obj.GetUID())
	now := time.Now()
	c.mu.Lock()
	ns := c.entries[k.namespace]
	if ns == nil {
		ns = map[key]*entry{}
		c.entries[k.namespace] = ns
	}
	prev := ns[k]
	changed := prev == nil || prev.uid != uid || !slices.Equal(prev.results, results)
	if changed {
		ns[k] = &entry{uid: uid, res: res, results: results, since: now}
		c.dirty[k.namespace] = true
	}
	c.mu.Unlock()
	if changed && c.opts.Observer != nil {
		if prev != nil && prev.uid != uid {
			c.opts.Observer.Deleted(prev.uid, prev.res, now)
		}
		c.opts.Observer.Changed(uid, obj.Object, results, now)
	}
	return nil
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

func (c *Controller) forget(k key) {
	c.mu.Lock()
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

// flush writes the reports of the namespaces whose results changed.
func (c *Controller) flush(ctx context.Context) {
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = map[string]bool{}
	work := map[string][]policyreport.Entry{}
	for ns := range dirty {
		for _, e := range c.entries[ns] {
			work[ns] = append(work[ns], policyreport.Entry{Resource: e.res, UID: e.uid, Results: e.results, Since: e.since})
		}
	}
	c.mu.Unlock()
	for ns := range dirty {
		st, err := c.writer.Sync(ctx, ns, policyreport.Build(ns, work[ns], c.opts.Reports))
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
	}
	if len(dirty) > 0 {
		c.updateGauges()
	}
}

// updateGauges recomputes the violation and resource gauges.
func (c *Controller) updateGauges() {
	type pk struct{ policy, severity string }
	counts := map[pk]int{}
	total := 0
	c.mu.Lock()
	for _, ns := range c.entries {
		for _, e := range ns {
			total++
			for _, r := range e.results {
				if r.Status == engine.StatusFail {
					counts[pk{r.Policy, r.Severity}]++
				}
			}
		}
	}
	c.mu.Unlock()
	c.metrics.violations.Reset()
	for k, n := range counts {
		c.metrics.violations.WithLabelValues(k.policy, k.severity).Set(float64(n))
	}
	c.metrics.resources.Set(float64(total))
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
