package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIgnoreMatch(t *testing.T) {
	t.Parallel()
	ig, err := ParseIgnore(".portcullisignore", strings.NewReader(`# comment
values.yaml
/top.yaml
charts/*/values.yaml
**/testdata/
docs/**
*.tpl.yaml
generated/zz_*
!generated/zz_keep.yaml
build/
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		dir   bool
		match bool
	}{
		{"values.yaml", false, true},
		{"a/b/values.yaml", false, true}, // no slash: any depth
		{"top.yaml", false, true},
		{"a/top.yaml", false, false}, // anchored
		{"charts/x/values.yaml", false, true},
		{"charts/x/y/other.yaml", false, false},
		{"testdata", true, true},
		{"a/b/testdata", true, true},
		{"a/b/testdata", false, false}, // directories only
		{"docs/a/b.yaml", false, true},
		{"docs", true, true},
		{"x.tpl.yaml", false, true},
		{"generated/zz_pod.yaml", false, true},
		{"generated/zz_keep.yaml", false, false}, // re-included
		{"build", true, true},
		{"build", false, false},
		{"deploy/pod.yaml", false, false},
	}
	for _, c := range cases {
		if got := ig.Match(c.path, c.dir); got != c.match {
			t.Errorf("Match(%q, dir=%v) = %v, want %v", c.path, c.dir, got, c.match)
		}
	}
	if _, err := ParseIgnore("f", strings.NewReader("ok\n[bad\n")); err == nil || !strings.Contains(err.Error(), "f:2: invalid pattern") {
		t.Errorf("malformed pattern: %v", err)
	}
	var nilIgnore *Ignore
	if nilIgnore.Match("a", false) || nilIgnore.Len() != 0 {
		t.Error("nil Ignore matches")
	}
}

func TestListTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"a.yaml":                         "kind: A\n",
		"b.json":                         "{}",
		"notes.txt":                      "x",
		".hidden/c.yaml":                 "kind: C\n",
		"chart/Chart.yaml":               "apiVersion: v2\n",
		"chart/values.yaml":              "x: 1\n",
		"chart/templates/d.yaml":         "kind: {{ .X }}\n",
		"chart/templates/_helpers.tpl":   "{{ define }}",
		"chart/templates/sub/e.yaml":     "kind: E\n",
		"chart/crds/f.yaml":              "kind: F\n",
		"notachart/templates/g.yaml":     "kind: G\n",
		"skip/h.yaml":                    "kind: H\n",
		IgnoreFile:                       "skip/\n",
		"chart/templates/ignored.yaml":   "x",
		"chart/templates/also/skip.yaml": "x",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, skipped, err := ListTree(dir, TreeOptions{SkipCharts: true, Exclude: []string{"ignored.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return filepath.ToSlash(r) }
	var got []string
	for _, f := range files {
		got = append(got, rel(f))
	}
	if want := "a.yaml b.json chart/Chart.yaml chart/crds/f.yaml chart/values.yaml notachart/templates/g.yaml"; strings.Join(got, " ") != want {
		t.Errorf("files = %v, want %s", got, want)
	}
	got = nil
	for _, s := range skipped {
		got = append(got, rel(s.Path))
		if s.Reason != ChartTemplateReason {
			t.Errorf("reason %q", s.Reason)
		}
	}
	if want := "chart/templates/also/skip.yaml chart/templates/d.yaml chart/templates/sub/e.yaml"; strings.Join(got, " ") != want {
		t.Errorf("skipped = %v, want %s", got, want)
	}
	// Without SkipCharts the templates are files like any other.
	files, skipped, _ = ListTree(dir, TreeOptions{})
	if len(skipped) != 0 || len(files) != 10 {
		t.Errorf("without SkipCharts: %d files, %d skipped", len(files), len(skipped))
	}
	// A file argument is read even when a pattern would exclude it.
	files, _, _ = ListTree(filepath.Join(dir, "skip/h.yaml"), TreeOptions{Exclude: []string{"*.yaml"}})
	if len(files) != 1 {
		t.Errorf("file argument: %v", files)
	}
	if _, _, err := ListTree(dir, TreeOptions{Exclude: []string{"[x"}}); err == nil {
		t.Error("malformed --exclude accepted")
	}
}

func TestParseErrorLocation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		line     int
		offset   int // -1: none
		msg      string
	}{
		// Lines count from the start of the file, in every document.
		{"third document", "kind: A\n---\nkind: B\n---\n# c\nkind: C\nmetadata:\n  labels: [\n", 8, -1, "did not find expected"},
		{"tab in second document", "kind: A\n---\nkind: B\nmetadata:\n\tname: x\n", 5, -1, "found character that cannot start any token"},
		{"invalid UTF-8", "kind: A\n---\nkind: B\nmetadata:\n  name: \xff\xfe\n", 5, 38, "byte offset 38: 0xff"},
		{"NUL byte", "kind: A\nmetadata: {name: \"a\x00\"}\n", 2, 27, "byte offset 27: 0x00"},
		{"binary", "\x89PNG\r\n\x1a\n\x00\x00", 1, 0, "byte offset 0: 0x89"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("f.yaml", []byte(c.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is no *ParseError", err)
			}
			if pe.Line != c.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, c.line, err)
			}
			if c.offset >= 0 && (!pe.HasOffset || pe.Offset != c.offset) {
				t.Errorf("offset %d (%v), want %d (%v)", pe.Offset, pe.HasOffset, c.offset, err)
			}
			if c.offset < 0 && pe.HasOffset {
				t.Errorf("offset %d given for %v", pe.Offset, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
}

func TestFieldLinesAndListItems(t *testing.T) {
	t.Parallel()
	text := "# head\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n-\n  apiVersion: v1\n  kind: Service\n  metadata:\n    name: s\n"
	docs, err := Decode("f.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.Kind()+"@"+d.Location())
	}
	if want := "ConfigMap@f.yaml:2 Pod@f.yaml:10 Service@f.yaml:14"; strings.Join(got, " ") != want {
		t.Errorf("documents %v, want %s", got, want)
	}
	lines := FieldLines(docs[0].Raw, docs[0].Line, []string{"metadata.name", "kind", "metadata.nope", "spec"})
	if want := []int{5, 3, 4, 2}; !equalInts(lines, want) {
		t.Errorf("FieldLines = %v, want %v", lines, want)
	}
	if l := FieldLines([]byte("a: [\n"), 3, []string{"a"}); l[0] != 0 {
		t.Errorf("unparsable text: line %d", l[0])
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
