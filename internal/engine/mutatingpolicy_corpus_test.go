package engine

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testing/corpus"
	"sigs.k8s.io/yaml"
)

// corpusTest is the part of a cli.kyverno.io/v1alpha1 Test this test reads.
type corpusTest struct {
	Policies  []string `json:"policies"`
	Resources []string `json:"resources"`
	Results   []struct {
		Policy           string   `json:"policy"`
		Kind             string   `json:"kind"`
		Resources        []string `json:"resources"`
		Result           string   `json:"result"`
		PatchedResources string   `json:"patchedResources"`
		IsMutatingPolicy bool     `json:"isMutatingPolicy"`
	} `json:"results"`
}

func readDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Decode(path, data)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, d := range docs {
		// kyverno test places namespaced resources without a namespace
		// (resources and expected patched resources) in "default".
		o := d.Object
		meta, _ := o["metadata"].(map[string]any)
		if _, ok := meta["namespace"]; !ok && meta != nil && kinds.Lookup(str(o["apiVersion"]), str(o["kind"])).Namespaced {
			meta["namespace"] = "default"
		}
		out = append(out, o)
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func objKey(o map[string]any) (kind, ns, name string) {
	meta, _ := o["metadata"].(map[string]any)
	kind, _ = o["kind"].(string)
	ns, _ = meta["namespace"].(string)
	name, _ = meta["name"].(string)
	return kind, ns, name
}

// findObject finds the object of kind named "name" or "namespace/name"
// (a namespace is compared only when both sides have one).
func findObject(objs []map[string]any, kind, ref string) map[string]any {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok {
		ns, name = "", ref
	}
	for _, o := range objs {
		k, ons, oname := objKey(o)
		if k == kind && oname == name && (ns == "" || ons == "" || ns == ons) {
			return o
		}
	}
	return nil
}

func jsonEqual(a, b map[string]any) bool {
	norm := func(m map[string]any) any {
		data, _ := json.Marshal(m)
		var out any
		_ = json.Unmarshal(data, &out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// TestMutatingPolicyCorpus applies the MutatingPolicies of the shared
// Kyverno corpus to their tests' resources and compares the outcome with
// each result row, counted per (row x resource) as kyverno test counts:
// pass = the policy applied and the patched resource equals the expected
// patchedResources document (matched by kind, namespace and name); fail =
// it applied and differs; skip = it did not apply.
func TestMutatingPolicyCorpus(t *testing.T) {
	root := corpus.Kyverno(t)
	var tests []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "kyverno-test.yaml" {
			tests = append(tests, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(tests)
	e := New()
	files, rows, passed, notInManifest := 0, 0, 0, 0
	for _, tf := range tests {
		var ct corpusTest
		data, err := os.ReadFile(tf)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &ct); err != nil {
			t.Fatalf("%s: %v", tf, err)
		}
		dir := filepath.Dir(tf)
		var paths []string
		for _, p := range ct.Policies {
			paths = append(paths, filepath.Join(dir, p))
		}
		set, err := policy.LoadFiles(paths, policy.Options{SkipUnsupported: true})
		if len(set.Mutating) == 0 {
			continue
		}
		files++
		rel, _ := filepath.Rel(root, tf)
		if err != nil {
			t.Errorf("%s: policies do not load: %v", rel, err)
		}
		var resources []map[string]any
		for _, r := range ct.Resources {
			resources = append(resources, readDocs(t, filepath.Join(dir, r))...)
		}
		for _, row := range ct.Results {
			var expected []map[string]any
			if row.PatchedResources != "" {
				expected = readDocs(t, filepath.Join(dir, row.PatchedResources))
			}
			for _, ref := range row.Resources {
				rows++
				res := findObject(resources, row.Kind, ref)
				if res == nil {
					t.Errorf("%s: %s %s: resource not found", rel, row.Kind, ref)
					continue
				}
				in := &Input{Resource: res, Operation: "CREATE"}
				req := newRequest(res, in)
				cin := celInput(in, req)
				sub := set.Select(func(kind, key string) bool { return kind == KindMutatingPolicy && key == row.Policy })
				results, patched := e.evalMutatingPolicies(context.Background(), sub, in, req, &cin)
				status := "skip"
				for _, r := range results {
					if r.Status != StatusPass {
						t.Logf("%s: %s %s: %s: %s", rel, row.Kind, ref, r.Status, r.Message)
						status = "error"
						break
					}
					status = "pass"
				}
				if status == "pass" && expected != nil {
					k, ns, name := objKey(patched)
					want := findObject(expected, k, ns+"/"+name)
					if want == nil {
						// kyverno test skips a resource whose patched
						// form is not in the patchedResources file ("not
						// found in manifest"): no row, neither pass nor
						// fail. Portcullis agrees when it applied.
						t.Logf("%s: %s %s: not in %s: skipped by kyverno test", rel, row.Kind, ref, row.PatchedResources)
						notInManifest++
						passed++
						continue
					}
					if !jsonEqual(patched, want) {
						status = "fail"
						got, _ := yaml.Marshal(patched)
						w, _ := yaml.Marshal(want)
						if row.Result != "fail" {
							t.Logf("%s: %s %s: patched resource differs:\n--- got\n%s--- want\n%s", rel, row.Kind, ref, got, w)
						}
					}
				}
				if status == row.Result {
					passed++
				} else {
					t.Logf("%s: %s %s: got %s, want %s", rel, row.Kind, ref, status, row.Result)
				}
			}
		}
	}
	t.Logf("MutatingPolicy corpus: %d test files, %d of %d rows pass (%.1f%%), %d of them skipped by kyverno test (patched resource not in its file)",
		files, passed, rows, 100*float64(passed)/float64(max(rows, 1)), notInManifest)
	if files != 18 || rows != 35 {
		t.Errorf("found %d files and %d rows, want 18 and 35", files, rows)
	}
	// Issue 15 asks for 97% of the class; every row passes today, so a
	// regression of one row fails.
	if passed < rows {
		t.Errorf("%d of %d rows fail", rows-passed, rows)
	}
}
