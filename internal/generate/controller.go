package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FieldManager is the server-side apply field manager of generated
// objects.
const FieldManager = "portcullis-generate"

// DefaultInterval re-reconciles every trigger (Options.Interval).
const DefaultInterval = 10 * time.Minute

// PolicySource gives the current policy set and says when it changes
// (policysource.Watcher).
type PolicySource interface {
	Current() *policy.Set
	// Subscribe returns a channel that receives a value after each swap.
	Subscribe() <-chan struct{}
	// Loaded is closed once the first set is compiled.
	Loaded() <-chan struct{}
}

// Options configure a Controller.
type Options struct {
	// Cache serves the triggers and the generated objects (the manager's
	// cache).
	Cache cache.Cache
	// Mapper resolves kinds.
	Mapper meta.RESTMapper
	// Scheme, if set, caches the kinds it knows as Go types (shared with
	// the background controller's informers).
	Scheme *runtime.Scheme
	// Client writes generated objects and lists them by label (a direct,
	// uncached client).
	Client client.Client
	// Reader reads clone sources and answers GeneratingPolicies'
	// resource.Get (default Client).
	Reader client.Reader
	// Policies is the policy set.
	Policies PolicySource
	// Engine evaluates.
	Engine *engine.Engine
	// Interval reconciles every trigger again (default DefaultInterval).
	Interval time.Duration
	// Logger logs (default: discarded).
	Logger *slog.Logger
}

// trigKey names a trigger.
type trigKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

func (k trigKey) String() string {
	return fmt.Sprintf("%s %s/%s", k.gvk.Kind, k.namespace, k.name)
}

// objRef names a generated object or a clone source.
type objRef struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// owned is what the controller knows of an object it generated.
type owned struct {
	ruleID           string
	sync, withPolicy bool
}

// ruleInfo is what the controller remembers of a generate rule (or
// GeneratingPolicy) between policy sets.
type ruleInfo struct {
	print      string
	withPolicy bool
	policyKind string
	policy     string // key
	rule       string
	kinds      []schema.GroupVersionKind // the static kinds it generates
}

// Controller creates and keeps generated objects. It is a leader-only
// controller-runtime Runnable; create it with NewController.
//
// For every trigger (an object of a kind the generate rules and
// GeneratingPolicies match; watched through the manager's cache) it
// computes the objects to exist (Desired, evaluated as a CREATE of the
// trigger as it is now) and writes them through the API server:
//
//   - synchronized rules (generate.synchronize, a GeneratingPolicy's
//     evaluation.synchronize) are applied server-side (field manager
//     FieldManager, forced): applying is idempotent, needs no
//     resourceVersion, and restores every field the rule sets when someone
//     edits it. The controller watches the generated objects (by their
//     generate labels) and the clone sources and reconciles the trigger
//     when one changes or goes; a generated object that a rule no longer
//     wants (preconditions no longer hold) and every generated object of a
//     deleted trigger are deleted.
//   - other rules create the object once (left alone if it exists, not
//     re-created when deleted, as Kyverno does; the memory of what was
//     created is per process, so a leader change may re-create a deleted
//     one).
//
// A rule generates for a trigger created after its policy, or for every
// trigger when it has generateExisting (as Kyverno's admission-time and
// generate-existing paths do). When a policy or rule is deleted, the
// objects of synchronized data rules are deleted unless
// orphanDownstreamOnPolicyDelete; clones are kept.
type Controller struct {
	opts  Options
	log   *slog.Logger
	store ClusterResources

	mu sync.Mutex
	// watched are the kinds with an informer (triggers, generated
	// objects, clone sources).
	watched map[schema.GroupVersionKind]bool
	// triggers are the kinds that trigger generation.
	triggers map[schema.GroupVersionKind]bool
	// owned are the objects generated per trigger.
	owned map[trigKey]map[objRef]owned
	// byUID finds a trigger from the trigger-uid label.
	byUID map[string]trigKey
	// sources are the triggers that cloned each source.
	sources map[objRef]map[trigKey]bool
	// created remembers non-synchronized objects already created:
	// "uid/ruleID/kind/ns/name".
	created map[string]bool
	rules   map[string]ruleInfo
	// mtriggers are the kinds that trigger mutate rules with targets;
	// mrules those rules (see mutateexisting.go).
	mtriggers map[schema.GroupVersionKind]bool
	mrules    map[string]mutateInfo
	// since is when each kind's event handler was added: an object of
	// the kind created since then is a CREATE, an older one (the
	// informer's replay of what exists) is not.
	since map[schema.GroupVersionKind]time.Time
	// written are the objects this controller updated, by
	// "kind/namespace/name@resourceVersion": their update events are its
	// own, which trigger nothing (as Kyverno skips its background
	// controller's requests).
	written map[string]bool
	// q is the work queue, set by Start before anything is watched.
	q queue
}

// NewController returns a Controller; it does nothing until Start.
func NewController(opts Options) (*Controller, error) {
	if opts.Cache == nil || opts.Mapper == nil || opts.Client == nil || opts.Policies == nil || opts.Engine == nil {
		return nil, errors.New("generate: Cache, Mapper, Client, Policies and Engine are required")
	}
	if opts.Reader == nil {
		opts.Reader = opts.Client
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{opts: opts, log: log.With("component", "generate"),
		store:   ClusterResources{Reader: opts.Reader, Mapper: opts.Mapper},
		watched: map[schema.GroupVersionKind]bool{}, triggers: map[schema.GroupVersionKind]bool{},
		owned: map[trigKey]map[objRef]owned{}, byUID: map[string]trigKey{}, sources: map[objRef]map[trigKey]bool{},
		created: map[string]bool{}, rules: map[string]ruleInfo{},
		mtriggers: map[schema.GroupVersionKind]bool{}, mrules: map[string]mutateInfo{}, written: map[string]bool{},
		since: map[schema.GroupVersionKind]time.Time{}}, nil
}

// NeedLeaderElection makes the controller run on the elected leader only.
func (c *Controller) NeedLeaderElection() bool { return true }

type queue = workqueue.TypedRateLimitingInterface[work]

// work is one item of the queue: a trigger to reconcile (generate), or,
// with event set, one event of a mutate-existing trigger to process.
type work struct {
	trigger trigKey
	event   *mutateEvent
}

// Start follows triggers, generated objects, clone sources and policy
// changes until ctx ends. It implements manager.Runnable.
func (c *Controller) Start(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-c.opts.Policies.Loaded():
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[work](),
		workqueue.TypedRateLimitingQueueConfig[work]{Name: "portcullis-generate"})
	defer q.ShutDown()
	c.q = q
	policies := c.opts.Policies.Subscribe()
	set := c.opts.Policies.Current()
	c.mu.Lock()
	c.rules = c.ruleInfos(set)
	c.mu.Unlock()
	c.adopt(ctx, set)
	c.watchTriggers(ctx, set)
	c.mutateRulesChanged(ctx, set)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer q.ShutDown()
	for range 2 {
		wg.Go(func() {
			for c.next(ctx, q) {
			}
		})
	}
	resync := time.NewTicker(c.opts.Interval)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-resync.C:
			c.enqueueKinds(ctx)
		case <-policies:
			c.policiesChanged(ctx)
		}
	}
}

// policiesChanged deletes what deleted rules leave behind (when they
// say so), watches new trigger kinds and reconciles the triggers of the
// kinds changed rules match.
func (c *Controller) policiesChanged(ctx context.Context) {
	set := c.opts.Policies.Current()
	cur := c.ruleInfos(set)
	c.mu.Lock()
	prev := c.rules
	c.rules = cur
	c.mu.Unlock()
	changed := false
	for id, old := range prev {
		now, ok := cur[id]
		if !ok {
			c.log.Info("generate rule removed", "rule", id, "deleteGenerated", old.withPolicy)
			if old.withPolicy {
				c.deleteRuleObjects(ctx, old)
			}
			c.forgetRule(id)
			continue
		}
		if now.print != old.print {
			changed = true
		}
	}
	for id := range cur {
		if _, ok := prev[id]; !ok {
			changed = true
		}
	}
	c.watchTriggers(ctx, set)
	c.mutateRulesChanged(ctx, set)
	if changed {
		c.enqueueKinds(ctx)
	}
}

// ruleInfos indexes the generate rules and GeneratingPolicies of set.
func (c *Controller) ruleInfos(set *policy.Set) map[string]ruleInfo {
	out := map[string]ruleInfo{}
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			if r.Generate == nil {
				continue
			}
			info := ruleInfo{print: fingerprint(p.Spec.Spec.GenerateExisting, r.Spec), withPolicy: r.Generate.DeleteOnPolicyDelete(),
				policyKind: p.Kind(), policy: p.Key(), rule: r.Name()}
			pats := []struct{ apiVersion, kind string }{{r.Generate.Spec.APIVersion, r.Generate.Spec.Kind}}
			for _, fe := range r.Generate.Spec.ForEach {
				pats = append(pats, struct{ apiVersion, kind string }{fe.APIVersion, fe.Kind})
			}
			for _, pt := range pats {
				if pt.kind == "" || strings.Contains(pt.kind+pt.apiVersion, "{{") {
					continue
				}
				av := pt.apiVersion
				if av == "" {
					av = "v1"
				}
				if gv, err := schema.ParseGroupVersion(av); err == nil {
					info.kinds = append(info.kinds, gv.WithKind(pt.kind))
				}
			}
			out[ruleID(p.Kind(), p.Key(), r.Name())] = info
		}
	}
	for _, gp := range set.Generating {
		out[ruleID(policy.KindGeneratingPolicy, gp.Name(), "")] = ruleInfo{print: fingerprint(gp.Spec.Spec, nil),
			withPolicy: gp.DeleteOnPolicyDelete(), policyKind: policy.KindGeneratingPolicy, policy: gp.Name()}
	}
	return out
}

func ruleID(kind, key, rule string) string { return kind + "/" + key + "/" + rule }

func fingerprint(a, b any) string {
	data, _ := json.Marshal([]any{a, b})
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// triggerKinds resolves the kinds the generate rules and GeneratingPolicies
// of set match (wildcards are not watched).
func triggerKinds(set *policy.Set, mapper meta.RESTMapper) map[schema.GroupVersionKind]bool {
	out := map[schema.GroupVersionKind]bool{}
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			if r.Generate != nil {
				matchKinds(r, mapper, out)
			}
		}
	}
	for _, gp := range set.Generating {
		mc := gp.Spec.Spec.MatchConstraints
		if mc == nil {
			continue
		}
		for _, rr := range mc.ResourceRules {
			for _, res := range rr.Resources {
				if strings.Contains(res, "/") || res == "*" {
					continue
				}
				groups := rr.APIGroups
				if len(groups) == 0 {
					groups = []string{""}
				}
				for _, g := range groups {
					if g == "*" {
						continue
					}
					gvr := schema.GroupVersionResource{Group: g, Resource: res}
					if len(rr.APIVersions) == 1 && rr.APIVersions[0] != "*" {
						gvr.Version = rr.APIVersions[0]
					}
					if gvk, err := mapper.KindFor(gvr); err == nil {
						out[gvk] = true
					}
				}
			}
		}
	}
	return out
}

// matchKinds adds the kinds a rule's match names to out (wildcards and
// subresources are not watched).
func matchKinds(r *policy.Rule, mapper meta.RESTMapper, out map[schema.GroupVersionKind]bool) {
	if r.Match == nil {
		return
	}
	for _, f := range append(append([]policy.Filter(nil), r.Match.Any...), r.Match.All...) {
		for _, sel := range f.Kinds {
			if strings.ContainsAny(sel.Kind+sel.Group+sel.Version, "*?") || sel.Subresource != "" {
				continue
			}
			if sel.AnyGroupVersion {
				if ms, err := mapper.RESTMappings(schema.GroupKind{Kind: sel.Kind}); err == nil {
					for _, m := range ms {
						out[m.GroupVersionKind] = true
					}
				}
				continue
			}
			if m, err := mapper.RESTMapping(schema.GroupKind{Group: sel.Group, Kind: sel.Kind}, sel.Version); err == nil {
				out[m.GroupVersionKind] = true
			}
		}
	}
}

// watchTriggers starts informers on the trigger kinds of set.
func (c *Controller) watchTriggers(ctx context.Context, set *policy.Set) {
	for gvk := range triggerKinds(set, c.opts.Mapper) {
		c.mu.Lock()
		c.triggers[gvk] = true
		c.mu.Unlock()
		c.watch(ctx, gvk)
	}
	for gvk := range mutateTriggerKinds(set, c.opts.Mapper) {
		c.mu.Lock()
		c.mtriggers[gvk] = true
		c.mu.Unlock()
		c.watch(ctx, gvk)
	}
}

// watch starts one informer for gvk (once) whose events enqueue the
// triggers concerned: the object itself when it is a trigger, the
// trigger named by its generate labels when it is a generated object,
// and the triggers that cloned it when it is a clone source.
func (c *Controller) watch(ctx context.Context, gvk schema.GroupVersionKind) {
	c.mu.Lock()
	seen := c.watched[gvk]
	c.watched[gvk] = true
	c.mu.Unlock()
	if seen {
		return
	}
	// Not blocking: an informer whose list is forbidden (a kind the
	// chart does not grant) would never sync and hold the caller.
	inf, err := c.opts.Cache.GetInformer(ctx, c.newObject(gvk), cache.BlockUntilSynced(false))
	if err != nil {
		c.log.Warn("cannot watch a kind", "kind", gvk.String(), "error", err)
		c.mu.Lock()
		delete(c.watched, gvk)
		c.mu.Unlock()
		return
	}
	handle := func(op string, old, o any) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		m, ok := o.(client.Object)
		if !ok {
			return
		}
		for _, k := range c.affected(gvk, m) {
			c.q.Add(work{trigger: k})
		}
		oldObj, _ := old.(client.Object)
		if ev := c.mutateEventOf(gvk, op, oldObj, m); ev != nil {
			c.q.Add(work{trigger: trigKey{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()}, event: ev})
		}
	}
	c.mu.Lock()
	c.since[gvk] = time.Now().Truncate(time.Second)
	c.mu.Unlock()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { handle("CREATE", nil, o) },
		UpdateFunc: func(old, o any) { handle("UPDATE", old, o) },
		DeleteFunc: func(o any) { handle("DELETE", nil, o) },
	}); err != nil {
		c.log.Warn("cannot watch a kind", "kind", gvk.String(), "error", err)
	}
}

// affected returns the triggers an event on m (of kind gvk) concerns.
func (c *Controller) affected(gvk schema.GroupVersionKind, m client.Object) []trigKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []trigKey
	ref := objRef{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()}
	if c.triggers[gvk] {
		out = append(out, trigKey{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()})
	}
	if l := m.GetLabels(); l[LabelManagedBy] == ManagedBy && l[LabelPolicyKind] != "" {
		if k, ok := c.triggerOf(l); ok {
			if o, ok := c.owned[k][ref]; ok && o.sync {
				out = append(out, k)
			}
		}
	}
	for k := range c.sources[ref] {
		out = append(out, k)
	}
	return out
}

// triggerOf finds the trigger of a generated object from its labels
// (trigger-uid first, then trigger-* names); c.mu is held.
func (c *Controller) triggerOf(l map[string]string) (trigKey, bool) {
	if k, ok := c.byUID[l[LabelTriggerUID]]; ok {
		return k, true
	}
	if l[LabelTriggerKind] == "" || l[LabelTriggerName] == "" {
		return trigKey{}, false
	}
	return trigKey{gvk: schema.GroupVersionKind{Group: l[LabelTriggerGroup], Version: l[LabelTriggerVersion], Kind: l[LabelTriggerKind]},
		namespace: l[LabelTriggerNamespace], name: l[LabelTriggerName]}, true
}

// enqueueKinds queues every trigger in the cache of the trigger kinds.
func (c *Controller) enqueueKinds(ctx context.Context) {
	c.mu.Lock()
	var gvks []schema.GroupVersionKind
	for g := range c.triggers {
		gvks = append(gvks, g)
	}
	c.mu.Unlock()
	for _, gvk := range gvks {
		c.enqueueKind(ctx, gvk)
	}
}

// listTimeout bounds a read from the cache, which waits for the
// informer to sync: one whose list is forbidden never does.
const listTimeout = 10 * time.Second

// enqueueKind queues every trigger of kind gvk in the cache.
func (c *Controller) enqueueKind(ctx context.Context, gvk schema.GroupVersionKind) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	var list client.ObjectList
	listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	if c.opts.Scheme != nil && c.opts.Scheme.Recognizes(gvk) {
		if obj, err := c.opts.Scheme.New(listGVK); err == nil {
			list, _ = obj.(client.ObjectList)
		}
	}
	if list == nil {
		u := &unstructured.UnstructuredList{}
		u.SetGroupVersionKind(listGVK)
		list = u
	}
	if err := c.opts.Cache.List(ctx, list); err != nil {
		c.log.Warn("list triggers", "kind", gvk.String(), "error", err)
		return
	}
	_ = meta.EachListItem(list, func(o runtime.Object) error {
		if m, ok := o.(client.Object); ok {
			c.q.Add(work{trigger: trigKey{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()}})
		}
		return nil
	})
}

// maxMutateRetries bounds the retries of one mutate-existing event (a
// trigger's generate reconcile is retried until it succeeds).
const maxMutateRetries = 8

func (c *Controller) next(ctx context.Context, q queue) bool {
	w, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(w)
	err := c.processSafe(ctx, w)
	switch {
	case err == nil:
		q.Forget(w)
	case ctx.Err() != nil:
	case w.event != nil && q.NumRequeues(w) >= maxMutateRetries:
		c.log.Warn("mutate existing resources: giving up", "trigger", w.trigger.String(), "operation", w.event.op, "error", err)
		q.Forget(w)
	case w.event != nil:
		c.log.Warn("mutate existing resources", "trigger", w.trigger.String(), "operation", w.event.op, "error", err)
		q.AddRateLimited(w)
	default:
		c.log.Warn("generate for a trigger", "trigger", w.trigger.String(), "error", err)
		q.AddRateLimited(w)
	}
	return true
}

func (c *Controller) processSafe(ctx context.Context, w work) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	if w.event != nil {
		return c.mutateExisting(ctx, w.trigger, w.event)
	}
	return c.reconcile(ctx, w.trigger)
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

// get reads a trigger from the cache as JSON-shaped maps (nil when it
// does not exist or is being deleted).
func (c *Controller) get(ctx context.Context, k trigKey) (map[string]any, error) {
	obj := c.newObject(k.gvk)
	if err := c.opts.Cache.Get(ctx, client.ObjectKey{Namespace: k.namespace, Name: k.name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", k, err)
	}
	if obj.GetDeletionTimestamp() != nil {
		return nil, nil
	}
	return toMap(k.gvk, obj)
}

// toMap returns a cached object as JSON-shaped maps (a copy for typed
// objects; an unstructured object's own map, not to be modified).
func toMap(gvk schema.GroupVersionKind, obj client.Object) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return m, nil
}

// reconcile brings the generated objects of one trigger to what the
// policies want.
func (c *Controller) reconcile(ctx context.Context, k trigKey) error {
	obj, err := c.get(ctx, k)
	if err != nil {
		return err
	}
	if obj == nil {
		return c.triggerGone(ctx, k)
	}
	set := c.opts.Policies.Current()
	in := engine.Input{Resource: obj, Operation: "CREATE", Resources: c.store, NamespaceLabels: c.namespaceLabels(ctx, k.namespace)}
	desired, results, err := Desired(ctx, c.opts.Engine, set, in)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", k, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	uid := string(u.GetUID())
	created := u.GetCreationTimestamp().Time
	c.mu.Lock()
	prev := c.owned[k]
	c.mu.Unlock()
	// Rules that errored keep what they generated; rules that ran and
	// no longer want an object (skip, no match) let it go.
	failed := map[string]bool{}
	var errs []error
	for _, r := range results {
		if r.Status == engine.StatusError {
			id := ruleID(r.PolicyKind, r.Policy, r.Rule)
			failed[id] = true
			errs = append(errs, fmt.Errorf("%s: %s", id, r.Message))
		}
	}
	now := map[objRef]owned{}
	var sources []objRef
	for _, o := range desired {
		id := ruleID(o.PolicyKind, o.Policy, o.Rule)
		ref, err := c.ref(o)
		if err != nil {
			errs = append(errs, err)
			failed[id] = true
			continue
		}
		_, had := prev[ref]
		if !had && !c.inScope(set, o, created) {
			continue
		}
		if err := c.write(ctx, uid, id, ref, o); err != nil {
			errs = append(errs, err)
			failed[id] = true
			if !had {
				continue
			}
		}
		now[ref] = owned{ruleID: id, sync: o.Synchronize, withPolicy: o.DeleteWithPolicy}
		if o.Synchronize {
			if src, ok := sourceOf(o.Object); ok {
				sources = append(sources, src)
			}
		}
	}
	for ref, o := range prev {
		if _, keep := now[ref]; keep {
			continue
		}
		c.mu.Lock()
		_, ruleExists := c.rules[o.ruleID]
		c.mu.Unlock()
		if failed[o.ruleID] || !o.sync || !ruleExists {
			now[ref] = o
			continue
		}
		if err := c.delete(ctx, ref); err != nil {
			errs = append(errs, err)
			now[ref] = o
		}
	}
	c.remember(k, uid, now, sources)
	for ref, o := range now {
		if o.sync {
			c.watch(ctx, ref.gvk)
		}
	}
	for _, src := range sources {
		c.watch(ctx, src.gvk)
	}
	return errors.Join(errs...)
}

// namespaceLabels returns the labels of a namespace from the cache (nil
// for "" or when it cannot be read).
func (c *Controller) namespaceLabels(ctx context.Context, name string) map[string]string {
	if name == "" {
		return nil
	}
	ns := &corev1.Namespace{}
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	if err := c.opts.Cache.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil
	}
	return ns.Labels
}

// inScope reports whether a rule generates for this trigger: when the
// trigger was created after the rule's policy, or the rule generates for
// existing triggers.
func (c *Controller) inScope(set *policy.Set, o Object, triggerCreated time.Time) bool {
	var policyCreated time.Time
	existing := false
	if o.PolicyKind == policy.KindGeneratingPolicy {
		gp := set.GeneratingPolicy(o.Policy)
		if gp == nil {
			return false
		}
		policyCreated, existing = gp.Spec.CreationTimestamp.Time, gp.Existing()
	} else {
		p := set.Policy(o.Policy)
		if p == nil {
			return false
		}
		policyCreated = p.Spec.CreationTimestamp.Time
		for _, r := range p.Rules {
			if r.Name() == o.Rule && r.Generate != nil {
				existing = r.Generate.Existing
			}
		}
	}
	return existing || policyCreated.IsZero() || triggerCreated.IsZero() || !triggerCreated.Before(policyCreated)
}

// ref resolves the kind of a generated object.
func (c *Controller) ref(o Object) (objRef, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion())
	if err != nil {
		return objRef{}, fmt.Errorf("%s %s: apiVersion: %w", o.Kind(), o.Name(), err)
	}
	gvk := gv.WithKind(o.Kind())
	m, err := c.opts.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return objRef{}, fmt.Errorf("%s %s: %w", o.Kind(), o.Name(), err)
	}
	ns := o.Namespace()
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		ns = ""
	} else if ns == "" {
		return objRef{}, fmt.Errorf("%s %s is namespaced but has no namespace", o.Kind(), o.Name())
	}
	return objRef{gvk: gvk, namespace: ns, name: o.Name()}, nil
}

// write creates or applies one generated object.
func (c *Controller) write(ctx context.Context, uid, id string, ref objRef, o Object) error {
	u := &unstructured.Unstructured{Object: o.Object}
	u.SetNamespace(ref.namespace)
	if o.Synchronize {
		if err := c.opts.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", ref.gvk.Kind, ref.namespace, ref.name, err)
		}
		return nil
	}
	key := strings.Join([]string{uid, id, ref.gvk.Kind, ref.namespace, ref.name}, "/")
	c.mu.Lock()
	done := c.created[key]
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := c.opts.Client.Create(ctx, u, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s %s/%s: %w", ref.gvk.Kind, ref.namespace, ref.name, err)
	}
	c.mu.Lock()
	c.created[key] = true
	c.mu.Unlock()
	return nil
}

func (c *Controller) delete(ctx context.Context, ref objRef) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.gvk)
	u.SetNamespace(ref.namespace)
	u.SetName(ref.name)
	if err := c.opts.Client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s/%s: %w", ref.gvk.Kind, ref.namespace, ref.name, err)
	}
	c.log.Info("deleted a generated object", "kind", ref.gvk.Kind, "namespace", ref.namespace, "name", ref.name)
	return nil
}

// triggerGone deletes the synchronized objects of a deleted trigger.
func (c *Controller) triggerGone(ctx context.Context, k trigKey) error {
	c.mu.Lock()
	prev := c.owned[k]
	c.mu.Unlock()
	var errs []error
	kept := map[objRef]owned{}
	for ref, o := range prev {
		if !o.sync {
			continue
		}
		if err := c.delete(ctx, ref); err != nil {
			errs = append(errs, err)
			kept[ref] = o
		}
	}
	c.mu.Lock()
	if len(kept) > 0 {
		c.owned[k] = kept
	} else {
		delete(c.owned, k)
		for uid, key := range c.byUID {
			if key != k {
				continue
			}
			delete(c.byUID, uid)
			for ck := range c.created {
				if strings.HasPrefix(ck, uid+"/") {
					delete(c.created, ck)
				}
			}
		}
	}
	for src, ts := range c.sources {
		delete(ts, k)
		if len(ts) == 0 {
			delete(c.sources, src)
		}
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

// remember records what a trigger owns and the sources it cloned.
func (c *Controller) remember(k trigKey, uid string, now map[objRef]owned, sources []objRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(now) > 0 {
		c.owned[k] = now
	} else {
		delete(c.owned, k)
	}
	if uid != "" {
		c.byUID[uid] = k
	}
	for src, ts := range c.sources {
		delete(ts, k)
		if len(ts) == 0 {
			delete(c.sources, src)
		}
	}
	for _, src := range sources {
		if c.sources[src] == nil {
			c.sources[src] = map[trigKey]bool{}
		}
		c.sources[src][k] = true
	}
}

// sourceOf reads the source-* labels of a clone.
func sourceOf(obj map[string]any) (objRef, bool) {
	l := (&unstructured.Unstructured{Object: obj}).GetLabels()
	if l[engine.LabelSourceKind] == "" || l[engine.LabelSourceName] == "" {
		return objRef{}, false
	}
	return objRef{gvk: schema.GroupVersionKind{Group: l[engine.LabelSourceGroup], Version: l[engine.LabelSourceVersion], Kind: l[engine.LabelSourceKind]},
		namespace: l[engine.LabelSourceNamespace], name: l[engine.LabelSourceName]}, true
}

// forgetRule drops what the controller owns for a removed rule.
func (c *Controller) forgetRule(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, objs := range c.owned {
		for ref, o := range objs {
			if o.ruleID == id {
				delete(objs, ref)
			}
		}
		if len(objs) == 0 {
			delete(c.owned, k)
		}
	}
}

// deleteRuleObjects deletes every object a removed rule generated: those
// the controller knows of, and those its labels find among the kinds the
// rule generates (objects generated before a restart).
func (c *Controller) deleteRuleObjects(ctx context.Context, info ruleInfo) {
	id := ruleID(info.policyKind, info.policy, info.rule)
	refs := map[objRef]bool{}
	kindSet := map[schema.GroupVersionKind]bool{}
	for _, g := range info.kinds {
		kindSet[g] = true
	}
	c.mu.Lock()
	for _, objs := range c.owned {
		for ref, o := range objs {
			if o.ruleID == id {
				refs[ref] = true
				kindSet[ref.gvk] = true
			}
		}
	}
	c.mu.Unlock()
	ns, name, found := strings.Cut(info.policy, "/")
	if !found {
		ns, name = "", info.policy
	}
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, LabelPolicyKind: info.policyKind,
		LabelPolicyName: name, LabelPolicyNamespace: ns, LabelRuleName: info.rule})
	for gvk := range kindSet {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.opts.Client.List(ctx, l, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			c.log.Warn("list the objects of a removed generate rule", "rule", id, "kind", gvk.String(), "error", err)
			continue
		}
		for i := range l.Items {
			refs[objRef{gvk: gvk, namespace: l.Items[i].GetNamespace(), name: l.Items[i].GetName()}] = true
		}
	}
	for ref := range refs {
		if err := c.delete(ctx, ref); err != nil {
			c.log.Warn("delete an object of a removed generate rule", "rule", id, "error", err)
		}
	}
}

// adopt rebuilds what the controller owns from the generated objects
// that exist (after a restart or a leader change): objects labelled by
// this controller among the kinds the current rules generate.
func (c *Controller) adopt(ctx context.Context, set *policy.Set) {
	kindSet := map[schema.GroupVersionKind]bool{}
	c.mu.Lock()
	for _, info := range c.rules {
		for _, g := range info.kinds {
			kindSet[g] = true
		}
	}
	c.mu.Unlock()
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	for gvk := range kindSet {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.opts.Client.List(ctx, l, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			c.log.Warn("list generated objects", "kind", gvk.String(), "error", err)
			continue
		}
		for i := range l.Items {
			item := &l.Items[i]
			lb := item.GetLabels()
			if lb[LabelPolicyKind] == "" {
				continue
			}
			key := lb[LabelPolicyName]
			if ns := lb[LabelPolicyNamespace]; ns != "" {
				key = ns + "/" + key
			}
			id := ruleID(lb[LabelPolicyKind], key, lb[LabelRuleName])
			c.mu.Lock()
			info, known := c.rules[id]
			k, ok := c.triggerOf(lb)
			if ok && known {
				if c.owned[k] == nil {
					c.owned[k] = map[objRef]owned{}
				}
				sync := syncOf(set, lb[LabelPolicyKind], key, lb[LabelRuleName])
				c.owned[k][objRef{gvk: gvk, namespace: item.GetNamespace(), name: item.GetName()}] = owned{ruleID: id, sync: sync, withPolicy: info.withPolicy}
				if uid := lb[LabelTriggerUID]; uid != "" {
					c.byUID[uid] = k
				}
			}
			c.mu.Unlock()
		}
	}
}

func syncOf(set *policy.Set, kind, key, rule string) bool {
	if kind == policy.KindGeneratingPolicy {
		gp := set.GeneratingPolicy(key)
		return gp != nil && gp.Synchronize()
	}
	if p := set.Policy(key); p != nil {
		for _, r := range p.Rules {
			if r.Name() == rule && r.Generate != nil {
				return r.Generate.Synchronize()
			}
		}
	}
	return false
}
