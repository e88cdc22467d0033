package kyvernotest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/generate"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/source/files"
)

// generateTarget returns the target of an entry about a generate rule or
// a GeneratingPolicy (ok false for other entries): the policy evaluated in
// engine.PhaseGenerate, with clone sources looked up among the test's
// resources, its Context file's and the entry's cloneSourceResource, as
// kyverno test does.
func (lt *loadedTest) generateTarget(exp ResultSpec, loadErr string) (t *target, reason string, ok bool) {
	switch {
	case exp.IsGeneratingPolicy:
		gp := lt.set.GeneratingPolicy(exp.Policy)
		if gp == nil {
			if loadErr != "" {
				return nil, "Policy not loaded: " + loadErr, true
			}
			return nil, "Not found: no GeneratingPolicy named " + exp.Policy, true
		}
		t = &target{key: "gpol/" + gp.Name(), name: gp.Name(), set: lt.set.OnlyGenerating(gp), anyRule: true, generate: true}
	case exp.GeneratedResource != "" || lt.isGenerateRule(exp):
		pol := lt.set.Policy(exp.Policy)
		if pol == nil {
			if gp := lt.set.GeneratingPolicy(exp.Policy); gp != nil {
				t = &target{key: "gpol/" + gp.Name(), name: gp.Name(), set: lt.set.OnlyGenerating(gp), anyRule: true, generate: true}
				break
			}
			return nil, "", false // reported by target
		}
		t = &target{key: "generate/" + pol.Key(), name: pol.Name(), set: lt.set.Only(pol), generate: true}
	default:
		return nil, "", false
	}
	if exp.CloneSource != "" {
		t.key += "\x00" + exp.CloneSource
	}
	store, err := lt.generateStore(exp.CloneSource)
	if err != nil {
		return nil, "Error: " + err.Error(), true
	}
	t.store = store
	return t, "", true
}

// isGenerateRule reports whether an entry names a generate rule.
func (lt *loadedTest) isGenerateRule(exp ResultSpec) bool {
	pol := lt.set.Policy(exp.Policy)
	if pol == nil || exp.Rule == "" {
		return false
	}
	for _, r := range pol.Rules {
		if r.Name() == exp.Rule {
			return r.Generate != nil
		}
	}
	return false
}

// generateStore is the lookup of clone sources: the test's resources,
// the Context file's and the clone source file.
func (lt *loadedTest) generateStore(cloneSource string) (cel.ResourceStore, error) {
	extra := append([]map[string]any(nil), lt.contextResources...)
	if cloneSource != "" {
		docs, err := lt.readDocs(cloneSource)
		if err != nil {
			return nil, fmt.Errorf("cloneSourceResource: %w", err)
		}
		for _, d := range docs {
			extra = append(extra, defaultNamespace(d.Object))
		}
	}
	return files.Resources(lt.resources, extra...)
}

// readDocs reads the documents of a file named by the test (relative to
// its directory).
func (lt *loadedTest) readDocs(path string) ([]manifest.Document, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(lt.dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, unwrapPathErr(err))
	}
	docs, err := manifest.Decode(path, data)
	if err != nil {
		return nil, err
	}
	return docs, nil
}

// expectedGenerated reads the generatedResource of an entry ("" when none).
func (lt *loadedTest) expectedGenerated(exp ResultSpec) (map[string]any, error) {
	if exp.GeneratedResource == "" {
		return nil, nil
	}
	docs, err := lt.readDocs(exp.GeneratedResource)
	if err != nil {
		return nil, fmt.Errorf("generatedResource: %w", err)
	}
	if len(docs) != 1 {
		return nil, fmt.Errorf("generatedResource %s: want one resource, found %d", exp.GeneratedResource, len(docs))
	}
	return docs[0].Object, nil
}

// compareGenerated checks that one of the objects the matched results
// generated is the expected one (after a JSON round trip, without the
// generate labels, which the CLI does not set), as kyverno test compares
// generatedResource.
func compareGenerated(want map[string]any, matched []engine.Result) (ok bool, reason string) {
	wantNorm := normalizeJSON(want)
	wk, wns, wname := identity(wantNorm)
	var names []string
	for _, res := range matched {
		objs, err := res.GeneratedObjects()
		if err != nil {
			return false, "Error: " + err.Error()
		}
		for _, o := range objs {
			got := normalizeJSON(withoutGenerateLabels(o))
			k, ns, name := identity(got)
			names = append(names, fmt.Sprintf("%s %s/%s", k, ns, name))
			if k != wk || name != wname || (wns != "" && ns != wns) {
				continue
			}
			if wns == "" {
				delete(got["metadata"].(map[string]any), "namespace")
				delete(wantNorm["metadata"].(map[string]any), "namespace")
			}
			if reflect.DeepEqual(got, wantNorm) {
				return true, ""
			}
			return false, fmt.Sprintf("Generated resource %s %s/%s differs from the expected one at %s", k, ns, name, firstDiff("", got, wantNorm))
		}
	}
	if len(names) == 0 {
		return false, fmt.Sprintf("No resource was generated, want %s %s/%s", wk, wns, wname)
	}
	sort.Strings(names)
	return false, fmt.Sprintf("Generated %s, want %s %s/%s", strings.Join(names, ", "), wk, wns, wname)
}

func identity(obj map[string]any) (kind, ns, name string) {
	kind, _ = obj["kind"].(string)
	return kind, manifest.MetaString(obj, "namespace"), manifest.MetaString(obj, "name")
}

// withoutGenerateLabels returns obj without the labels the generator adds.
func withoutGenerateLabels(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	meta, _ := obj["metadata"].(map[string]any)
	m := make(map[string]any, len(meta))
	for k, v := range meta {
		m[k] = v
	}
	if labels, ok := meta["labels"].(map[string]any); ok {
		kept := map[string]any{}
		for k, v := range labels {
			if !generate.IsGenerateLabel(k) {
				kept[k] = v
			}
		}
		if len(kept) > 0 {
			m["labels"] = kept
		} else {
			delete(m, "labels")
		}
	}
	out["metadata"] = m
	return out
}

// normalizeJSON gives obj the shape JSON decoding gives (numbers as
// float64), so values written differently compare equal.
func normalizeJSON(obj map[string]any) map[string]any {
	data, err := json.Marshal(obj)
	if err != nil {
		return obj
	}
	var out map[string]any
	if json.Unmarshal(data, &out) != nil || out == nil {
		return obj
	}
	if _, ok := out["metadata"].(map[string]any); !ok {
		out["metadata"] = map[string]any{}
	}
	return out
}

// firstDiff names the first path where got and want differ.
func firstDiff(path string, got, want any) string {
	gm, ok1 := got.(map[string]any)
	wm, ok2 := want.(map[string]any)
	if ok1 && ok2 {
		keys := map[string]bool{}
		for k := range gm {
			keys[k] = true
		}
		for k := range wm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			if !reflect.DeepEqual(gm[k], wm[k]) {
				return firstDiff(path+"."+k, gm[k], wm[k])
			}
		}
	}
	gl, ok1 := got.([]any)
	wl, ok2 := want.([]any)
	if ok1 && ok2 && len(gl) == len(wl) {
		for i := range gl {
			if !reflect.DeepEqual(gl[i], wl[i]) {
				return firstDiff(fmt.Sprintf("%s[%d]", path, i), gl[i], wl[i])
			}
		}
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if path == "" {
		path = "."
	}
	return fmt.Sprintf("%s: got %s, want %s", path, g, w)
}
