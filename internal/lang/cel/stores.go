package cel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNotFound is wrapped by store errors for a resource or image that does
// not exist. Stores backed by a live cluster should wrap it too so callers
// can tell "absent" from "unreachable".
var ErrNotFound = errors.New("not found")

// ResourceStore answers Kyverno's `resource.Get` and `resource.List`.
// Implementations must be safe for concurrent use. Returned objects are
// treated as read-only.
type ResourceStore interface {
	// Get returns one object. apiVersion is "v1" or "group/version",
	// resource is the plural resource name ("configmaps"), namespace is ""
	// for cluster-scoped objects. A missing object is an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, apiVersion, resource, namespace, name string) (map[string]any, error)
	// List returns the objects of a resource in a namespace ("" lists
	// cluster-scoped objects, as Kyverno does).
	List(ctx context.Context, apiVersion, resource, namespace string) ([]map[string]any, error)
}

// ImageStore answers Kyverno's `image.GetMetadata`.
type ImageStore interface {
	// GetMetadata returns the image data for an image reference, exactly as
	// written in the expression's argument. A missing image is an error
	// wrapping ErrNotFound.
	GetMetadata(ctx context.Context, image string) (map[string]any, error)
}

// GlobalContextStore answers Kyverno's `globalContext.Get`.
type GlobalContextStore interface {
	// Get returns the data of a GlobalContextEntry, or the value at
	// projection inside it when projection is not empty. An unknown entry
	// returns (nil, nil), which CEL sees as null (Kyverno's behaviour).
	Get(ctx context.Context, name, projection string) (any, error)
}

// MemoryResources is a ResourceStore over a fixed set of objects (the
// `spec.resources` of a Kyverno CLI Context file). It is immutable after
// construction and safe for concurrent use.
type MemoryResources struct {
	objects []memoryObject
}

type memoryObject struct {
	group, version   string
	plural, singular string
	kind             string
	namespace, name  string
	object           map[string]any
}

// NewMemoryResources indexes objects by apiVersion and kind. An object is
// addressed by its plural resource name as guessed from its kind (the
// guess Kubernetes uses without discovery: Ingress → ingresses, Policy →
// policies), by its lower-case kind, or by its kind.
func NewMemoryResources(objects ...map[string]any) (*MemoryResources, error) {
	m := &MemoryResources{}
	for i, obj := range objects {
		apiVersion, _ := obj["apiVersion"].(string)
		kind, _ := obj["kind"].(string)
		if apiVersion == "" || kind == "" {
			return nil, fmt.Errorf("resources[%d]: apiVersion and kind are required", i)
		}
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return nil, fmt.Errorf("resources[%d]: %w", i, err)
		}
		plural, singular := meta.UnsafeGuessKindToResource(gv.WithKind(kind))
		md, _ := obj["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		ns, _ := md["namespace"].(string)
		m.objects = append(m.objects, memoryObject{
			group: gv.Group, version: gv.Version,
			plural: plural.Resource, singular: singular.Resource, kind: kind,
			namespace: ns, name: name, object: obj,
		})
	}
	return m, nil
}

func (o *memoryObject) is(gv schema.GroupVersion, resource string) bool {
	if o.group != gv.Group || o.version != gv.Version {
		return false
	}
	return resource == o.plural || resource == o.singular || resource == o.kind || strings.EqualFold(resource, o.plural)
}

// Get implements ResourceStore.
func (m *MemoryResources) Get(ctx context.Context, apiVersion, resource, namespace, name string) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	for i := range m.objects {
		o := &m.objects[i]
		if o.is(gv, resource) && o.namespace == namespace && o.name == name {
			return o.object, nil
		}
	}
	gr := gv.WithResource(resource).GroupResource()
	if namespace == "" {
		return nil, fmt.Errorf("%s %q %w", gr, name, ErrNotFound)
	}
	return nil, fmt.Errorf("%s %q in namespace %q %w", gr, name, namespace, ErrNotFound)
}

// List implements ResourceStore. It returns an empty list, not an error,
// when nothing matches.
func (m *MemoryResources) List(ctx context.Context, apiVersion, resource, namespace string) ([]map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for i := range m.objects {
		o := &m.objects[i]
		if o.is(gv, resource) && o.namespace == namespace {
			out = append(out, o.object)
		}
	}
	return out, nil
}

// MemoryImages is an ImageStore over the `spec.images` entries of a Kyverno
// CLI Context file. Lookups use the `image` field verbatim, as Kyverno does.
type MemoryImages struct {
	images map[string]map[string]any
}

// NewMemoryImages builds an image store. Each entry is reshaped the way the
// Kyverno CLI loads it: `image`, `resolvedImage`, `registry` and
// `repository` are always present (default ""), `tag` and `digest` only
// when not empty, `imageIndex`, `manifest` and `config` only when set;
// other keys are dropped.
func NewMemoryImages(entries ...map[string]any) (*MemoryImages, error) {
	m := &MemoryImages{images: map[string]map[string]any{}}
	for i, e := range entries {
		image, _ := e["image"].(string)
		if image == "" {
			return nil, fmt.Errorf("images[%d]: image is required", i)
		}
		data := map[string]any{}
		for _, k := range []string{"image", "resolvedImage", "registry", "repository"} {
			s, _ := e[k].(string)
			data[k] = s
		}
		for _, k := range []string{"tag", "digest"} {
			if s, _ := e[k].(string); s != "" {
				data[k] = s
			}
		}
		for _, k := range []string{"imageIndex", "manifest", "config"} {
			if v, ok := e[k]; ok && v != nil {
				data[k] = v
			}
		}
		m.images[image] = data
	}
	return m, nil
}

// GetMetadata implements ImageStore.
func (m *MemoryImages) GetMetadata(ctx context.Context, image string) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d, ok := m.images[image]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("image data for %s %w in the context", image, ErrNotFound)
}

// MemoryGlobalContext is a GlobalContextStore over fixed entries.
type MemoryGlobalContext map[string]any

// Get implements GlobalContextStore.
func (m MemoryGlobalContext) Get(ctx context.Context, name, projection string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, ok := m[name]
	if !ok {
		return nil, nil
	}
	if projection == "" {
		return data, nil
	}
	if obj, ok := data.(map[string]any); ok {
		if v, ok := obj[projection]; ok {
			return v, nil
		}
	}
	return nil, fmt.Errorf("projection %q %w in global context entry %q", projection, ErrNotFound, name)
}
