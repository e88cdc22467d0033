package manifest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// leanOf is the reference for DecodeLean: the documents Decode gives,
// each made lean the way DecodeLean describes (the object built, then
// encoded by NewCompact).
func leanOf(c Chunk) ([]Lean, error) {
	return c.leanDocuments(c.Decode())
}

// checkLean asserts that DecodeLean gives what Decode gives made lean:
// the same documents, identities, objects (through the compact form),
// line indexes and errors. It reports whether the chunk was one document
// written from its tree (the path that builds no object).
func checkLean(t *testing.T, name string, raw []byte) (fromTree bool) {
	t.Helper()
	c := Chunk{Source: name, Index: 3, Data: raw, Line: 5, Offset: 40}
	got, err := c.DecodeLean()
	want, wantErr := leanOf(c)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%s: DecodeLean error %v, Decode error %v", name, err, wantErr)
	}
	var pe *ParseError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("%s: DecodeLean error %T, want *ParseError", name, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: DecodeLean gave %d documents, Decode %d", name, len(got), len(want))
	}
	full, _ := c.Decode()
	for i := range got {
		g, w := got[i], want[i]
		if g.Source != w.Source || g.Index != w.Index || g.Line != w.Line || !bytes.Equal(g.Raw, w.Raw) || (g.Raw == nil) != (w.Raw == nil) {
			t.Fatalf("%s: document %d: DecodeLean %+v, Decode %+v", name, i, g.Document, w.Document)
		}
		if !reflect.DeepEqual(g.Item, w.Item) {
			t.Fatalf("%s: document %d: item %+v, want %+v", name, i, g.Item, w.Item)
		}
		if !reflect.DeepEqual(g.Object, w.Object) {
			t.Fatalf("%s: document %d: object %#v, want %#v", name, i, g.Object, w.Object)
		}
		if (g.Compact == nil) != (w.Compact == nil) {
			t.Fatalf("%s: document %d: compact form %q, want %q", name, i, g.Compact, w.Compact)
		}
		if g.Compact != nil {
			back, err := g.Compact.Object()
			if err != nil || !reflect.DeepEqual(back, full[i].Object) {
				t.Fatalf("%s: document %d: compact form gives %#v (%v), want %#v", name, i, back, err, full[i].Object)
			}
			if !reflect.DeepEqual(g.Object, Identity(full[i].Object)) {
				t.Fatalf("%s: document %d: identity %#v, want %#v", name, i, g.Object, Identity(full[i].Object))
			}
		}
		if !reflect.DeepEqual(g.Lines, w.Lines) {
			t.Fatalf("%s: document %d: line index %+v, want %+v", name, i, g.Lines, w.Lines)
		}
		if g.root != nil || g.Item != nil && g.Item.root != nil {
			t.Fatalf("%s: document %d keeps its tree", name, i)
		}
	}
	if _, isJSON := decodeJSON(raw); isJSON || len(raw) > MaxDocumentBytes {
		return false
	}
	root := parseNode(raw)
	if root == nil || mayBeList(root) {
		return false
	}
	_, fromTree = compactNode(root, len(raw))
	return fromTree
}

func TestDecodeLean(t *testing.T) {
	t.Parallel()
	cases := []struct {
		note, doc string
		fromTree  bool
	}{
		{"pod", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: ns\n  labels: {a: b}\nspec:\n  containers:\n  - name: c\n    image: x:1\n    args: [\"-c\", -v, 'x', 1, 1.5, -0, -0.0, true, ~]\n", true},
		{"identity of other types", "apiVersion: 1\nkind: [a]\nmetadata:\n  name: {x: z}\n  namespace: null\n", true},
		{"metadata not a mapping", "apiVersion: v1\nkind: X\nmetadata: [a]\n", true},
		{"no identity", "a: 1\n", true},
		{"strings", "a: \"\\x80\\t\\u00e9\\u2028\"\nb: <x & y>\nc: |\n  line\n  two\n", true},
		{"big int", "count: 9007199254740993\nnum: 123456789\n", true},
		{"deep", "a: " + strings.Repeat("[", 900) + strings.Repeat("]", 900) + "\n", true},
		// Decoded as before: the object is built.
		{"list", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\n", false},
		{"items but no list", "kind: Thing\nitems: [1]\n", false},
		{"json", `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}}`, false},
		{"yaml 1.1", "kind: Pod\nhostNetwork: yes\n", false},
		{"tag", "kind: Pod\na: !!str 1\n", false},
		{"binary", "kind: Pod\na: !!binary gA==\n", false},
		{"duplicate key", "kind: Pod\nkind: Job\n", false},
		{"duplicate key quoted", "kind: Pod\n\"kind\": Job\n", false},
		{"int key", "kind: Pod\n1: a\n", false},
		{"boolean key", "kind: Pod\nspec: {on: a}\n", false},
		{"merge key", "a: &x {k: v}\nb:\n  <<: *x\n", false},
		{"anchors", "a: &x {k: v}\nb: *x\n", false},
		{"billion laughs", billionLaughs, false},
		{"too deep", "a: " + strings.Repeat("[", 1200) + strings.Repeat("]", 1200) + "\n", false},
		{"not a mapping", "- a\n", false},
		{"invalid", "a: [\n", false},
		{"empty", "# nothing\n", false},
		{"null", "null\n", false},
	}
	for _, tc := range cases {
		if got := checkLean(t, tc.note, []byte(tc.doc)); got != tc.fromTree {
			t.Errorf("%s: written from the tree = %v, want %v", tc.note, got, tc.fromTree)
		}
	}
}

// TestDecodeLeanOnCorpus checks every YAML document of the conformance
// corpus, and that nearly all of them are written from their tree.
func TestDecodeLeanOnCorpus(t *testing.T) {
	t.Parallel()
	checkCorpus(t, "lean decoding from the tree", checkLean, minNodeCorpusAccepted)
}

// TestBillionLaughs: a document whose aliases expand exponentially is
// refused at once, as the reference decoding (yaml.v2) refuses it.
func TestBillionLaughs(t *testing.T) {
	t.Parallel()
	c := Chunk{Source: "laughs.yaml", Index: 1, Data: []byte(billionLaughs), Line: 1}
	for name, decode := range map[string]func() error{
		"Decode":     func() error { _, err := c.Decode(); return err },
		"DecodeLean": func() error { _, err := c.DecodeLean(); return err },
	} {
		err := decode()
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "excessive aliasing") {
			t.Errorf("%s: error %v, want a ParseError for excessive aliasing", name, err)
		}
	}
}

func FuzzDecodeLean(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: b}\nspec: {x: [1, y]}\n"))
	f.Add([]byte("kind: List\nitems:\n- {kind: Pod}\n"))
	f.Add([]byte("a: &x {k: v}\nb: *x\nc: 0777\nd: \"\\x80\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLean(t, "fuzz", data)
	})
}
