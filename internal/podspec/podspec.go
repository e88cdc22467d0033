package podspec

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ContainerGroups are the pod spec lists that hold containers, in the
// order Kyverno and the kubelet read them. The slice must not be modified.
var ContainerGroups = []string{"initContainers", "containers", "ephemeralContainers"}

// template says where a kind keeps its pod metadata and spec (immutable
// lookup table).
type template struct {
	meta, spec []string
}

var (
	podTemplate        = template{meta: []string{"metadata"}, spec: []string{"spec"}}
	controllerTemplate = template{meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}}
	cronJobTemplate    = template{
		meta: []string{"spec", "jobTemplate", "spec", "template", "metadata"},
		spec: []string{"spec", "jobTemplate", "spec", "template", "spec"},
	}
	templates = map[string]template{
		"Pod":                   podTemplate,
		"DaemonSet":             controllerTemplate,
		"Deployment":            controllerTemplate,
		"ReplicaSet":            controllerTemplate,
		"ReplicationController": controllerTemplate,
		"StatefulSet":           controllerTemplate,
		"Job":                   controllerTemplate,
		"CronJob":               cronJobTemplate,
	}
)

// Path returns the field path of kind's pod spec, or false when the kind
// has none. The slice must not be modified.
func Path(kind string) ([]string, bool) {
	t, ok := templates[kind]
	return t.spec, ok
}

// MetadataPath returns the field path of the metadata of kind's pods
// ("metadata" for a Pod, "spec.template.metadata" for a pod controller,
// "spec.jobTemplate.spec.template.metadata" for a CronJob), or false when
// the kind has none. The slice must not be modified.
func MetadataPath(kind string) ([]string, bool) {
	t, ok := templates[kind]
	return t.meta, ok
}

// Of returns the pod spec of obj (of kind) and its path, or nil when the
// kind has none or the object lacks it or has something else than an
// object on the way.
func Of(kind string, obj map[string]any) (map[string]any, []string) {
	path, ok := Path(kind)
	if !ok {
		return nil, nil
	}
	spec, err := Lookup(obj, path)
	if err != nil || spec == nil {
		return nil, nil
	}
	return spec, path
}

// FieldError reports a field of a pod template that does not have the
// JSON type its place requires.
type FieldError struct {
	// Path is the field's path from the object's root.
	Path []string
	// Value is what the field holds.
	Value any
	// Want is what it should be: "an object" or "a list".
	Want string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s is a %T, not %s", strings.Join(e.Path, "."), e.Value, e.Want)
}

// Lookup follows path through the nested objects of obj. A missing or null
// step yields nil; a step that is something else than an object is a
// *FieldError.
func Lookup(obj map[string]any, path []string) (map[string]any, error) {
	cur := obj
	for i, key := range path {
		v := cur[key]
		if v == nil {
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &FieldError{Path: path[:i+1], Value: v, Want: "an object"}
		}
		cur = m
	}
	return cur, nil
}

// Container is one entry of a container list of a pod spec.
type Container struct {
	// Group is the list: "initContainers", "containers" or
	// "ephemeralContainers".
	Group string
	// Index is the entry's position in the list; -1 for an entry of a list
	// written as an object (see ObjectLists).
	Index int
	// Key is the index as a string, or the key of an object entry.
	Key string
	// Value is the entry as found: normally a map[string]any, but it may be
	// anything, null included.
	Value any

	specPath []string
}

// Object returns the entry as an object, or false when it is not one.
func (c Container) Object() (map[string]any, bool) {
	m, ok := c.Value.(map[string]any)
	return m, ok
}

// Pointer is the JSON pointer of the entry ("/spec/containers/0"); append
// "/image" for its image.
func (c Container) Pointer() string {
	return "/" + strings.Join(c.specPath, "/") + "/" + c.Group + "/" + c.Key
}

// Field is the entry's path in Kubernetes field notation
// ("spec.containers[0]"); an object entry is written "spec.containers.key".
func (c Container) Field() string {
	if c.Index < 0 {
		return strings.Join(c.specPath, ".") + "." + c.Group + "." + c.Key
	}
	return strings.Join(c.specPath, ".") + "." + c.Group + "[" + c.Key + "]"
}

// Option changes how Containers walks a pod spec.
type Option func(*walk)

type walk struct{ objectLists bool }

// ObjectLists makes Containers walk container lists written as objects
// too, entry by entry in key order (numeric keys by value), as Kyverno's
// image extractor does; without it such a list is a *FieldError.
func ObjectLists() Option { return func(w *walk) { w.objectLists = true } }

// Containers returns the entries of the container lists of spec, the pod
// spec found at specPath, list by list in ContainerGroups order. Absent and
// null lists are skipped; a list of another type is a *FieldError, returned
// with the entries of the lists before it. Entries are returned as they
// are, whatever their type.
func Containers(spec map[string]any, specPath []string, opts ...Option) ([]Container, error) {
	var w walk
	for _, o := range opts {
		o(&w)
	}
	var out []Container
	for _, group := range ContainerGroups {
		switch list := spec[group].(type) {
		case nil:
		case []any:
			for i, v := range list {
				out = append(out, Container{Group: group, Index: i, Key: strconv.Itoa(i), Value: v, specPath: specPath})
			}
		case map[string]any:
			if !w.objectLists {
				return out, &FieldError{Path: fieldPath(specPath, group), Value: list, Want: "a list"}
			}
			keys := make([]string, 0, len(list))
			for k := range list {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
			for _, k := range keys {
				out = append(out, Container{Group: group, Index: -1, Key: k, Value: list[k], specPath: specPath})
			}
		default:
			return out, &FieldError{Path: fieldPath(specPath, group), Value: list, Want: "a list"}
		}
	}
	return out, nil
}

func fieldPath(specPath []string, group string) []string {
	return append(append(make([]string, 0, len(specPath)+1), specPath...), group)
}

// lessKey orders object keys with numeric keys compared as numbers.
func lessKey(a, b string) bool {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) < len(b)
	}
	return a < b
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
