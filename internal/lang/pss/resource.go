package pss

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portcullis/portcullis/internal/podspec"
)

// cronJobMetadata is where Kyverno's podSecurity handler reads a CronJob's
// pod metadata: the job template's, not the pod template's (immutable).
var cronJobMetadata = []string{"spec", "jobTemplate", "metadata"}

// metadataPath is where Kyverno's podSecurity handler reads the pod
// metadata of kind.
func metadataPath(kind string) []string {
	if kind == "CronJob" {
		return cronJobMetadata
	}
	meta, _ := podspec.MetadataPath(kind)
	return meta
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
	specPath, ok := podspec.Path(kind)
	if !ok {
		return "", nil, fmt.Errorf("unsupported resource kind %q: podSecurity applies to Pod, Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController and CronJob", kind)
	}
	// A missing or null step is an empty object.
	meta, err := podspec.Lookup(resource, metadataPath(kind))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", kind, err)
	}
	spec, err := podspec.Lookup(resource, specPath)
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
	for _, list := range podspec.ContainerGroups {
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

// resourcePath turns a pod-relative field path into a path within a resource
// of the given kind.
func resourcePath(kind, path string) string {
	prefix := metadataPath(kind)
	if !strings.HasPrefix(path, "metadata") {
		prefix, _ = podspec.Path(kind)
	}
	return strings.Join(prefix[:len(prefix)-1], ".") + dotIfNeeded(len(prefix) > 1) + path
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
	if spec, ok := podspec.Path(kind); ok && len(spec) > 1 {
		path = strings.ReplaceAll(path, "spec", strings.Join(spec, "."))
	}
	return strings.ReplaceAll(path, "metadata", "spec.template.metadata")
}
