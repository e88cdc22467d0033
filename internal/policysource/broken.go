package policysource

import (
	"fmt"
	"sort"
	"strings"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Fallback says what stands in for a policy that does not compile.
type Fallback string

const (
	// FallbackLastGood: the last version of the policy that compiled in
	// this process stays in force.
	FallbackLastGood Fallback = "last-good"
	// FallbackFailClosed: an Enforce ClusterImagePolicy seen broken
	// before any good version: the images its globs cover are denied,
	// the denial naming the broken policy.
	FallbackFailClosed Fallback = "fail-closed"
	// FallbackNone: nothing stands in; the policy's rules do not apply
	// (what it would match is not knowable).
	FallbackNone Fallback = "none"
)

// Key identifies a policy object in the cluster.
type Key struct {
	Group, Kind, Namespace, Name string
}

func (k Key) String() string {
	if k.Namespace != "" {
		return k.Kind + "/" + k.Namespace + "/" + k.Name
	}
	return k.Kind + "/" + k.Name
}

// PolicyState is the load state of one policy object of the cluster, as
// of the current set.
type PolicyState struct {
	Key
	// GVK is the object's group, version and kind.
	GVK schema.GroupVersionKind
	// UID, Generation and Conditions (status.conditions) are the stored
	// object's.
	UID        string
	Generation int64
	Conditions []metav1.Condition
	// Ready is true when this generation compiled and is in force.
	Ready bool
	// Errors are the compile problems when not Ready.
	Errors []string
	// Fallback is what stands in when not Ready; LastGoodGeneration is
	// the generation in force with FallbackLastGood.
	Fallback           Fallback
	LastGoodGeneration int64
}

// Message words the state for a status condition, an Event or a log.
func (s PolicyState) Message() string {
	if s.Ready {
		return "policy compiled and in force"
	}
	msg := "policy does not compile: " + strings.Join(s.Errors, "; ")
	switch s.Fallback {
	case FallbackLastGood:
		msg += fmt.Sprintf("; the last good version (generation %d) stays in force", s.LastGoodGeneration)
	case FallbackFailClosed:
		msg += "; the images its globs cover are denied until it is fixed"
	default:
		msg += "; its rules do not apply until it is fixed"
	}
	return msg
}

// cached is a policy object read from the cache.
type cached struct {
	key Key
	gvk schema.GroupVersionKind
	obj *unstructured.Unstructured
	doc manifest.Document
}

// lastGood is the last version of a policy that compiled.
type lastGood struct {
	doc        manifest.Document
	generation int64
}

// ConditionsPath is where the status conditions of a policy of group are
// stored: status.conditions, or status.conditionStatus.conditions for the
// policies.kyverno.io kinds (Kyverno's ConditionStatus, which also holds
// ready and message).
func ConditionsPath(group string) []string {
	if group == policiesv1.Group {
		return []string{"status", "conditionStatus", "conditions"}
	}
	return []string{"status", "conditions"}
}

func conditionsOf(u *unstructured.Unstructured) []metav1.Condition {
	raw, ok, _ := unstructured.NestedSlice(u.Object, ConditionsPath(u.GroupVersionKind().Group)...)
	if !ok {
		return nil
	}
	var out []metav1.Condition
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// failClosedImagePolicy returns a stand-in for a broken Enforce
// ClusterImagePolicy: a policy of the same name covering the globs of
// the broken one that compile, with a static authority failing every
// image, the message naming the broken policy. ok is false when the
// policy is in warn mode or no glob is usable.
func failClosedImagePolicy(c cached, reason string) (manifest.Document, bool) {
	mode, _, _ := unstructured.NestedString(c.obj.Object, "spec", "mode")
	if mode == sigv1.ModeWarn {
		return manifest.Document{}, false
	}
	images, _, _ := unstructured.NestedSlice(c.obj.Object, "spec", "images")
	stub := func(globs []any) manifest.Document {
		return manifest.Document{Source: c.doc.Source, Index: 1, Object: map[string]any{
			"apiVersion": sigv1.APIVersion, "kind": sigv1.KindClusterImagePolicy,
			"metadata": map[string]any{"name": c.key.Name},
			"spec": map[string]any{
				"images": globs,
				"authorities": []any{map[string]any{"name": "policy-does-not-compile", "static": map[string]any{
					"action": "fail",
					"message": fmt.Sprintf("ClusterImagePolicy %s does not compile (%s): the images it covers are denied until it is fixed",
						c.key.Name, reason),
				}}},
			},
		}}
	}
	var globs []any
	for _, im := range images {
		m, ok := im.(map[string]any)
		if !ok {
			continue
		}
		g, ok := m["glob"].(string)
		if !ok || g == "" {
			continue
		}
		entry := []any{map[string]any{"glob": g}}
		if _, err := policy.Compile([]manifest.Document{stub(entry)}, policy.Options{}); err == nil {
			globs = append(globs, entry[0])
		}
	}
	if len(globs) == 0 {
		return manifest.Document{}, false
	}
	return stub(globs), true
}

// sortStates orders states by key for stable output.
func sortStates(s []PolicyState) {
	sort.Slice(s, func(i, j int) bool { return s[i].Key.String() < s[j].Key.String() })
}
