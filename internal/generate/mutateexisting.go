package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MutateFieldManager is the field manager of the updates of existing
// resources by mutate rules with targets.
const MutateFieldManager = "portcullis-mutate-existing"

// Mutate existing resources (Kyverno mutate rules with targets) run in
// the same controller and queue as generation, on the same trigger
// informers, as Kyverno runs both in its background controller:
//
//   - an object of a kind such a rule matches that is created, updated
//     or deleted (an informer event, the equivalent of Kyverno's
//     admission request; on DELETE only rules whose match names DELETE
//     apply) is evaluated in engine.PhaseMutateExisting, and each patched
//     target is written with an optimistic update (the resourceVersion it
//     was read at): a conflict retries the event, which reads the targets
//     again. Targets are read from the API server, uncached.
//   - objects that existed when the controller began to watch their kind
//     (the informer's replay of them), and updates the controller made itself (its own writes, as Kyverno skips its
//     background service account's requests), trigger nothing.
//   - a rule with mutateExistingOnPolicyUpdate (the rule's or the
//     policy's) is applied to every existing trigger when its policy is
//     created or the rule changes, and when the controller starts (as
//     Kyverno's policy controller does for the policies it finds).

// mutateInfo is what the controller remembers of a mutate rule with
// targets between policy sets.
type mutateInfo struct {
	print    string
	onUpdate bool
}

// mutateEvent is one event of a mutate-existing trigger.
type mutateEvent struct {
	// op is CREATE, UPDATE or DELETE.
	op       string
	obj, old client.Object
	// rules, when set, restricts the event to these rule IDs (a policy
	// update applies the changed rules only).
	rules map[string]bool
}

// mutateTriggerKinds resolves the kinds the mutate rules with targets of
// set match.
func mutateTriggerKinds(set *policy.Set, mapper meta.RESTMapper) map[schema.GroupVersionKind]bool {
	out := map[schema.GroupVersionKind]bool{}
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			if isMutateExisting(r) {
				matchKinds(r, mapper, out)
			}
		}
	}
	return out
}

func isMutateExisting(r *policy.Rule) bool {
	return r.Spec.Mutation != nil && len(r.Spec.Mutation.Targets) > 0
}

// mutateInfos indexes the mutate rules with targets of set.
func mutateInfos(set *policy.Set) map[string]mutateInfo {
	out := map[string]mutateInfo{}
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			if !isMutateExisting(r) {
				continue
			}
			onUpdate := p.Spec.Spec.MutateExistingOnPolicyUpdate
			if v := r.Spec.Mutation.MutateExistingOnPolicyUpdate; v != nil {
				onUpdate = *v
			}
			out[ruleID(p.Kind(), p.Key(), r.Name())] = mutateInfo{print: fingerprint(onUpdate, r.Spec), onUpdate: onUpdate}
		}
	}
	return out
}

// mutateEventOf returns the event to process for an informer event on m
// (of kind gvk), nil when there is none: m's kind triggers no mutate
// rule with targets, m existed before its kind was watched (the
// informer's replay), or the update changed nothing or was the controller's
// own write.
func (c *Controller) mutateEventOf(gvk schema.GroupVersionKind, op string, old, m client.Object) *mutateEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.mtriggers[gvk] {
		return nil
	}
	switch op {
	case "CREATE":
		if m.GetCreationTimestamp().Time.Before(c.since[gvk]) {
			return nil
		}
	case "UPDATE":
		if old == nil || old.GetResourceVersion() == m.GetResourceVersion() {
			return nil
		}
		key := writtenKey(gvk, m.GetNamespace(), m.GetName(), m.GetResourceVersion())
		if c.written[key] {
			delete(c.written, key)
			return nil
		}
	}
	return &mutateEvent{op: op, obj: m, old: old}
}

func writtenKey(gvk schema.GroupVersionKind, ns, name, rv string) string {
	return gvk.GroupKind().String() + "/" + ns + "/" + name + "@" + rv
}

// maxWritten bounds the memory of the controller's own writes (an entry
// is dropped when its update event is seen).
const maxWritten = 4096

// mutateRulesChanged applies the mutate rules with
// mutateExistingOnPolicyUpdate that are new or changed in set to every
// existing trigger of the kinds they match.
func (c *Controller) mutateRulesChanged(ctx context.Context, set *policy.Set) {
	cur := mutateInfos(set)
	c.mu.Lock()
	prev := c.mrules
	c.mrules = cur
	c.mu.Unlock()
	rules := map[string]bool{}
	for id, info := range cur {
		if old, ok := prev[id]; info.onUpdate && (!ok || old.print != info.print) {
			rules[id] = true
		}
	}
	if len(rules) == 0 {
		return
	}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			if rules[ruleID(p.Kind(), p.Key(), r.Name())] {
				matchKinds(r, c.opts.Mapper, kinds)
			}
		}
	}
	for gvk := range kinds {
		c.log.Info("mutate existing resources on policy update", "kind", gvk.String(), "rules", len(rules))
		c.enqueueMutateKind(ctx, gvk, rules)
	}
}

// enqueueMutateKind queues a CREATE event restricted to rules for every
// object of kind gvk in the cache.
func (c *Controller) enqueueMutateKind(ctx context.Context, gvk schema.GroupVersionKind, rules map[string]bool) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	list := client.ObjectList(l)
	if c.opts.Scheme != nil && c.opts.Scheme.Recognizes(gvk) {
		if obj, err := c.opts.Scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List")); err == nil {
			if ol, ok := obj.(client.ObjectList); ok {
				list = ol
			}
		}
	}
	if err := c.opts.Cache.List(ctx, list); err != nil {
		c.log.Warn("list mutate-existing triggers", "kind", gvk.String(), "error", err)
		return
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		c.log.Warn("list mutate-existing triggers", "kind", gvk.String(), "error", err)
		return
	}
	for _, o := range items {
		m, ok := o.(client.Object)
		if !ok || m.GetDeletionTimestamp() != nil {
			continue
		}
		c.q.Add(work{trigger: trigKey{gvk: gvk, namespace: m.GetNamespace(), name: m.GetName()},
			event: &mutateEvent{op: "CREATE", obj: m, rules: rules}})
	}
}

// mutateExisting evaluates the mutate rules with targets for one event of
// a trigger and updates the targets they patch.
func (c *Controller) mutateExisting(ctx context.Context, k trigKey, ev *mutateEvent) error {
	obj, err := toMap(k.gvk, ev.obj)
	if err != nil {
		return err
	}
	// Targets and the cluster reads of context entries (configMap,
	// apiCall) come from the API server.
	in := engine.Input{Resource: obj, Operation: ev.op, Resources: c.store, Cluster: c.store, Phase: engine.PhaseMutateExisting,
		NamespaceLabels: c.namespaceLabels(ctx, k.namespace)}
	switch ev.op {
	case "UPDATE":
		if ev.old != nil {
			if in.OldResource, err = toMap(k.gvk, ev.old); err != nil {
				return err
			}
		}
	case "DELETE":
		// Kyverno evaluates a deleted trigger as request.object too.
		in.OldResource = obj
	}
	results, err := c.opts.Engine.Evaluate(ctx, c.opts.Policies.Current(), in)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", k, err)
	}
	var errs []error
	for _, r := range results {
		id := ruleID(r.PolicyKind, r.Policy, r.Rule)
		if ev.rules != nil && !ev.rules[id] {
			continue
		}
		switch {
		case r.Status == engine.StatusError:
			errs = append(errs, fmt.Errorf("%s: %s", id, r.Message))
		case r.Status == engine.StatusPass && r.Patched != "":
			if err := c.update(ctx, r); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// update writes one patched target (an optimistic update at the
// resourceVersion the engine read it at) and remembers the write.
func (c *Controller) update(ctx context.Context, r engine.Result) error {
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(r.Patched), &u.Object); err != nil {
		return fmt.Errorf("decode the patched target %s: %w", r.Target, err)
	}
	if err := c.opts.Client.Update(ctx, u, client.FieldOwner(MutateFieldManager)); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("update target %s: changed since it was read: %w", r.Target, err)
		}
		return fmt.Errorf("update target %s: %w", r.Target, err)
	}
	c.log.Info("mutated an existing resource", "target", r.Target.String(), "policy", r.Policy, "rule", r.Rule, "trigger", r.Resource.String())
	gvk := u.GroupVersionKind()
	c.mu.Lock()
	if len(c.written) >= maxWritten {
		clear(c.written)
	}
	c.written[writtenKey(gvk, u.GetNamespace(), u.GetName(), u.GetResourceVersion())] = true
	c.mu.Unlock()
	return nil
}
