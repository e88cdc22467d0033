package manifest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"sigs.k8s.io/yaml"
)

// applyEdits applies edits (in text order, lines counted from first) to
// text, as a SARIF consumer applies replacements.
func applyEdits(t *testing.T, text string, first int, edits []Edit) string {
	t.Helper()
	lines := strings.SplitAfter(text, "\n")
	// Offsets of line starts, in runes.
	runes := []rune(text)
	offset := func(line, col int) int {
		o := 0
		for i := 0; i < line-first; i++ {
			o += len([]rune(lines[i]))
		}
		return o + col - 1
	}
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		s, end := offset(e.StartLine, e.StartColumn), offset(e.EndLine, e.EndColumn)
		runes = append(append(append([]rune{}, runes[:s]...), []rune(e.Text)...), runes[end:]...)
	}
	return string(runes)
}

func TestPatchEdits(t *testing.T) {
	t.Parallel()
	const pod = `# a pod
apiVersion: v1
kind: Pod
metadata:
  name: app   # the name
  labels: {app: web}
spec:
  hostPID: "true"
  containers:
    - name: app
      image: 'nginx:1.27'
      securityContext:
        privileged: true
    - name: side
      image: busybox
`
	cases := []struct {
		name, patch string
		noEdit      bool
		edits       int
	}{
		{name: "replace a plain scalar",
			patch: `[{"op":"add","path":"/spec/containers/0/securityContext/privileged","value":false}]`, edits: 1},
		{name: "replace quoted scalars",
			patch: `[{"op":"replace","path":"/spec/hostPID","value":false},{"op":"add","path":"/spec/containers/0/image","value":"nginx:1.28 # x"}]`, edits: 2},
		{name: "insert missing fields under one parent",
			patch: `[{"op":"add","path":"/spec/containers/1/securityContext/runAsNonRoot","value":true},` +
				`{"op":"add","path":"/spec/containers/1/securityContext/allowPrivilegeEscalation","value":false},` +
				`{"op":"add","path":"/spec/containers/1/resources/limits/memory","value":"128Mi"}]`, edits: 1},
		{name: "insert a missing list",
			patch: `[{"op":"add","path":"/spec/volumes/0/name","value":"tmp"},{"op":"add","path":"/spec/volumes/0/emptyDir","value":{}}]`, edits: 1},
		{name: "insert at the root and replace below",
			patch: `[{"op":"add","path":"/spec/automountServiceAccountToken","value":false},{"op":"add","path":"/metadata/namespace","value":"apps"},` +
				`{"op":"replace","path":"/metadata/name","value":"true"}]`, edits: 3},
		{name: "flow parent", patch: `[{"op":"add","path":"/metadata/labels/team","value":"a"}]`, noEdit: true},
		{name: "replace a mapping", patch: `[{"op":"add","path":"/spec/containers/0/securityContext","value":{}}]`, noEdit: true},
		{name: "remove", patch: `[{"op":"remove","path":"/spec/hostPID"}]`, noEdit: true},
		{name: "missing list item", patch: `[{"op":"add","path":"/spec/containers/2/name","value":"x"}]`, noEdit: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The document starts on line 3 of its file.
			edits, err := PatchEdits([]byte(pod), 3, "", c.patch)
			if c.noEdit {
				if !errors.Is(err, ErrNoEdit) || edits != nil {
					t.Fatalf("edits %+v, error %v: want ErrNoEdit", edits, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(edits) != c.edits {
				t.Fatalf("%d edits, want %d: %+v", len(edits), c.edits, edits)
			}
			got := applyEdits(t, pod, 3, edits)
			var gotObj map[string]any
			if err := yaml.Unmarshal([]byte(got), &gotObj); err != nil {
				t.Fatalf("edited text does not parse: %v\n%s", err, got)
			}
			orig, err := yaml.YAMLToJSON([]byte(pod))
			if err != nil {
				t.Fatal(err)
			}
			p, err := jsonpatch.DecodePatch([]byte(c.patch))
			if err != nil {
				t.Fatal(err)
			}
			patched, err := p.ApplyWithOptions(orig, &jsonpatch.ApplyOptions{EnsurePathExistsOnAdd: true})
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal(patched, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotObj, want) {
				t.Errorf("edited text:\n%s\ngives %v\nwant %v", got, gotObj, want)
			}
			if !strings.Contains(got, "# a pod") || !strings.Contains(got, "# the name") {
				t.Errorf("comments lost:\n%s", got)
			}
		})
	}
}

func TestPatchEditsListItem(t *testing.T) {
	t.Parallel()
	const list = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec:
    containers:
    - name: a
      image: nginx
`
	edits, err := PatchEdits([]byte(list), 1, "/items/0", `[{"op":"add","path":"/spec/containers/0/securityContext/privileged","value":false}]`)
	if err != nil || len(edits) != 1 {
		t.Fatalf("edits %+v, error %v", edits, err)
	}
	if e := edits[0]; !e.Insertion() || e.StartLine != 9 || e.StartColumn != 7 {
		t.Errorf("edit %+v: want an insertion before name at 9:7", e)
	}
	got := applyEdits(t, list, 1, edits)
	var obj struct {
		Items []struct {
			Spec struct {
				Containers []map[string]any `json:"containers"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(got), &obj); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if c := obj.Items[0].Spec.Containers[0]; !reflect.DeepEqual(c["securityContext"], map[string]any{"privileged": false}) || c["name"] != "a" {
		t.Errorf("container %v after\n%s", c, got)
	}
}
