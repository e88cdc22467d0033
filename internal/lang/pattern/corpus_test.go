package pattern

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/testing/corpus"
	"sigs.k8s.io/yaml"
)

// yamlDocs splits a multi-document YAML file and decodes each document.
func yamlDocs(t testing.TB, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var docs []map[string]any
	sep := regexp.MustCompile(`(?m)^---\s*$`)
	for _, chunk := range sep.Split(string(data), -1) {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(bytes.TrimSpace([]byte(chunk)), &doc); err != nil || doc == nil {
			continue
		}
		docs = append(docs, doc)
	}
	return docs
}

// corpusPattern is one pattern found in a corpus policy.
type corpusPattern struct {
	where   string
	pattern any
}

// policyPatterns extracts validate.pattern, validate.anyPattern[*] and
// (nested) foreach[*].pattern / anyPattern from a policy document.
func policyPatterns(doc map[string]any, file string) []corpusPattern {
	kind, _ := doc["kind"].(string)
	if kind != "ClusterPolicy" && kind != "Policy" {
		return nil
	}
	spec, _ := doc["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	var out []corpusPattern
	var fromValidate func(v map[string]any, where string)
	fromValidate = func(v map[string]any, where string) {
		if p, ok := v["pattern"]; ok {
			out = append(out, corpusPattern{where + ".pattern", p})
		}
		if ap, ok := v["anyPattern"].([]any); ok {
			for i, p := range ap {
				out = append(out, corpusPattern{where + ".anyPattern[" + strconv.Itoa(i) + "]", p})
			}
		}
		if fe, ok := v["foreach"].([]any); ok {
			for i, f := range fe {
				if fm, ok := f.(map[string]any); ok {
					fromValidate(fm, where+".foreach["+strconv.Itoa(i)+"]")
				}
			}
		}
	}
	for _, r := range rules {
		rm, _ := r.(map[string]any)
		if v, ok := rm["validate"].(map[string]any); ok {
			name, _ := rm["name"].(string)
			fromValidate(v, file+":"+name)
		}
	}
	return out
}

func walkCorpus(t *testing.T, fn func(path string)) {
	t.Helper()
	err := filepath.WalkDir(corpus.Kyverno(t), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return nil
		}
		fn(path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorpusPatternsPassCheck checks every pattern of every ClusterPolicy in
// the conformance corpus with Check and Compile.
func TestCorpusPatternsPassCheck(t *testing.T) {
	t.Parallel()
	count := 0
	walkCorpus(t, func(path string) {
		for _, doc := range yamlDocs(t, path) {
			for _, cp := range policyPatterns(doc, path) {
				count++
				if err := Check(cp.pattern); err != nil {
					t.Errorf("%s: Check: %v", cp.where, err)
				}
				if _, err := Compile(cp.pattern); err != nil {
					t.Errorf("%s: Compile: %v", cp.where, err)
				}
			}
		}
	})
	if count == 0 {
		t.Fatal("no patterns found in corpus")
	}
	t.Logf("checked %d corpus patterns", count)
}
