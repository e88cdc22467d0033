package pss

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kindTemplate says where the pod metadata and spec live in a resource kind.
type kindTemplate struct {
	meta []string
	spec []string
}

// podKinds lists the kinds Kyverno's podSecurity handler understands
// (immutable lookup table).
var podKinds = map[string]kindTemplate{
	"Pod":                   {meta: []string{"metadata"}, spec: []string{"spec"}},
	"Deployment":            {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	"ReplicaSet":            {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	"DaemonSet":             {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	"StatefulSet":           {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	"Job":                   {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	"ReplicationController": {meta: []string{"spec", "template", "metadata"}, spec: []string{"spec", "template", "spec"}},
	// Kyverno reads the CronJob pod metadata from the job template.
	"CronJob": {meta: []string{"spec", "jobTemplate", "metadata"}, spec: []string{"spec", "jobTemplate", "spec", "template", "spec"}},
}

// podTemplate is the decoding target of the JSON round-trip.
type podTemplate struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

// extractPod locates and decodes the pod metadata and spec of resource.
func extractPod(resource map[string]any) (string, *corev1.Pod, error) {
	kindVal, ok := resource["kind"]
	if !ok {
		return "", nil, fmt.Errorf("resource has no kind")
	}
	kind, ok := kindVal.(string)
	if !ok {
		return "", nil, fmt.Errorf("resource kind is a %T, not a string", kindVal)
	}
	tmpl, ok := podKinds[kind]
	if !ok {
		return "", nil, fmt.Errorf("unsupported resource kind %q: podSecurity applies to Pod, Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController and CronJob", kind)
	}
	meta, err := lookupMap(resource, tmpl.meta)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", kind, err)
	}
	spec, err := lookupMap(resource, tmpl.spec)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", kind, err)
	}
	raw, err := json.Marshal(map[string]any{"metadata": pick(meta, metaKeys), "spec": trimSpec(spec)})
	if err != nil {
		return "", nil, fmt.Errorf("%s: encoding pod template: %w", kind, err)
	}
	var pt podTemplate
	if err := json.Unmarshal(raw, &pt); err != nil {
		return "", nil, fmt.Errorf("%s: decoding pod template: %w", kind, err)
	}
	return kind, &corev1.Pod{ObjectMeta: pt.Metadata, Spec: pt.Spec}, nil
}

// The checks only read these keys; the others are dropped before decoding to
// keep the JSON round-trip cheap (immutable lookup tables).
var (
	metaKeys      = []string{"name", "namespace", "annotations"}
	specKeys      = []string{"hostNetwork", "hostPID", "hostIPC", "hostUsers", "os", "securityContext", "volumes"}
	containerKeys = []string{"name", "image", "ports", "securityContext", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"}
)

// pick returns the entries of m whose key is listed.
func pick(m map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// trimSpec keeps the pod spec fields the checks read, trimming every
// container to its security-relevant fields. Lists that are not lists are
// kept as they are so that decoding reports them.
func trimSpec(spec map[string]any) map[string]any {
	out := pick(spec, specKeys)
	for _, list := range containerKinds {
		v, ok := spec[list]
		if !ok {
			continue
		}
		items, ok := v.([]any)
		if !ok {
			out[list] = v
			continue
		}
		trimmed := make([]any, len(items))
		for i, item := range items {
			if c, ok := item.(map[string]any); ok {
				trimmed[i] = pick(c, containerKeys)
			} else {
				trimmed[i] = item
			}
		}
		out[list] = trimmed
	}
	return out
}

// lookupMap follows path through nested maps. A missing or null step yields
// an empty map; a step that is not an object is an error.
func lookupMap(obj map[string]any, path []string) (map[string]any, error) {
	cur := obj
	for i, key := range path {
		v, ok := cur[key]
		if !ok || v == nil {
			return map[string]any{}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is a %T, not an object", strings.Join(path[:i+1], "."), v)
		}
		cur = m
	}
	return cur, nil
}

// resourcePath turns a pod-relative field path into a path within a resource
// of the given kind.
func resourcePath(kind, path string) string {
	tmpl := podKinds[kind]
	if strings.HasPrefix(path, "metadata") {
		return strings.Join(tmpl.meta[:len(tmpl.meta)-1], ".") + dotIfNeeded(len(tmpl.meta) > 1) + path
	}
	return strings.Join(tmpl.spec[:len(tmpl.spec)-1], ".") + dotIfNeeded(len(tmpl.spec) > 1) + path
}

func dotIfNeeded(b bool) string {
	if b {
		return "."
	}
	return ""
}

// kyvernoMessagePath rewrites a pod-relative path the way Kyverno's
// podSecurity handler does before printing it: textual replacement of "spec"
// for pod controllers, then of "metadata" for every kind.
func kyvernoMessagePath(kind, path string) string {
	switch kind {
	case "DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController":
		path = strings.ReplaceAll(path, "spec", "spec.template.spec")
	case "CronJob":
		path = strings.ReplaceAll(path, "spec", "spec.jobTemplate.spec.template.spec")
	}
	return strings.ReplaceAll(path, "metadata", "spec.template.metadata")
}
