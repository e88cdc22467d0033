package kyvernotest

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/source/files"
)

// notInManifest is what comparePatched returns when the patchedResources
// file holds no resource with the mutated resource's kind, namespace and
// name: kyverno test then drops the row (its checkResult message says
// "not found in manifest" and the row is skipped: neither counted nor
// listed), so the entry checks nothing for that resource.
const notInManifest = "not found in manifest"

// comparePatched compares the resource mutated by results with its
// expected version in the patchedResources file, as kyverno test does:
// the file's resource with the same kind, namespace and name (a
// namespaced resource without a namespace is in "default"), equal as
// JSON once null values, empty maps and empty lists are removed. It
// returns "" when they are equal, else why not ("Error: ..." when the
// file cannot be read, "Resource diff: ..." when the resources differ,
// notInManifest when the file has no such resource).
func (lt *loadedTest) comparePatched(file string, obj map[string]any, results []engine.Result) string {
	mutated, err := engine.Mutated(obj, results)
	if err != nil {
		return "Error: " + err.Error()
	}
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(lt.dir, file)
	}
	chunks, err := files.Read([]string{path}, nil)
	docs, derr := chunks.DecodeAll()
	if err := errors.Join(err, derr); err != nil {
		return fmt.Sprintf("Error: failed to load patched resource %s: %v", file, err)
	}
	want := findResource(docs, mutated)
	if want == nil {
		return notInManifest
	}
	if at := firstDifference("", tidy(defaultNamespace(want)), tidy(mutated)); at != "" {
		return fmt.Sprintf("Resource diff: the patched resource differs from %s at %s", file, at)
	}
	return ""
}

// findResource returns the document of docs with obj's kind, namespace
// and name.
func findResource(docs []manifest.Document, obj map[string]any) map[string]any {
	kind, _ := obj["kind"].(string)
	name, ns := manifest.MetaString(obj, "name"), manifest.MetaString(obj, "namespace")
	for _, d := range docs {
		o := defaultNamespace(d.Object)
		if d.Kind() == kind && d.Name() == name && manifest.MetaString(o, "namespace") == ns {
			return d.Object
		}
	}
	return nil
}

// tidy drops null values, empty maps and empty lists, recursively (what
// kyverno test's comparison ignores).
func tidy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if x = tidy(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(t))
		for _, x := range t {
			if x = tidy(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// firstDifference returns the JSON pointer of the first place a and b
// differ, "" when they are equal.
func firstDifference(at string, a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if d := firstDifference(at+"/"+k, am[k], bm[k]); d != "" {
				return d
			}
		}
		return ""
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if len(al) != len(bl) {
			return at
		}
		for i := range al {
			if d := firstDifference(fmt.Sprintf("%s/%d", at, i), al[i], bl[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		if at == "" {
			return "/"
		}
		return at
	}
	return ""
}
