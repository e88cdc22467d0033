package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		in        string
		wantKinds []string
		wantErr   string
	}{
		{"single", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n", []string{"Pod"}, ""},
		{"multi with comments and empties", "# c\n---\napiVersion: v1\nkind: Pod\n---\n---\nkind: Service\n", []string{"Pod", "Service"}, ""},
		{"json", `{"apiVersion":"v1","kind":"ConfigMap"}`, []string{"ConfigMap"}, ""},
		{"list", "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n- kind: Service\n", []string{"Pod", "Service"}, ""},
		{"typed list", "apiVersion: v1\nkind: PodList\nitems:\n- kind: Pod\n", []string{"Pod"}, ""},
		{"bad yaml keeps good docs", "kind: Pod\n---\nkind: [\n---\nkind: Service\n", []string{"Pod", "Service"}, "f.yaml:3: invalid YAML"},
		{"scalar document", "just a string\n", nil, "want a mapping"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs, err := Decode("f.yaml", []byte(tc.in))
			var kinds []string
			for _, d := range docs {
				kinds = append(kinds, d.Kind())
			}
			if strings.Join(kinds, ",") != strings.Join(tc.wantKinds, ",") {
				t.Errorf("kinds = %v, want %v", kinds, tc.wantKinds)
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Source != "f.yaml" {
					t.Fatalf("error %v is not a *ParseError naming the file", err)
				}
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("kind: B\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "a.json"), []byte(`{"kind":"A"}`), 0o600))
	must(os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kind: X\n"), 0o600))
	must(os.MkdirAll(filepath.Join(dir, ".hidden"), 0o700))
	must(os.WriteFile(filepath.Join(dir, ".hidden", "c.yaml"), []byte("kind: C\n"), 0o600))
	docs, err := ReadPaths([]string{dir, "-"}, strings.NewReader("kind: S\n"))
	must(err)
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d.Kind())
	}
	if got := strings.Join(kinds, ","); got != "A,B,S" {
		t.Fatalf("kinds = %s, want A,B,S", got)
	}
	if _, err := ReadPaths([]string{filepath.Join(dir, "missing")}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing path error = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("kind: Pod\n---\nkind: List\nitems: [{kind: A}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Decode("fuzz", data)
	})
}

// billionLaughs is a document of nine levels of aliases, each naming the
// one before nine times: 9^9 strings expanded.
const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata: {name: laughs}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`
