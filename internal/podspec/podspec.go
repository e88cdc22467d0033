// Package podspec knows where objects keep their pod spec: Pods, the pod
// controllers (DaemonSet, Deployment, Job, ReplicaSet,
// ReplicationController, StatefulSet) and CronJobs, and which lists of a
// pod spec hold containers.
package podspec

// ContainerGroups are the pod spec lists that hold containers, in the
// order Kyverno and the kubelet read them.
var ContainerGroups = []string{"initContainers", "containers", "ephemeralContainers"}

var paths = map[string][]string{
	"Pod":                   {"spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// Path returns the field path of kind's pod spec, or false when the kind
// has none. The slice must not be modified.
func Path(kind string) ([]string, bool) {
	p, ok := paths[kind]
	return p, ok
}

// Of returns the pod spec of obj (of kind) and its path, or nil when the
// kind has none or the object lacks it.
func Of(kind string, obj map[string]any) (map[string]any, []string) {
	path, ok := paths[kind]
	if !ok {
		return nil, nil
	}
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = next
	}
	return cur, path
}
