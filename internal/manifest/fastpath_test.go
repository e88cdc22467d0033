package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/testing/corpus"
	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// slowDecode is the reference: sigs.k8s.io/yaml to JSON, then encoding/json.
func slowDecode(raw []byte) (any, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, err
	}
	var v any
	err = json.Unmarshal(js, &v)
	return v, err
}

// checkSame asserts that the fast path agrees with the reference whenever
// it claims to handle a document.
func checkSame(t *testing.T, name string, raw []byte) {
	t.Helper()
	var y any
	if yamlv2.Unmarshal(raw, &y) != nil {
		return
	}
	fast, ok := toJSONValue(y)
	if !ok {
		return
	}
	slow, err := slowDecode(raw)
	if err != nil {
		t.Fatalf("%s: fast path accepted what the reference rejects: %v", name, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: fast path differs from reference\nfast: %#v\nslow: %#v", name, fast, slow)
	}
}

func TestFastPathMatchesReference(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"scalars":      "a: 1\nb: 1.5\nc: yes\nd: ~\ne: '010'\nf: 0x1F\ng: 1e3\nh: 2026-01-01\ni: -0\n",
		"nested":       "spec:\n  containers:\n  - name: c\n    ports: [{containerPort: 80}]\n",
		"big int":      "n: 9007199254740993\n",
		"anchors":      "a: &x {k: v}\nb: *x\n",
		"empty values": "a:\nb: []\nc: {}\n",
	}
	for name, doc := range cases {
		checkSame(t, name, []byte(doc))
	}
}

// TestFastPathMatchesReferenceOnCorpus checks every YAML document of the
// conformance corpus.
func TestFastPathMatchesReferenceOnCorpus(t *testing.T) {
	t.Parallel()
	root := corpus.Dir(t)
	n := 0
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		chunks, _ := Split(p, data)
		for _, c := range chunks {
			checkSame(t, p, c.Data)
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no corpus documents checked")
	}
}

func FuzzFastPath(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("1: a\ntrue: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, "fuzz", data)
	})
}
