package manifest

import (
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"
)

// checkLineIndex asserts that a document's line index answers what
// parsing its text again answers, for the path of every node of the
// document, paths that go on past a field, and indexes past a list's
// end; it reports whether the document had an index.
func checkLineIndex(t *testing.T, name string, raw []byte) bool {
	t.Helper()
	docs, err := Chunk{Source: name, Data: raw, Line: 7}.Decode()
	if err != nil || len(docs) != 1 || docs[0].Item != nil {
		return false
	}
	x := docs[0].LineIndex()
	if x == nil {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		t.Fatalf("%s: decoded with a tree, but the text does not parse: %v", name, err)
	}
	paths := []string{"", "nope", "[0]"}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 50 {
			return
		}
		paths = append(paths, path, path+".zz-missing", path+"[0]", path+"[99999]")
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				walk(n.Content[i+1], p, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			}
		}
	}
	walk(doc.Content[0], "", 0)
	want := NewLines(raw, 7).FieldLines(paths)
	for i, p := range paths {
		if got := x.FieldLine(p); got != want[i] {
			t.Fatalf("%s: FieldLine(%q) = %d, the parsed text says %d", name, p, got, want[i])
		}
	}
	return true
}

func TestLineIndex(t *testing.T) {
	t.Parallel()
	cases := []struct {
		note, doc string
		indexed   bool
	}{
		{"pod", "# c\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    a.b/c: x\nspec:\n  containers:\n  - name: a\n    image: nginx\n  - name: b\n    securityContext: {privileged: true}\n", true},
		{"flow", "{a: [1, {b: [2, 3]}], c: {d: e}}\n", true},
		{"keys with dots", "a: 1\nb:\n  a: 2\n  \"a.b\": 3\nc: [[x, w], [z]]\n", true},
		{"multi-line scalars", "a: |\n  one\n  two\nb: >\n  three\nc: [\n  1,\n  2\n]\n", true},
		// nodeLine follows aliases; the index declines them.
		{"alias", "a: &x {b: 1}\nc: *x\n", false},
		{"json", `{"a": {"b": 1}}`, false},
	}
	for _, tc := range cases {
		if got := checkLineIndex(t, tc.note, []byte(tc.doc)); got != tc.indexed {
			t.Errorf("%s: indexed = %v, want %v", tc.note, got, tc.indexed)
		}
	}
	var nilIndex *LineIndex
	if got := nilIndex.FieldLine("a"); got != 0 {
		t.Errorf("nil index: FieldLine = %d, want 0", got)
	}
}

// TestLineIndexOnCorpus checks every YAML document of the conformance
// corpus, and that most of them have an index (the others were decoded
// without a tree: JSON, tags, Lists, duplicate keys).
func TestLineIndexOnCorpus(t *testing.T) {
	t.Parallel()
	checkCorpus(t, "line index", checkLineIndex, 0.9)
}

func FuzzLineIndex(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLineIndex(t, "fuzz", data)
	})
}
