package manifest

import "testing"

func TestLines(t *testing.T) {
	t.Parallel()
	// The document starts on line 10 of its file, after two comment lines.
	raw := []byte(`# a comment
# another
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    container.apparmor.security.beta.kubernetes.io/shell: unconfined
spec:
  containers:
  - name: a
    image: nginx
  - name: b
    image: busybox
    securityContext:
      privileged: true
`)
	l := NewLines(raw, 10)
	cases := []struct {
		path string
		want int
	}{
		{"", 12},  // the first field, not the comments
		{"/", 12}, // the same
		{"/spec/containers/1/image/", 23},
		{"/spec/containers/1/image", 23},
		{"/spec/containers/1/", 22},
		{"/spec/containers/1/securityContext/privileged/", 25},
		{"/metadata/annotations/container.apparmor.security.beta.kubernetes.io/shell/", 17},
		// Missing fields: the deepest existing parent.
		{"/spec/containers/0/resources/limits/", 20},
		{"/spec/containers/7/image/", 19},
		{"/spec/volumes/0/hostPath/", 18},
	}
	for _, c := range cases {
		if got := l.Line(c.path); got != c.want {
			t.Errorf("Line(%q) = %d, want %d", c.path, got, c.want)
		}
	}
	// JSON is YAML: a JSON document is located too.
	js := NewLines([]byte("{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"hostNetwork\": true\n  }\n}\n"), 3)
	if got := js.Line("/spec/hostNetwork/"); got != 6 {
		t.Errorf("JSON Line(/spec/hostNetwork/) = %d, want 6", got)
	}
	// Text that does not parse answers the start line; nil answers 0.
	if got := NewLines([]byte("a: [\n"), 4).Line("/a/"); got != 4 {
		t.Errorf("unparseable Line = %d, want 4", got)
	}
	if got := (*Lines)(nil).Line("/a/"); got != 0 {
		t.Errorf("nil Line = %d, want 0", got)
	}
}

// TestDocumentLinesReuseTree checks that a decoded document locates its
// fields from the tree the one-parse path kept, and from its text when
// yaml.v2 decoded it, with the same answers; WithoutText drops both.
func TestDocumentLinesReuseTree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		tree bool
	}{
		{"# c\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n", true},
		{"# c\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: x\n    tty: yes\n", false},
	} {
		chunks, err := Split("f.yaml", []byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		docs, err := chunks[0].Decode()
		if err != nil || len(docs) != 1 {
			t.Fatalf("Decode = %v, %v", docs, err)
		}
		d := docs[0]
		if (d.root != nil) != tc.tree {
			t.Errorf("tree kept = %v, want %v", d.root != nil, tc.tree)
		}
		l := d.Lines()
		if got := []int{l.Line(""), l.Line("/spec/containers/0/image"), l.Line("/metadata/nope/")}; !equalInts(got, []int{2, 9, 4}) {
			t.Errorf("lines %v, want [2 9 4]", got)
		}
		if got := l.FieldLines([]string{"spec.containers[0].name", "kind"}); !equalInts(got, []int{8, 3}) {
			t.Errorf("FieldLines %v, want [8 3]", got)
		}
		if s := d.WithoutText(); s.Raw != nil || s.root != nil || s.Item != nil || s.Lines() != nil {
			t.Error("WithoutText kept the text")
		}
	}
}
