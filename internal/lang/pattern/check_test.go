package pattern

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern string
		path    string // expected SyntaxError.Path; empty means valid
		reason  string // expected reason fragment
	}{
		{name: "valid pss style", pattern: `{spec: {=(securityContext): {=(runAsUser): ">0"}, containers: [{=(ports): [{=(hostPort): 0}]}]}}`},
		{name: "valid anchors", pattern: `{(a): 1, <(b): 2, =(c): 3, ^(d): [{e: 1}], X(f): null, +(g): 1}`},
		{name: "valid ranges", pattern: `{a: "100-200 | 500-600", b: "1Gi-2Gi", c: "1!-10", d: "1m-2h"}`},
		{name: "valid operators", pattern: `{a: ">0", b: "<=2Gi", c: ">= 30m", d: "!x", e: "!-10"}`},
		{name: "variables are not checked", pattern: `{a: ">{{ request.object.x }}", b: "{{a}}-{{b}}"}`},
		{name: "plain dashed string", pattern: `{image: "my-image-1"}`},
		{name: "unclosed conditional", pattern: `{spec: {"(foo": 1}}`, path: "/spec/(foo", reason: "missing closing parenthesis"},
		{name: "unclosed negation", pattern: `{"X(": 1}`, path: "/X(", reason: "missing closing parenthesis"},
		{name: "unclosed equality", pattern: `{"=(foo": 1}`, path: "/=(foo", reason: "missing closing parenthesis"},
		{name: "empty anchor", pattern: `{"()": 1}`, path: "/()", reason: "empty key"},
		{name: "empty modifier anchor", pattern: `{"X()": 1}`, path: "/X()", reason: "empty key"},
		{name: "modifier without paren", pattern: `{"Xfoo)": 1}`, path: "/Xfoo)", reason: "must be followed by '('"},
		{name: "nested anchor in key", pattern: `{"(=(foo))": 1}`, path: "/(=(foo))", reason: "cannot be nested"},
		{name: "unbalanced parens", pattern: `{"(foo))": 1}`, path: "/(foo))", reason: "unbalanced"},
		{name: "existence not list", pattern: `{^(containers): {image: x}}`, path: "/^(containers)", reason: "type list"},
		{name: "existence empty list", pattern: `{^(containers): []}`, path: "/^(containers)", reason: "at least one value"},
		{name: "existence item not map", pattern: `{^(containers): [x]}`, path: "/^(containers)/0", reason: "must be maps"},
		{name: "empty array", pattern: `{spec: {containers: []}}`, path: "/spec/containers", reason: "empty array"},
		{name: "comparison with word", pattern: `{a: ">abc"}`, path: "/a", reason: "needs a number, quantity or duration"},
		{name: "comparison with nothing", pattern: `{a: ">="}`, path: "/a", reason: "needs a number"},
		{name: "comparison in alternative", pattern: `{a: "x | <=y"}`, path: "/a", reason: "needs a number"},
		{name: "range bad bound", pattern: `{a: "1abc-2"}`, path: "/a", reason: "not a number, quantity or duration"},
		{name: "range reversed", pattern: `{a: "10-1"}`, path: "/a", reason: "lower bound exceeds upper bound"},
		{name: "range reversed quantities", pattern: `{a: "2Gi!-1Gi"}`, path: "/a", reason: "lower bound exceeds upper bound"},
		{name: "deep path", pattern: `{spec: {containers: [{image: ok}, {ports: [{hostPort: "<x"}]}]}}`, path: "/spec/containers/1/ports/0/hostPort", reason: "needs"},
		{name: "root string", pattern: `"<x"`, path: "/", reason: "needs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Check(y(t, tc.pattern))
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Check: unexpected error %v", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Check err = %v, want *SyntaxError", err)
			}
			if se.Path != tc.path {
				t.Errorf("path = %q, want %q (%v)", se.Path, tc.path, err)
			}
			if !strings.Contains(se.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", se.Reason, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "invalid pattern at "+tc.path+": ") {
				t.Errorf("Error() = %q", err.Error())
			}
			// Compile stays lenient: everything Check rejects for meaning
			// still compiles and matches like Kyverno would.
			if _, err := Compile(y(t, tc.pattern)); err != nil {
				t.Errorf("Compile rejected a JSON pattern: %v", err)
			}
		})
	}
}

func TestCheckUnsupportedTypes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pattern any
		path    string
	}{
		{name: "func", pattern: map[string]any{"a": func() {}}, path: "/a"},
		{name: "root struct", pattern: struct{}{}, path: "/"},
		{name: "in array", pattern: []any{1, []int{1}}, path: "/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var se *SyntaxError
			if err := Check(tc.pattern); !errors.As(err, &se) || se.Path != tc.path || !strings.Contains(se.Reason, "unsupported value type") {
				t.Fatalf("Check = %v, want unsupported type at %s", err, tc.path)
			}
		})
	}
}
