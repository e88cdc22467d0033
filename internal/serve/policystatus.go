package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Condition written on policy objects, as Kyverno does.
const (
	conditionReady   = "Ready"
	reasonSucceeded  = "Succeeded"
	reasonCompile    = "CompileFailed"
	eventReasonError = "PolicyError"
)

// policyStatus surfaces the load state of every policy on the object
// itself: status.conditions Ready=True/False with reason and message
// (when the CRD has the status subresource) and a Warning Event when a
// policy turns out broken. It runs on the leader only (one writer) after
// every swap of the policy set.
type policyStatus struct {
	cl       client.Client
	disc     discovery.DiscoveryInterface
	watcher  *policysource.Watcher
	recorder events.EventRecorder
	log      *slog.Logger

	mu sync.Mutex
	// hasStatus caches, per group/version/resource, whether the CRD
	// serves the status subresource.
	hasStatus map[schema.GroupVersionResource]bool
	// reported is the broken state last announced by an Event, per
	// policy UID, so each is announced once.
	reported map[string]string
}

// Start implements manager.Runnable.
func (p *policyStatus) Start(ctx context.Context) error {
	p.hasStatus = map[schema.GroupVersionResource]bool{}
	p.reported = map[string]string{}
	updates := p.watcher.Subscribe()
	select {
	case <-ctx.Done():
		return nil
	case <-p.watcher.Loaded():
	}
	for {
		p.sync(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-updates:
		}
	}
}

// sync writes the condition of every policy whose stored condition
// differs and emits the Events of newly broken policies.
func (p *policyStatus) sync(ctx context.Context) {
	states := p.watcher.States()
	present := make(map[string]bool, len(states))
	for _, st := range states {
		present[st.UID] = true
	}
	for uid := range p.reported { // deleted policies
		if !present[uid] {
			delete(p.reported, uid)
		}
	}
	for _, st := range states {
		if ctx.Err() != nil {
			return
		}
		if !st.Ready {
			msg := st.Message()
			if p.reported[st.UID] != msg {
				p.reported[st.UID] = msg
				p.recorder.Eventf(&corev1.ObjectReference{APIVersion: st.GVK.GroupVersion().String(), Kind: st.Kind,
					Namespace: st.Namespace, Name: st.Name, UID: types.UID(st.UID)}, nil, corev1.EventTypeWarning,
					eventReasonError, "Load", "%s", truncate(msg, maxEventNote))
			}
		} else {
			delete(p.reported, st.UID)
		}
		if err := p.writeCondition(ctx, st); err != nil {
			p.log.Warn("cannot write the policy's status condition", "policy", st.Key.String(), "error", err)
		}
	}
}

// writeCondition sets status.conditions[Ready] of the policy when it
// differs from the stored one (nothing without a status subresource).
func (p *policyStatus) writeCondition(ctx context.Context, st policysource.PolicyState) error {
	want := metav1.Condition{Type: conditionReady, Status: metav1.ConditionTrue, Reason: reasonSucceeded,
		Message: st.Message(), ObservedGeneration: st.Generation}
	if !st.Ready {
		want.Status, want.Reason = metav1.ConditionFalse, reasonCompile
		want.Message = truncate(want.Message, 32768)
	}
	if cur := meta.FindStatusCondition(st.Conditions, conditionReady); cur != nil && cur.Status == want.Status &&
		cur.Reason == want.Reason && cur.Message == want.Message && cur.ObservedGeneration == want.ObservedGeneration {
		return nil
	}
	ok, err := p.statusSubresource(st.GVK)
	if err != nil || !ok {
		return err
	}
	conds := append([]metav1.Condition(nil), st.Conditions...)
	meta.SetStatusCondition(&conds, want)
	patch, err := json.Marshal(statusPatch(st.GVK.Group, conds, st.Ready, want.Message))
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(st.GVK)
	u.SetNamespace(st.Namespace)
	u.SetName(st.Name)
	return client.IgnoreNotFound(p.cl.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)))
}

// statusPatch is the merge patch setting the conditions of a policy of
// group: status.conditions, or for the policies.kyverno.io kinds Kyverno's
// status.conditionStatus (conditions, ready and message), so that a
// Kyverno-installed CRD, whose schema knows only that shape, keeps them.
func statusPatch(group string, conds []metav1.Condition, ready bool, msg string) map[string]any {
	if group == policiesv1.Group {
		return map[string]any{"status": map[string]any{"conditionStatus": map[string]any{
			"conditions": conds, "ready": ready, "message": msg}}}
	}
	return map[string]any{"status": map[string]any{"conditions": conds}}
}

// statusSubresource reports whether the kind's CRD serves /status,
// logging once when it does not.
func (p *policyStatus) statusSubresource(gvk schema.GroupVersionKind) (bool, error) {
	resource := kinds.Lookup(gvk.GroupVersion().String(), gvk.Kind).Resource
	gvr := gvk.GroupVersion().WithResource(resource)
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok, known := p.hasStatus[gvr]; known {
		return ok, nil
	}
	list, err := p.disc.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if err != nil {
		return false, fmt.Errorf("discovery of %s: %w", gvk.GroupVersion(), err)
	}
	ok := false
	for _, r := range list.APIResources {
		if r.Name == resource+"/status" {
			ok = true
		}
	}
	p.hasStatus[gvr] = ok
	if !ok {
		p.log.Info("the policy CRD has no status subresource: load state goes to Events, metrics and /readyz only", "resource", gvr.String())
	}
	return ok, nil
}

// brokenPolicies exports the number of policies that do not compile, by
// kind and by what stands in for them.
type brokenPolicies struct{ w *policysource.Watcher }

var brokenDesc = prometheus.NewDesc("portcullis_policies_broken",
	"Policies in the cluster that do not compile, by kind and by what stands in for them (last-good, fail-closed, none).",
	[]string{"kind", "fallback"}, nil)

// Describe implements prometheus.Collector.
func (b brokenPolicies) Describe(ch chan<- *prometheus.Desc) { ch <- brokenDesc }

// Collect implements prometheus.Collector.
func (b brokenPolicies) Collect(ch chan<- prometheus.Metric) {
	type key struct{ kind, fallback string }
	n := map[key]int{}
	for _, s := range b.w.Broken() {
		n[key{s.Kind, string(s.Fallback)}]++
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(brokenDesc, prometheus.GaugeValue, float64(v), k.kind, k.fallback)
	}
}

// ignoredExceptions exports the number of PolicyExceptions outside the
// exceptions namespaces, which are not honoured.
type ignoredExceptions struct{ w *policysource.Watcher }

var ignoredExceptionsDesc = prometheus.NewDesc("portcullis_policy_exceptions_ignored",
	"PolicyExceptions in the cluster that are not honoured because their namespace is not an exceptions namespace (--exceptions-namespace).",
	nil, nil)

// Describe implements prometheus.Collector.
func (i ignoredExceptions) Describe(ch chan<- *prometheus.Desc) { ch <- ignoredExceptionsDesc }

// Collect implements prometheus.Collector.
func (i ignoredExceptions) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(ignoredExceptionsDesc, prometheus.GaugeValue, float64(len(i.w.IgnoredExceptions())))
}
