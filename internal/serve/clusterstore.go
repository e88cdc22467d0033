package serve

import (
	"context"

	"fmt"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/lang/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deniedTTL is how long a kind serve may not list is answered "forbidden"
// without asking the API server again.
const deniedTTL = 10 * time.Second

// clusterStore answers the lookups policies make at admission — Kyverno
// configMap and apiCall (urlPath GET) context entries through
// engine.Input.Cluster, and CEL resource.Get/List through
// engine.Input.Resources — from the manager's informer cache. An informer
// starts on a kind's first read by a loaded policy (the cache starts it and
// waits for its sync, bounded by the request's deadline) and keeps the kind
// current afterwards, so a changed ConfigMap is seen at the next request.
//
// Before a kind's first informer, one List (limit 1, metadata only)
// through the API reader checks that serve may list it: an informer on a
// kind it may not read would retry in the background while every request
// waits for its deadline. A forbidden kind is answered with a clear error
// (and remembered for deniedTTL); the chart grants ConfigMaps and, opt-in,
// the kinds policies read (values clusterContext).
type clusterStore struct {
	cache  client.Reader // the manager's cache
	api    client.Reader // uncached, for the permission check
	mapper meta.RESTMapper
	scheme *runtime.Scheme
	now    func() time.Time

	mu     sync.Mutex
	ready  map[schema.GroupVersionKind]bool
	denied map[schema.GroupVersionKind]denial
}

type denial struct {
	err   error
	until time.Time
}

func newClusterStore(cache, api client.Reader, mapper meta.RESTMapper, scheme *runtime.Scheme) *clusterStore {
	return &clusterStore{cache: cache, api: api, mapper: mapper, scheme: scheme, now: time.Now,
		ready: map[schema.GroupVersionKind]bool{}, denied: map[schema.GroupVersionKind]denial{}}
}

var _ cel.ResourceStore = (*clusterStore)(nil)

// Get implements cel.ResourceStore.
func (s *clusterStore) Get(ctx context.Context, apiVersion, resource, namespace, name string) (map[string]any, error) {
	gvk, err := s.kind(ctx, apiVersion, resource)
	if err != nil {
		return nil, err
	}
	obj := s.newObject(gvk)
	if err := s.cache.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if namespace == "" {
				return nil, fmt.Errorf("%s %q %w", resource, name, cel.ErrNotFound)
			}
			return nil, fmt.Errorf("%s %q in namespace %q %w", resource, name, namespace, cel.ErrNotFound)
		}
		return nil, fmt.Errorf("read %s %s/%s from the informer cache: %w", resource, namespace, name, err)
	}
	return toMap(obj, gvk)
}

// List implements cel.ResourceStore; namespace "" lists every namespace
// (or the cluster-scoped objects).
func (s *clusterStore) List(ctx context.Context, apiVersion, resource, namespace string) ([]map[string]any, error) {
	gvk, err := s.kind(ctx, apiVersion, resource)
	if err != nil {
		return nil, err
	}
	list := s.newList(gvk)
	var opts []client.ListOption
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := s.cache.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("list %s in %q from the informer cache: %w", resource, namespace, err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", resource, err)
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		o, ok := it.(client.Object)
		if !ok {
			continue
		}
		m, err := toMap(o, gvk)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// kind resolves a resource to its kind and checks, once, that serve may
// list it.
func (s *clusterStore) kind(ctx context.Context, apiVersion, resource string) (schema.GroupVersionKind, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	gvk, err := s.mapper.KindFor(gv.WithResource(resource))
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("resource %s in %s: %w", resource, apiVersion, err)
	}
	s.mu.Lock()
	ready := s.ready[gvk]
	d, denied := s.denied[gvk]
	s.mu.Unlock()
	if ready {
		return gvk, nil
	}
	if denied && s.now().Before(d.until) {
		return schema.GroupVersionKind{}, d.err
	}
	probe := &metav1.PartialObjectMetadataList{}
	probe.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := s.api.List(ctx, probe, client.Limit(1)); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			err = fmt.Errorf("forbidden: serve's service account may not list %s (%s); grant it in the chart's clusterContext.resources: %w", resource, gv, err)
			s.mu.Lock()
			s.denied[gvk] = denial{err: err, until: s.now().Add(deniedTTL)}
			s.mu.Unlock()
			return schema.GroupVersionKind{}, err
		}
		return schema.GroupVersionKind{}, fmt.Errorf("check access to %s: %w", resource, err)
	}
	s.mu.Lock()
	s.ready[gvk] = true
	delete(s.denied, gvk)
	s.mu.Unlock()
	return gvk, nil
}

// newObject is an empty object of gvk: typed when the scheme knows the
// kind (sharing the background controller's informers), else
// unstructured.
func (s *clusterStore) newObject(gvk schema.GroupVersionKind) client.Object {
	if s.scheme != nil && s.scheme.Recognizes(gvk) {
		if o, err := s.scheme.New(gvk); err == nil {
			if co, ok := o.(client.Object); ok {
				return co
			}
		}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u
}

func (s *clusterStore) newList(gvk schema.GroupVersionKind) client.ObjectList {
	lk := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	if s.scheme != nil && s.scheme.Recognizes(lk) {
		if o, err := s.scheme.New(lk); err == nil {
			if l, ok := o.(client.ObjectList); ok {
				return l
			}
		}
	}
	u := &unstructured.UnstructuredList{}
	u.SetGroupVersionKind(lk)
	return u
}

// toMap returns obj as policies read it (JSON-shaped, with apiVersion and
// kind).
func toMap(obj client.Object, gvk schema.GroupVersionKind) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		// The cache's own map (it has apiVersion and kind): shared, so
		// never written; the engine only reads what a store returns.
		return u.UnstructuredContent(), nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return m, nil
}
