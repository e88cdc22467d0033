package pattern

import (
	"encoding/json"
	"errors"
	"testing"

	"sigs.k8s.io/yaml"
)

// y parses a YAML/JSON snippet into the JSON-like value the engine uses.
func y(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test yaml %q: %v", s, err)
	}
	return v
}

// outcome classifies a Validate result as "pass", "fail", "skip" or "error".
func outcome(t testing.TB, err error) (string, *Error) {
	t.Helper()
	if err == nil {
		return "pass", nil
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	return pe.Outcome().String(), pe
}

func jsonNumber(s string) json.Number { return json.Number(s) }

func fmtJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
