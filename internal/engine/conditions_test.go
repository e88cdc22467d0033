package engine

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/conditions"
	"github.com/portcullis/portcullis/internal/lang/variables"
)

// TestCheckConditionsAsWholeBlock checks that checkConditions answers as
// substituting the whole block and evaluating it (what it did before the
// plain-block path), and that the plain path is the one taken for the
// blocks of the built-in rules.
func TestCheckConditionsAsWholeBlock(t *testing.T) {
	pod := map[string]any{}
	if err := json.Unmarshal([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"a"}},
		"spec":{"containers":[{"name":"c","image":"nginx","securityContext":{"capabilities":{"drop":["ALL"],"add":["NET_RAW"]}}}]}}`), &pod); err != nil {
		t.Fatal(err)
	}
	e := New()
	in := &Input{Resource: pod}
	for _, tc := range []struct {
		name  string
		block string
		plain bool
	}{
		{"pss drop all", `{"any":[{"key":"ALL","operator":"AnyNotIn","value":"{{ request.object.spec.containers[0].securityContext.capabilities.drop || ` + "`[]`" + ` }}"},
			{"key":"{{ request.object.spec.containers[0].securityContext.capabilities.add || ` + "`[]`" + ` }}","operator":"AnyNotIn","value":["NET_BIND_SERVICE"]}]}`, true},
		{"all and any", `{"all":[{"key":"{{request.object.metadata.name}}","operator":"Equals","value":"p","message":"named p"}],
			"any":[{"key":"{{request.object.kind}}","operator":"NotEquals","value":"Pod"}]}`, true},
		{"empty any", `{"any":[],"all":null}`, true},
		{"list", `[{"key":"{{request.object.metadata.labels.app}}","operator":"Equals","value":"a"}]`, true},
		{"map result", `{"all":[{"key":"{{request.object.metadata.labels}}","operator":"Equals","value":{"app":"a"}}]}`, true},
		{"variable inside a value's map", `{"all":[{"key":"x","operator":"In","value":{"{{request.object.kind}}":"{{request.object.metadata.name}}"}}]}`, true},
		{"embedded", `{"all":[{"key":"name-{{request.object.metadata.name}}","operator":"Equals","value":"name-p"}]}`, true},
		{"at", `{"all":[{"key":"{{@}}","operator":"Equals","value":"p"}]}`, true},
		{"escaped", `{"all":[{"key":"\\{{ not.a.variable }}","operator":"Equals","value":"{{ not.a.variable }}"}]}`, true},
		{"unresolved in value", `{"any":[{"key":"a","operator":"Equals","value":"{{ request.object.nope.deeper }}"}]}`, true},
		{"unresolved in list", `[{"key":"{{ nothing.here }}","operator":"Equals","value":"a"}]`, true},
		{"bad operator", `{"all":[{"key":"a","operator":"Sideways","value":"a"}]}`, true},
		{"variable operator", `{"all":[{"key":"a","operator":"{{ request.object.kind }}","value":"a"}]}`, false},
		{"variable message", `{"all":[{"key":"a","operator":"Equals","value":"b","message":"{{ request.object.kind }}"}]}`, false},
		{"reference", `{"all":[{"key":"$(./value)","operator":"Equals","value":"a"}]}`, false},
		{"other key", `{"all":[],"none":[{"key":"{{ x }}"}]}`, false},
		{"not a list", `{"all":{"key":"a"}}`, false},
		{"not a mapping", `{"all":["a"]}`, false},
		{"scalar", `"{{ request.object.kind }}"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw any
			if err := json.Unmarshal([]byte(tc.block), &raw); err != nil {
				t.Fatal(err)
			}
			c := e.newContext(context.Background(), in, &request{operation: "CREATE"})
			// The plain path is taken when it answers or fails to substitute.
			_, _, _, ok, plainErr := plainConditions(c, raw)
			if taken := ok || plainErr != nil; taken != tc.plain {
				t.Errorf("plain path taken: %v, want %v", taken, tc.plain)
			}
			held, msg, subErr, err := checkConditions(c, raw)
			var wHeld bool
			var wMsg string
			var wSubErr, wErr error
			if sub, err := variables.SubstituteConditions(c, raw); err != nil {
				wSubErr = err
			} else {
				wHeld, wMsg, wErr = conditions.EvaluateRaw(sub)
			}
			if held != wHeld || msg != wMsg || !sameError(subErr, wSubErr) || !sameError(err, wErr) {
				t.Errorf("checkConditions: %v %q %v %v\nwhole block:     %v %q %v %v", held, msg, subErr, err, wHeld, wMsg, wSubErr, wErr)
			}
			if !reflect.DeepEqual(raw, mustJSON(t, tc.block)) {
				t.Errorf("the block was modified: %v", raw)
			}
		})
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
