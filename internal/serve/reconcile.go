package serve

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/policysource"
	"github.com/portcullis/portcullis/internal/webhookconfig"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Bounds of the retry delay after a failed apply.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// reconciler keeps the validating (and mutating) webhook configuration in
// step with the policy set and the serving CA. It runs on the leader only
// and is the only writer of the configurations: it applies when it
// starts, whenever the set or the CA changes, whenever a configuration it
// owns is edited or deleted by someone else (it watches them by name), after
// a failure (with backoff) and every ResyncInterval.
type reconciler struct {
	cl client.Client
	// cs watches the configurations (nil: no watch, resync only).
	cs      kubernetes.Interface
	watcher *policysource.Watcher
	o       Options
	log     *slog.Logger

	trigger chan struct{}
	// applied is closed after the first successful apply.
	applied   chan struct{}
	firstDone sync.Once

	mu sync.Mutex
	ca []byte
	// published is the CA of the last successful apply; changed is
	// closed (and replaced) after each successful apply.
	published []byte
	changed   chan struct{}
	running   bool
}

func (r *reconciler) init() {
	r.trigger = make(chan struct{}, 1)
	r.applied = make(chan struct{})
	r.changed = make(chan struct{})
}

func (r *reconciler) poke() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// setCA records the CA bundle to publish and asks for an apply when it
// changed. Every replica calls it (certificate sources run everywhere);
// only a running (leading) reconciler writes.
func (r *reconciler) setCA(b []byte) {
	r.mu.Lock()
	same := bytes.Equal(r.ca, b)
	if !same {
		r.ca = bytes.Clone(b)
	}
	r.mu.Unlock()
	if !same {
		r.poke()
	}
}

// waitCA waits (at most timeout) until ca is published, when this
// process is the one publishing.
func (r *reconciler) waitCA(ca []byte, timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		done := !r.running || bytes.Equal(r.published, ca)
		ch := r.changed
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			r.log.Warn("webhook configuration does not carry the new CA yet", "waited", timeout)
			return
		}
	}
}

// Start implements manager.Runnable.
func (r *reconciler) Start(ctx context.Context) error {
	r.mu.Lock()
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()
	updates := r.watcher.Subscribe()
	loaded := r.watcher.Loaded()
	if r.cs != nil {
		r.watchConfigurations(ctx)
	}
	resync := time.NewTicker(r.o.ResyncInterval)
	defer resync.Stop()
	retry := time.NewTimer(0) // apply at once
	defer retry.Stop()
	backoff := minRetry
	r.log.Info("reconciling webhook configurations", "name", r.o.ConfigurationName)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-loaded:
			loaded = nil
		case <-updates:
		case <-r.trigger:
		case <-resync.C:
		case <-retry.C:
		}
		if err := r.apply(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Error("apply webhook configuration", "error", err, "retryIn", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, maxRetry)
			continue
		}
		backoff = minRetry
	}
}

// apply writes the configurations for the current set and CA. It does
// nothing (successfully) until both are known.
func (r *reconciler) apply(ctx context.Context) error {
	r.mu.Lock()
	ca := r.ca
	r.mu.Unlock()
	if len(ca) == 0 || !r.watcher.Ready() {
		return nil
	}
	o := r.o
	wo := webhookconfig.Options{
		Name: o.ConfigurationName, Service: o.ServiceName, Namespace: o.Namespace, URL: o.WebhookURL,
		ExcludeNamespaces: o.ExcludeNamespaces, PolicyGroup: o.PolicyGroup, DefaultTimeoutSeconds: o.TimeoutSeconds,
		DefaultFailurePolicy: admissionregistrationv1.FailurePolicyType(o.FailurePolicy),
		ImagePolicies:        len(r.watcher.ImagePolicies()) > 0 || r.watcher.Current().HasVerifyImages(),
		WatchImagePolicies:   o.ImagePolicies,
		WatchExceptions:      len(o.ExceptionNamespaces) > 0,
		CELPolicyResources:   celResources(r.watcher.WatchedKinds()),
	}
	desired := webhookconfig.Desired(r.watcher.Current(), ca, wo)
	var owners []metav1.OwnerReference
	if o.OwnerClusterRole != "" {
		owner := &rbacv1.ClusterRole{}
		if err := r.cl.Get(ctx, client.ObjectKey{Name: o.OwnerClusterRole}, owner); err != nil {
			return fmt.Errorf("owner ClusterRole %s: %w", o.OwnerClusterRole, err)
		}
		owners = []metav1.OwnerReference{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole",
			Name: owner.Name, UID: owner.UID}}
		desired.OwnerReferences = owners
	}
	if err := webhookconfig.Apply(ctx, r.cl, desired); err != nil {
		return err
	}
	if o.Mutating {
		if o.MutatingConfigurationName != "" {
			wo.Name = o.MutatingConfigurationName
		}
		mutating := webhookconfig.DesiredMutating(r.watcher.Current(), ca, wo)
		mutating.OwnerReferences = owners
		if err := webhookconfig.ApplyMutating(ctx, r.cl, mutating); err != nil {
			return err
		}
	}
	r.markPublished(ca)
	return nil
}

// celResources returns the resources of the policies.kyverno.io kinds
// among kinds (those the watcher found installed).
func celResources(watched []schema.GroupVersionKind) []string {
	var out []string
	for _, k := range watched {
		if k.Group == policiesv1.Group {
			out = append(out, kinds.Lookup(k.GroupVersion().String(), k.Kind).Resource)
		}
	}
	return out
}

// configurationNames returns the names of the validating and mutating
// configurations this reconciler writes ("" for the mutating one when it
// manages none).
func (r *reconciler) configurationNames() (validating, mutating string) {
	validating = r.o.ConfigurationName
	if r.o.Mutating {
		mutating = validating
		if r.o.MutatingConfigurationName != "" {
			mutating = r.o.MutatingConfigurationName
		}
	}
	return validating, mutating
}

// watchConfigurations starts informers (until ctx ends) on the
// configurations this reconciler owns, by name, so that an edit or a
// deletion by anyone else is repaired within moments: every event asks
// for an apply, which writes only what differs (an apply that changes
// nothing is not stored and raises no further event).
func (r *reconciler) watchConfigurations(ctx context.Context) {
	handler := toolscache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, _ any) { r.poke() },
		DeleteFunc: func(any) { r.poke() },
	}
	validating, mutating := r.configurationNames()
	api := r.cs.AdmissionregistrationV1()
	watch := func(lw *toolscache.ListWatch, obj runtime.Object) {
		inf := toolscache.NewSharedIndexInformer(lw, obj, 0, toolscache.Indexers{})
		if _, err := inf.AddEventHandler(handler); err != nil {
			r.log.Warn("cannot watch the webhook configuration; repairing it every resync only", "error", err)
			return
		}
		go inf.RunWithContext(ctx)
	}
	watch(toolscache.NewFilteredListWatchFromClient(api.RESTClient(), "validatingwebhookconfigurations", metav1.NamespaceAll,
		byName(validating)), &admissionregistrationv1.ValidatingWebhookConfiguration{})
	if mutating != "" {
		watch(toolscache.NewFilteredListWatchFromClient(api.RESTClient(), "mutatingwebhookconfigurations", metav1.NamespaceAll,
			byName(mutating)), &admissionregistrationv1.MutatingWebhookConfiguration{})
	}
}

// byName narrows a list or watch to the object called name (the RBAC
// rules grant list and watch by resourceName).
func byName(name string) func(*metav1.ListOptions) {
	return func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
}

// markPublished records a successful apply with ca and wakes waitCA.
func (r *reconciler) markPublished(ca []byte) {
	r.mu.Lock()
	r.published = ca
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	r.firstDone.Do(func() { close(r.applied) })
}
