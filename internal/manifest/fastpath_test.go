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
// it claims to handle a document, and reports whether it did.
func checkSame(t *testing.T, name string, raw []byte) (accepted bool) {
	t.Helper()
	var y any
	if yamlv2.Unmarshal(raw, &y) != nil {
		return false
	}
	fast, ok := toJSONValue(y)
	if !ok {
		return false
	}
	slow, err := slowDecode(raw)
	if err != nil {
		t.Fatalf("%s: fast path accepted what the reference rejects: %v", name, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: fast path differs from reference\nfast: %#v\nslow: %#v", name, fast, slow)
	}
	return true
}

func TestFastPathMatchesReference(t *testing.T) {
	t.Parallel()
	cases := []struct {
		note, doc string
		accepted  bool
	}{
		{"scalars", "a: 1\nb: 1.5\nc: yes\nd: ~\ne: '010'\nf: 0x1F\ng: 1e3\nh: 2026-01-01\ni: -0\n", true},
		{"nested", "spec:\n  containers:\n  - name: c\n    ports: [{containerPort: 80}]\n", true},
		{"big int", "count: 9007199254740993\n", true},
		{"anchors", "a: &x {k: v}\nb: *x\n", true},
		{"empty values", "a:\nb: []\nc: {}\n", true},
		// YAML 1.1 reads the key n as false: not a string, so declined.
		{"boolean key", "n: 1\n", false},
		{"NaN", "x: .nan\n", false},
	}
	for _, tc := range cases {
		if got := checkSame(t, tc.note, []byte(tc.doc)); got != tc.accepted {
			t.Errorf("%s: fast path accepted = %v, want %v", tc.note, got, tc.accepted)
		}
	}
}

// minCorpusAccepted is the fraction of the corpus documents the fast path
// must accept (10443 of 10446 on 2026-12-05): a fast path that declines
// everything would pass the equivalence check vacuously.
const minCorpusAccepted = 0.99

// TestFastPathMatchesReferenceOnCorpus checks every YAML document of the
// conformance corpus, and that the fast path takes nearly all of them.
func TestFastPathMatchesReferenceOnCorpus(t *testing.T) {
	t.Parallel()
	root := corpus.Dir(t)
	docs, accepted := 0, 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		chunks, _ := Split(p, data)
		for _, c := range chunks {
			if checkSame(t, p, c.Data) {
				accepted++
			}
			docs++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	t.Logf("fast path accepted %d of %d corpus documents", accepted, docs)
	if docs == 0 {
		t.Fatal("no corpus documents checked")
	}
	if accepted == 0 || float64(accepted) < minCorpusAccepted*float64(docs) {
		t.Fatalf("fast path accepted %d of %d corpus documents, want at least %.0f%%", accepted, docs, 100*minCorpusAccepted)
	}
}

func FuzzFastPath(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("1: a\ntrue: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, "fuzz", data)
	})
}
