package generate

import (
	"context"
	"fmt"

	"github.com/portcullis/portcullis/internal/lang/cel"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterResources answers clone-source lookups and the CEL resource.Get
// and resource.List of GeneratingPolicies from the API server, uncached
// (a cluster-wide cache of Secrets is not something to keep for a
// clone). It implements cel.ResourceStore.
type ClusterResources struct {
	// Reader reads objects (the manager's API reader).
	Reader client.Reader
	// Mapper turns resources into kinds.
	Mapper meta.RESTMapper
}

var _ cel.ResourceStore = ClusterResources{}

func (c ClusterResources) gvk(apiVersion, resource string) (schema.GroupVersionKind, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	gvk, err := c.Mapper.KindFor(gv.WithResource(resource))
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("resource %s in %s: %w", resource, apiVersion, err)
	}
	return gvk, nil
}

// Get implements cel.ResourceStore.
func (c ClusterResources) Get(ctx context.Context, apiVersion, resource, namespace, name string) (map[string]any, error) {
	gvk, err := c.gvk(apiVersion, resource)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%s %s/%s: %w", gvk.Kind, namespace, name, cel.ErrNotFound)
		}
		return nil, fmt.Errorf("get %s %s/%s: %w", gvk.Kind, namespace, name, err)
	}
	return u.Object, nil
}

// List implements cel.ResourceStore.
func (c ClusterResources) List(ctx context.Context, apiVersion, resource, namespace string) ([]map[string]any, error) {
	gvk, err := c.gvk(apiVersion, resource)
	if err != nil {
		return nil, err
	}
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := c.Reader.List(ctx, l, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list %s in %q: %w", gvk.Kind, namespace, err)
	}
	out := make([]map[string]any, len(l.Items))
	for i := range l.Items {
		out[i] = l.Items[i].Object
	}
	return out, nil
}
