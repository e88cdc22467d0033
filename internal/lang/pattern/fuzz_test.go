package pattern

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzValidate matches random string patterns against random scalar values
// and random JSON documents against random JSON patterns; it must never
// panic and must only return nil or a *Error.
func FuzzValidate(f *testing.F) {
	seeds := []struct{ pat, val string }{
		{"?*", "x"}, {"!*:latest", "nginx:latest"}, {"<2Gi", "1Gi"}, {"100-200 | 500-600", "150"},
		{"1!-10", "0"}, {">=30m", "1h"}, {"a & !b", "a"}, {"-5--1", "-3"}, {"1e-5", "1"}, {"<", ""},
		{"!-", "-"}, {"1.5Gi-2.5Gi", "2Gi"}, {"|&|", "x"}, {">-1", "x"},
	}
	for _, s := range seeds {
		f.Add(s.pat, s.val, `{"a":{"(b)":"x","c":[{"d":1}]}}`, `{"a":{"b":"x","c":[{"d":1}]}}`)
	}
	f.Add("*", "", `{"^(a)":[{"b":1}],"X(c)":null,"<(d)":1,"=(e)":[1]}`, `{"a":[{"b":1}],"d":1,"e":[1,2]}`)
	f.Add("", "", `[[1],[2]]`, `[[1]]`)
	f.Add("", "", `{"metadata":{"labels":{"a*":"?*"}}}`, `{"metadata":{"labels":{"ab":""}}}`)
	f.Fuzz(func(t *testing.T, pat, val, jsonPat, jsonRes string) {
		values := []any{val, nil, true, float64(len(val)), float64(len(val)) + 0.5, []any{val, float64(1)}, map[string]any{"k": val}}
		p, err := Compile(map[string]any{"k": pat})
		if err != nil {
			t.Fatalf("Compile(string) failed: %v", err)
		}
		for _, v := range values {
			for _, floats := range []bool{false, true} {
				checkResult(t, p.ValidateWithOptions(map[string]any{"k": v}, Options{FloatNumbers: floats}))
			}
		}
		_ = Check(map[string]any{"k": pat})
		var jp, jr any
		if json.Unmarshal([]byte(jsonPat), &jp) != nil || json.Unmarshal([]byte(jsonRes), &jr) != nil {
			return
		}
		cp, err := Compile(jp)
		if err != nil {
			t.Fatalf("Compile(JSON) failed: %v", err)
		}
		checkResult(t, cp.Validate(jr))
		_ = Check(jp)
	})
}

func checkResult(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
	if pe.Skip && pe.Path != "" {
		t.Fatalf("skip error with path %q", pe.Path)
	}
}

// FuzzCheck runs the load-time syntax check and Compile on random JSON
// patterns and random keys; they must never panic, Check must only return
// *SyntaxError, and whatever Check accepts must compile.
func FuzzCheck(f *testing.F) {
	f.Add(`{"spec":{"=(securityContext)":{"=(runAsUser)":">0"}}}`, "(foo")
	f.Add(`{"^(a)":[]}`, "X()")
	f.Add(`{"a":"10-1"}`, "((a))")
	f.Add(`{"a":[]}`, "Xa)")
	f.Add(`{"a":">{{x}}"}`, "=(")
	f.Fuzz(func(t *testing.T, jsonPat, key string) {
		var jp any
		if json.Unmarshal([]byte(jsonPat), &jp) != nil {
			jp = nil
		}
		for _, p := range []any{jp, map[string]any{key: jp}, map[string]any{"k": key}} {
			err := Check(p)
			var se *SyntaxError
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("Check returned %T: %v", err, err)
			}
			if _, cerr := Compile(p); cerr != nil {
				t.Fatalf("Compile rejected JSON pattern: %v", cerr)
			}
		}
	})
}
