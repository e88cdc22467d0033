package mutate

import (
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	gomodjsonpatch "gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/kustomize/kyaml/yaml/merge2"
)

// StrategicMerge merges patch (already preprocessed, see Preprocess) into
// resource and returns the merged object; resource is not modified. A
// built-in kind (one of client-go's scheme) is merged with its Go type's
// patch strategies and merge keys (containers by name, ...); any other
// kind is merged as Kyverno merges it (mergeUntyped): maps merged, lists
// replaced, $patch directives honoured.
func StrategicMerge(resource map[string]any, patch any) (map[string]any, error) {
	pm, ok := patch.(map[string]any)
	if !ok {
		if patch == nil {
			return copyMap(resource), nil
		}
		return nil, fmt.Errorf("strategic merge patch is a %T, want a mapping", patch)
	}
	if typed := typedObject(resource); typed != nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, fmt.Errorf("patch schema of %s: %w", resource["kind"], err)
		}
		out, err := strategicpatch.StrategicMergeMapPatchUsingLookupPatchMeta(copyMap(resource), copyMap(pm), meta)
		if err != nil {
			return nil, fmt.Errorf("apply strategic merge patch: %w", err)
		}
		return normalize(out)
	}
	return mergeUntyped(resource, pm)
}

// mergeUntyped merges patch into a resource of a kind without a Go type
// (a custom resource) as Kyverno does for every kind: kustomize's kyaml
// merge2 (the patchstrategicmerge filter: lists grow by prepending)
// without a schema, so lists are not associative and the patch's list
// replaces the resource's, null clears a field, and the strategic-merge
// directives $patch: delete and $patch: replace act on maps.
func mergeUntyped(resource, patch map[string]any) (map[string]any, error) {
	doc, err := json.Marshal(resource)
	if err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	p, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	dest, err := kyaml.Parse(string(doc))
	if err != nil {
		return nil, fmt.Errorf("parse resource: %w", err)
	}
	src, err := kyaml.Parse(string(p))
	if err != nil {
		return nil, fmt.Errorf("parse patch: %w", err)
	}
	out, err := merge2.Merge(src, dest, kyaml.MergeOptions{ListIncreaseDirection: kyaml.MergeOptionsListPrepend})
	if err != nil {
		return nil, fmt.Errorf("apply strategic merge patch: %w", err)
	}
	if out == nil {
		return map[string]any{}, nil
	}
	merged, err := out.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode patched object: %w", err)
	}
	return decode(merged)
}

// typedObject returns a new value of the Go type of resource's kind, or
// nil when client-go's scheme does not know it.
func typedObject(resource map[string]any) any {
	apiVersion, _ := resource["apiVersion"].(string)
	kind, _ := resource["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		return nil
	}
	obj, err := scheme.Scheme.New(gv.WithKind(kind))
	if err != nil {
		return nil
	}
	return obj
}

// ApplyJSONPatch applies an RFC 6902 patch (a JSON array of operations)
// to resource and returns the result; resource is not modified. As in
// Kyverno, removing a missing path is not an error, adding creates the
// missing parents, and negative list indexes count from the end.
func ApplyJSONPatch(resource map[string]any, ops []byte) (map[string]any, error) {
	patch, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return nil, fmt.Errorf("decode JSON patch: %w", err)
	}
	doc, err := json.Marshal(resource)
	if err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	opts := jsonpatch.NewApplyOptions()
	opts.AllowMissingPathOnRemove = true
	opts.EnsurePathExistsOnAdd = true
	opts.SupportNegativeIndices = true
	out, err := patch.ApplyWithOptions(doc, opts)
	if err != nil {
		return nil, fmt.Errorf("apply JSON patch: %w", err)
	}
	return decode(out)
}

// Diff returns the RFC 6902 operations (a JSON array) that turn before
// into after, "" when they are equal.
func Diff(before, after map[string]any) (string, error) {
	b, err := json.Marshal(before)
	if err != nil {
		return "", fmt.Errorf("encode object: %w", err)
	}
	a, err := json.Marshal(after)
	if err != nil {
		return "", fmt.Errorf("encode object: %w", err)
	}
	ops, err := gomodjsonpatch.CreatePatch(b, a)
	if err != nil {
		return "", fmt.Errorf("diff objects: %w", err)
	}
	if len(ops) == 0 {
		return "", nil
	}
	out, err := json.Marshal(ops)
	if err != nil {
		return "", fmt.Errorf("encode JSON patch: %w", err)
	}
	return string(out), nil
}

// normalize makes v what encoding/json decodes (float64 numbers, []any
// and map[string]any) by a round trip.
func normalize(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	return decode(b)
}

func decode(b []byte) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode patched object: %w", err)
	}
	if out == nil {
		return nil, fmt.Errorf("patched object is not a mapping")
	}
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	out, _ := deepCopy(m).(map[string]any)
	return out
}
