package serve

import (
	"slices"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// maxShared bounds each table of sharedParts: past it, new values are not
// shared (the cache stays correct, only bigger).
const maxShared = 4096

// sharedParts keeps one copy of the parts of cached Pods that many Pods
// have equal: the resource lists of their containers (two
// map[ResourceName]Quantity per container: 17 MB of 40 for 10,000 Pods),
// their labels (equal for every Pod of one ReplicaSet, Job or DaemonSet
// revision) and their tolerations (the API server gives every Pod the
// same two). Objects in an informer's store are shared and
// never written (client-go's rule; the cache deep-copies what it hands
// out unless told not to), so Pods with equal lists can hold the same map.
type sharedParts struct {
	mu        sync.Mutex
	resources map[string]corev1.ResourceList
	labels    map[string]map[string]string
	tolerate  map[string][]corev1.Toleration
	key       []byte // scratch
}

// cacheTransform is the manager cache's transform: every object without
// its managedFields (bookkeeping no policy or part of serve reads, a large
// share of a cached object), and Pods with their equal parts shared.
func cacheTransform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	shared := newSharedParts()
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		if p, ok := obj.(*corev1.Pod); ok {
			shared.pod(p)
		}
		return obj, nil
	}
}

func newSharedParts() *sharedParts {
	return &sharedParts{resources: map[string]corev1.ResourceList{}, labels: map[string]map[string]string{},
		tolerate: map[string][]corev1.Toleration{}}
}

// pod replaces p's resource lists and labels by equal ones already kept.
func (s *sharedParts) pod(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			r := &cs[i].Resources
			r.Limits = s.resourceList(r.Limits)
			r.Requests = s.resourceList(r.Requests)
		}
	}
	p.Labels = s.labelSet(p.Labels)
	p.Spec.Tolerations = s.tolerations(p.Spec.Tolerations)
}

// tolerations returns the kept tolerations equal to ts, keeping ts if
// there are none.
func (s *sharedParts) tolerations(ts []corev1.Toleration) []corev1.Toleration {
	if len(ts) == 0 {
		return ts
	}
	s.key = s.key[:0]
	for _, t := range ts {
		for _, f := range []string{t.Key, string(t.Operator), t.Value, string(t.Effect)} {
			s.key = append(s.key, f...)
			s.key = append(s.key, 0)
		}
		if t.TolerationSeconds != nil {
			s.key = strconv.AppendInt(s.key, *t.TolerationSeconds, 10)
		} else {
			s.key = append(s.key, '-')
		}
		s.key = append(s.key, 0)
	}
	return keep(s.tolerate, s.key, ts)
}

// resourceList returns the kept list equal to l, keeping l if there is
// none. Two quantities are equal when their canonical text and format are:
// they then encode (JSON, protobuf, unstructured) and compare the same.
func (s *sharedParts) resourceList(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return l
	}
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	slices.Sort(names)
	s.key = s.key[:0]
	for _, n := range names {
		q := l[n]
		s.key = append(s.key, n...)
		s.key = append(s.key, '=')
		s.key = append(s.key, q.String()...)
		s.key = append(s.key, '/')
		s.key = append(s.key, q.Format...)
		s.key = append(s.key, 0)
	}
	return keep(s.resources, s.key, l)
}

// labelSet returns the kept label set equal to l, keeping l if there is
// none.
func (s *sharedParts) labelSet(l map[string]string) map[string]string {
	if len(l) == 0 {
		return l
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.key = s.key[:0]
	for _, k := range keys {
		s.key = append(s.key, k...)
		s.key = append(s.key, 0)
		s.key = append(s.key, l[k]...)
		s.key = append(s.key, 0)
	}
	return keep(s.labels, s.key, l)
}

// keep returns table[key], or v after keeping it there when the table has
// room.
func keep[V any](table map[string]V, key []byte, v V) V {
	if kept, ok := table[string(key)]; ok {
		return kept
	}
	if len(table) < maxShared {
		table[string(key)] = v
	}
	return v
}
