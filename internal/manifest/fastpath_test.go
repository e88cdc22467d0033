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
	checkCorpus(t, "fast path", checkSame, minCorpusAccepted)
}

// checkCorpus runs check (which fails t on a disagreement with the
// reference) on every YAML document of the conformance corpus and fails
// unless the path named label took at least the fraction least of them: a
// path that declines everything would pass the equivalence vacuously.
func checkCorpus(t *testing.T, label string, check func(*testing.T, string, []byte) bool, least float64) {
	t.Helper()
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
			if check(t, p, c.Data) {
				accepted++
			}
			docs++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	t.Logf("%s accepted %d of %d corpus documents", label, accepted, docs)
	if docs == 0 {
		t.Fatal("no corpus documents checked")
	}
	if accepted == 0 || float64(accepted) < least*float64(docs) {
		t.Fatalf("%s accepted %d of %d corpus documents, want at least %.0f%%", label, accepted, docs, 100*least)
	}
}

func FuzzFastPath(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("1: a\ntrue: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, "fuzz", data)
	})
}

// checkNodeSame asserts that the one-parse path (decodeNode) agrees with
// the reference whenever it takes a document, and reports whether it did.
func checkNodeSame(t *testing.T, name string, raw []byte) (accepted bool) {
	t.Helper()
	obj, root, ok := decodeNode(raw)
	if !ok {
		return false
	}
	if root == nil {
		t.Fatalf("%s: one-parse path kept no tree", name)
	}
	slow, err := slowDecode(raw)
	if err != nil {
		t.Fatalf("%s: one-parse path accepted what the reference rejects: %v", name, err)
	}
	if !reflect.DeepEqual(any(obj), slow) {
		t.Fatalf("%s: one-parse path differs from reference\nfast: %#v\nslow: %#v", name, obj, slow)
	}
	return true
}

func TestNodePathMatchesReference(t *testing.T) {
	t.Parallel()
	cases := []struct {
		note, doc string
		accepted  bool
	}{
		{"plain", "a: 1\nb: 1.5\nc: true\nd: ~\ne: '010'\nf: x\ng: -c\nh: 2026-01-01\ni: -0\nj: null\nk: \"yes\"\n", true},
		{"nested", "spec:\n  containers:\n  - name: c\n    args: [\"-c\", -v, 'x']\n    ports: [{containerPort: 80}]\n", true},
		{"empty values", "a:\nb: []\nc: {}\n", true},
		{"block scalars", "a: |\n  line\n  two\nb: >\n  folded\n  text\n", true},
		{"big int", "count: 9007199254740993\n", true},
		{"number-like strings", "cpu: 500m\nmemory: 128Mi\nv: 1.2.3\nip: 10.0.0.1\nf: -v\n", true},
		// What YAML 1.1 and 1.2 read differently is left to yaml.v2.
		{"yes", "a: yes\n", false},
		{"on", "a: on\n", false},
		{"y key", "y: 1\n", false},
		{"octal", "mode: 0777\n", false},
		{"underscores", "n: 1_000\n", false},
		{"hex", "n: 0x1F\n", false},
		{"exponent", "n: 1e3\n", false},
		{"inf", "x: .inf\n", false},
		{"NaN", "x: .nan\n", false},
		{"tag", "a: !!str 1\n", false},
		{"merge", "a: &x {k: v}\nb:\n  <<: *x\n", false},
		// Aliases are left to yaml.v2, which bounds their expansion.
		{"anchors", "a: &x {k: v}\nb: *x\n", false},
		{"billion laughs", billionLaughs, false},
		{"duplicate key", "a: 1\na: 2\n", false},
		{"int key", "1: a\n", false},
		{"not a mapping", "- a\n", false},
		{"invalid", "a: [\n", false},
		{"too big", "num: 123456789012345678901234567890\n", false},
		// Plain strings strconv reads as numbers: declined, whatever
		// yaml.v2 makes of them.
		{"base 60", "t: 12:30\n", false},
		{"hex float", "x: 0x1p-2\n", false},
		{"binary", "x: 0b101\n", false},
		{"octal 0o", "x: 0o17\n", false},
		{"signed nan", "x: -NaN\n", false},
	}
	for _, tc := range cases {
		if got := checkNodeSame(t, tc.note, []byte(tc.doc)); got != tc.accepted {
			t.Errorf("%s: one-parse path accepted = %v, want %v", tc.note, got, tc.accepted)
		}
	}
}

// TestNodePathMatchesReferenceOnCorpus checks every YAML document of the
// conformance corpus against the reference, and that the one-parse path
// takes nearly all of them.
func TestNodePathMatchesReferenceOnCorpus(t *testing.T) {
	t.Parallel()
	checkCorpus(t, "one-parse path", checkNodeSame, minNodeCorpusAccepted)
}

// minNodeCorpusAccepted is the fraction of the corpus documents the
// one-parse path must take.
const minNodeCorpusAccepted = 0.9

func FuzzNodePath(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("1: a\ntrue: b\n"))
	f.Add([]byte("a: &x {k: v}\nb: *x\nc: 0777\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNodeSame(t, "fuzz", data)
	})
}

// BenchmarkDecodeOne compares the yaml.v2 decoding followed by a yaml.v3
// parse for lines (what a failing document cost before) with the one-parse
// path, on a Pod of hack/genmanifests -pods.
func BenchmarkDecodeOne(b *testing.B) {
	pod := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: debugger-000000\n  namespace: data\n  labels:\n    app.kubernetes.io/name: debugger\n    team: data\nspec:\n  hostNetwork: true\n  securityContext:\n    runAsUser: 0\n  containers:\n  - name: shell\n    image: docker.io/library/ubuntu:24.04\n    command: [\"sleep\", \"infinity\"]\n    ports:\n    - containerPort: 2222\n      hostPort: 2222\n    securityContext:\n      privileged: true\n      capabilities:\n        add: [\"SYS_ADMIN\"]\n    volumeMounts:\n    - name: host-root\n      mountPath: /host\n  volumes:\n  - name: host-root\n    hostPath:\n      path: /\n")
	b.Run("v2+lines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeV2(pod); err != nil {
				b.Fatal(err)
			}
			NewLines(pod, 1)
		}
	})
	b.Run("v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeV2(pod); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("node", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := decodeNode(pod); !ok {
				b.Fatal("declined")
			}
		}
	})
	// What scan --library keeps of a document: identity, compact form
	// and line index, from the decoded object (as before DecodeLean) and
	// written from the tree (DecodeLean). 2026-12-06, one core of a
	// loaded machine, alternated: 61-67 µs, 444 allocations (31.6 kB) ->
	// 53-61 µs, 367 allocations (29.0 kB); yaml.v3's parse is 84% of the
	// latter.
	c := Chunk{Source: "pod.yaml", Index: 1, Data: pod, Line: 1}
	b.Run("lean from object", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if l, err := leanOf(c); err != nil || l[0].Compact == nil {
				b.Fatal("not lean", err)
			}
		}
	})
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if l, err := c.DecodeLean(); err != nil || l[0].Compact == nil {
				b.Fatal("not lean", err)
			}
		}
	})
}
