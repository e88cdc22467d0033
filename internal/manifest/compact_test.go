package manifest

import (
	"reflect"
	"testing"
)

// checkCompact asserts that a document's object comes back equal from its
// compact form whenever NewCompact takes it, and reports whether it did.
func checkCompact(t *testing.T, name string, raw []byte) (accepted bool) {
	t.Helper()
	obj, _, err := decodeOne(raw)
	if err != nil || obj == nil {
		return false
	}
	c, ok := NewCompact(obj)
	if !ok {
		return false
	}
	back, err := c.Object()
	if err != nil {
		t.Fatalf("%s: compact form does not decode: %v", name, err)
	}
	if !reflect.DeepEqual(back, obj) {
		t.Fatalf("%s: compact form differs\nback: %#v\nobj:  %#v", name, back, obj)
	}
	return true
}

func TestCompactRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		note, doc string
		accepted  bool
	}{
		{"plain", "a: 1\nb: 1.5\nc: true\nd: ~\ne: '010'\nf: <x & y>\ng: [1, 2.25, -0, 1e300]\n", true},
		{"nested", "spec:\n  containers:\n  - name: c\n    env: [{name: A, value: \"\\u2028\"}]\n", true},
		{"big int", "count: 9007199254740993\n", true},
		{"escapes", "a: \"\\x80\\t\\u00e9\"\n", true},
		{"json", `{"a": {"b": [1, "x", null, true]}}`, true},
		// !!binary decodes to bytes that are no UTF-8: encoding/json
		// would replace them.
		{"binary", "a: !!binary gA==\n", false},
	}
	for _, tc := range cases {
		if got := checkCompact(t, tc.note, []byte(tc.doc)); got != tc.accepted {
			t.Errorf("%s: compact accepted = %v, want %v", tc.note, got, tc.accepted)
		}
	}
}

func TestCompactRefusesWhatJSONChanges(t *testing.T) {
	t.Parallel()
	for _, obj := range []map[string]any{
		{"a": "\xff"},
		{"\xfe": "a"},
		{"a": []any{int64(1)}},
		{"a": map[string]any{"b": float32(1)}},
	} {
		if _, ok := NewCompact(obj); ok {
			t.Errorf("NewCompact(%#v) accepted", obj)
		}
	}
}

// TestCompactOnCorpus checks every YAML document of the conformance
// corpus, and that nearly all of them have a compact form.
func TestCompactOnCorpus(t *testing.T) {
	t.Parallel()
	checkCorpus(t, "compact form", checkCompact, minCorpusAccepted)
}

func FuzzCompact(f *testing.F) {
	f.Add([]byte("a: 1\nb: [x, {c: yes}]\n"))
	f.Add([]byte("a: \"\\x80\"\nb: !!binary gA==\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCompact(t, "fuzz", data)
	})
}
