package manifest

import (
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

type strictSpec struct {
	Name         string             `json:"name"`
	Count        *int32             `json:"count,omitempty"`
	Enabled      bool               `json:"enabled,omitempty"`
	Labels       map[string]string  `json:"labels,omitempty"`
	Items        []strictItem       `json:"items,omitempty"`
	Body         any                `json:"body,omitempty"`
	Free         map[string]any     `json:"free,omitempty"`
	Quantity     *resource.Quantity `json:"quantity,omitempty"`
	strictInline `json:",inline"`
}

type strictInline struct {
	Roles []string `json:"roles,omitempty"`
}

type strictItem struct {
	Value string `json:"value"`
}

type strictDoc struct {
	Kind string     `json:"kind"`
	Spec strictSpec `json:"spec"`
}

func TestCheckFields(t *testing.T) {
	t.Parallel()
	text := `kind: Thing
spec:
  name: a
  nmae: b
  Enabled: true
  count: 1.5
  labels: {a: 1}
  roles: [x]
  items:
  - value: v
    valeu: w
  body: {anything: [goes]}
  free: {also: anything}
  quantity: 12Zi
  status: {}
`
	docs, err := Decode("f.yaml", []byte("# header\n---\n"+text))
	if err != nil || len(docs) != 1 {
		t.Fatalf("Decode: %v %v", docs, err)
	}
	d := docs[0]
	got := CheckFields(d.Object, &strictDoc{}, StrictOptions{Loose: []string{"spec.status"}})
	var lines []string
	for _, fe := range got {
		lines = append(lines, fe.Error()+" @"+strconv.Itoa(FieldLine(d.Raw, d.Line, fe.Path)))
	}
	want := []string{
		"spec.Enabled: unknown field; did you mean enabled? @7",
		"spec.count: want an integer, got a number @8",
		"spec.items[0].valeu: unknown field; did you mean value? @13",
		"spec.labels.a: want a string, got a number @9",
		"spec.nmae: unknown field; did you mean name? @6",
	}
	if len(got) != len(want)+1 {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want)+1, strings.Join(lines, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(strings.Join(lines, "\n"), w) {
			t.Errorf("missing %q in:\n%s", w, strings.Join(lines, "\n"))
		}
	}
	if !strings.Contains(strings.Join(lines, "\n"), "spec.quantity: invalid value") {
		t.Errorf("quantity not checked by its own decoder:\n%s", strings.Join(lines, "\n"))
	}
}

func TestSplitLines(t *testing.T) {
	t.Parallel()
	chunks, err := Split("f.yaml", []byte("# c\n---\na: 1\n---\n---\n\nb: 2\n--- # x\nc: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, c := range chunks {
		got = append(got, c.Line)
	}
	// A document's line is that of its first content line (the blank line
	// after the separator is not the document's line).
	if len(got) != 3 || got[0] != 3 || got[1] != 7 || got[2] != 9 {
		t.Fatalf("chunk lines = %v, want [3 7 9]", got)
	}
	if _, err := Split("f.yaml", []byte("a: 1\n--- b\n")); err == nil || !strings.Contains(err.Error(), "f.yaml:2:") {
		t.Fatalf("bad separator error = %v, want one at f.yaml:2", err)
	}
}

// TestCheckFieldsObjectsFromTheAPIServer: objects read from the API server
// (unstructured, as the policy watcher gets them) carry int64 numbers and
// full metadata; they are as valid as the same YAML.
func TestCheckFieldsObjectsFromTheAPIServer(t *testing.T) {
	t.Parallel()
	type withMeta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name       string `json:"name"`
			Generation int64  `json:"generation,omitempty"`
		} `json:"metadata"`
		Spec strictSpec `json:"spec"`
	}
	obj := map[string]any{"kind": "X", "metadata": map[string]any{"name": "p", "generation": int64(3)},
		"spec": map[string]any{"name": "n", "count": int64(2)}}
	if errs := CheckFields(obj, withMeta{}, StrictOptions{}); len(errs) != 0 {
		t.Fatalf("int64 numbers refused: %v", errs)
	}
	obj["spec"].(map[string]any)["count"] = "two"
	if errs := CheckFields(obj, withMeta{}, StrictOptions{}); len(errs) != 1 || !strings.Contains(errs[0].Msg, "want an integer") {
		t.Fatalf("a string for an integer: %v", errs)
	}
}
