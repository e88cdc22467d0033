package kubescape

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/testing/corpus"
)

// sameValue reports whether a and b are the same Rego value, numbers
// written the same (ast.Compare finds 1e+06 and 1000000 equal; a rule's
// sprintf does not).
func sameValue(a, b ast.Value) bool {
	switch x := a.(type) {
	case ast.Number:
		y, ok := b.(ast.Number)
		return ok && x == y
	case ast.Object:
		y, ok := b.(ast.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		same := true
		x.Foreach(func(k, v *ast.Term) {
			w := y.Get(k)
			same = same && w != nil && sameValue(v.Value, w.Value)
		})
		return same
	case *ast.Array:
		y, ok := b.(*ast.Array)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i := range x.Len() {
			if !sameValue(x.Elem(i).Value, y.Elem(i).Value) {
				return false
			}
		}
		return true
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b) && a.Compare(b) == 0
}

// checkDecoded asserts that d gives of text the value
// ast.InterfaceToValue gives of encoding/json's decoding of it.
func checkDecoded(t *testing.T, d *valueDecoder, note string, text []byte) {
	t.Helper()
	var x any
	if err := json.Unmarshal(text, &x); err != nil {
		t.Fatalf("%s: encoding/json: %v", note, err)
	}
	want, err := ast.InterfaceToValue(x)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.decode(text)
	if err != nil {
		t.Fatalf("%s: %v", note, err)
	}
	if !sameValue(got, want) {
		t.Fatalf("%s: decoded %v\nwant %v", note, got, want)
	}
}

func TestValueDecoder(t *testing.T) {
	d := newValueDecoder()
	cases := []struct{ note, text string }{
		{"small integers", `[0, -0, 7, -7, 123456, -123456, 80, 443]`},
		{"integers from 1e6 on", `[1000000, 1234567, -1000000, 9007199254740993, 12345678901234567890]`},
		{"fractions and exponents", `[1.5, 0.1, -12.5e3, 1E+2, 1e6, 1e-7, 0.0001, 1e300, 2.50]`},
		{"strings", `["", "a", "é", "\u00e9\n\t\"\\\/", "\ud83d\ude00", "<&>", "\u2028"]`},
		{"literals", `[true, false, null]`},
		{"nested", `{"a": {"b": [1, "x", null, true, {}, []], "c": {"d": {"e": [[1], [2.5]]}}}, "f": ""}`},
		{"keys that escape", `{"a\"b": 1, "\u00e9": 2, "": 3, "x.y/z": 4}`},
		{"the same strings again", `{"a": "a", "b": ["a", "a"], "0": 0, "1": "0"}`},
		{"an object", `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}}, "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": 0.5, "memory": "128Mi"}}}]}}}}`},
	}
	for _, tc := range cases {
		checkDecoded(t, d, tc.note, []byte(tc.text))
		checkDecoded(t, d, tc.note+" (again)", []byte(tc.text))
	}
	// What encoding/json does not encode is refused.
	for _, text := range []string{
		`{"a": 1, "a": 2}`, // duplicate names
		"[\"\xff\"]",       // not UTF-8
		`{} {}`,            // two values
		`{"a": `,           // truncated
		`[1e400]`,          // beyond float64
		``,
	} {
		if v, err := d.decode([]byte(text)); err == nil {
			t.Errorf("%q decoded to %v", text, v)
		}
	}
}

// TestValueDecoderOnCorpus decodes every JSON input of the Kubescape
// corpus's rule tests as the scan's compact form holds it (encoding/json's
// encoding of the decoded object).
func TestValueDecoderOnCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.Kubescape(t), "rules", "*", "test", "*", "input", "*.json"))
	if len(files) == 0 {
		t.Skip("no corpus inputs")
	}
	d := newValueDecoder()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var x any
		if json.Unmarshal(raw, &x) != nil {
			continue
		}
		text, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, d, f, text)
	}
	t.Logf("%d inputs", len(files))
}

// FuzzValueDecoder: whatever encoding/json decodes, its encoding decodes
// to the value ast.InterfaceToValue gives.
func FuzzValueDecoder(f *testing.F) {
	for _, s := range []string{`{"a": [1, 1.5, 1e6, "x", null, true]}`, `"\u00e9"`, `-0`, `[[[]]]`, `{"": {"": 1e-7}}`} {
		f.Add([]byte(s))
	}
	d := newValueDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		var x any
		if json.Unmarshal(data, &x) != nil {
			return
		}
		text, err := json.Marshal(x)
		if err != nil {
			return
		}
		if strings.Count(string(text), "[")+strings.Count(string(text), "{") > 5000 {
			return
		}
		checkDecoded(t, d, string(data), text)
	})
}

// TestScanLoadsObjectsFromJSON: a scan given the objects' JSON text
// builds their Rego values from it, and asks Load only for the objects a
// rule with an aggregator reads decoded and those without text; the
// findings are those of a scan of the whole objects. Text that does not
// decode skips the inputs it was needed for.
func TestScanLoadsObjectsFromJSON(t *testing.T) {
	l := baseLib()
	l["frameworks/test.json"] = `{"name": "TestFW", "activeControls": [{"controlID": "C-9001"}, {"controlID": "C-9002"}]}`
	l["controls/C-9002.json"] = `{"controlID": "C-9002", "name": "Wildcard roles", "baseScore": 5, "rulesNames": ["rule-subjects"]}`
	l["rules/rule-subjects/rule.metadata.json"] = `{"name": "rule-subjects", "ruleLanguage": "Rego",
		"attributes": {"resourcesAggregator": "subject-role-rolebinding"},
		"match": [{"apiGroups": ["rbac.authorization.k8s.io"], "apiVersions": ["v1"], "resources": ["Role", "RoleBinding"]}]}`
	l["rules/rule-subjects/raw.rego"] = `package armo_builtins

deny[msga] {
	subject := input[_]
	role := subject.relatedObjects[1]
	role.rules[_].verbs[_] == "*"
	msga := {"alertMessage": sprintf("subject %v", [subject.name]), "packagename": "armo_builtins", "alertScore": 3,
		"failedPaths": [], "fixPaths": [], "alertObject": {"externalObjects": subject}}
}
`
	lib := load(t, l)
	const namespaces, perNS = 10, 300
	var objs, ids []map[string]any
	rbac := map[int]bool{}
	add := func(o map[string]any) {
		md := o["metadata"].(map[string]any)
		ids = append(ids, map[string]any{"apiVersion": o["apiVersion"], "kind": o["kind"],
			"metadata": map[string]any{"name": md["name"], "namespace": md["namespace"]}})
		objs = append(objs, o)
	}
	for i := range namespaces * perNS {
		p := pod(fmt.Sprint("p", i), i%7 == 0)
		p["metadata"].(map[string]any)["namespace"] = fmt.Sprint("ns", i%namespaces)
		p["spec"].(map[string]any)["replicas"] = float64(i) * 1000.5 // numbers as JSON decodes them
		add(p)
	}
	for n := range namespaces {
		ns := fmt.Sprint("ns", n)
		rbac[len(objs)] = true
		add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
			"metadata": map[string]any{"name": "r", "namespace": ns},
			"rules":    []any{map[string]any{"verbs": []any{"*"}, "resources": []any{"pods"}}}})
		rbac[len(objs)] = true
		add(map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": "b", "namespace": ns},
			"roleRef":  map[string]any{"kind": "Role", "name": "r"},
			"subjects": []any{map[string]any{"kind": "User", "name": "u" + ns}}})
	}
	want, err := lib.Scan(context.Background(), objs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	loads, texts := map[int]int{}, map[int]int{}
	opts := ScanOptions{
		Load: func(i int) (map[string]any, error) {
			mu.Lock()
			defer mu.Unlock()
			loads[i]++
			return objs[i], nil
		},
		LoadJSON: func(i int) []byte {
			mu.Lock()
			defer mu.Unlock()
			texts[i]++
			if i%3 == 0 {
				return nil
			}
			b, err := json.Marshal(objs[i])
			if err != nil {
				t.Error(err)
			}
			return b
		},
	}
	got, err := lib.Scan(context.Background(), slices.Clone(ids), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b Finding) bool { return fmt.Sprint(a.Result) == fmt.Sprint(b.Result) }) {
		t.Errorf("findings differ from a scan of the whole objects: %d against %d", len(got), len(want))
	}
	fails := map[string]int{}
	for _, f := range got {
		if f.Status == engine.StatusFail {
			fails[f.Rule]++
		}
	}
	if fails["rule-privileged"] == 0 || fails["rule-subjects"] != namespaces {
		t.Fatalf("failures per rule: %v", fails)
	}
	for i := range objs {
		wantLoads := 0
		if rbac[i] || i%3 == 0 {
			wantLoads = 1
		}
		if loads[i] != wantLoads || texts[i] > 1 || rbac[i] && texts[i] != 0 {
			t.Fatalf("object %d (rbac %v): loaded %d times, its text asked %d times", i, rbac[i], loads[i], texts[i])
		}
	}
	// Text that does not decode: that namespace's inputs are skipped.
	opts.LoadJSON = func(i int) []byte {
		if i == 5 {
			return []byte(`{"spec": `)
		}
		b, _ := json.Marshal(objs[i])
		return b
	}
	got, err = lib.Scan(context.Background(), slices.Clone(ids), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		if f.Rule != "rule-privileged" {
			continue
		}
		ns5 := f.Resource.Namespace == "ns5"
		if ns5 != (f.Status == engine.StatusSkip) || ns5 && !strings.Contains(f.Message, "decode object JSON") {
			t.Fatalf("%s/%s: %s %q", f.Resource.Namespace, f.Resource.Name, f.Status, f.Message)
		}
	}
}
