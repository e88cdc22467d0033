package conditions

import (
	"strings"
	"testing"
)

func TestEvaluateRaw(t *testing.T) {
	cond := func(key any, op string, value any) map[string]any {
		return map[string]any{"key": key, "operator": op, "value": value, "message": "m"}
	}
	for _, tc := range []struct {
		name    string
		raw     any
		want    bool
		wantErr string
	}{
		{"nil holds", nil, true, ""},
		{"list is all", []any{cond("a", "Equals", "a"), cond("b", "Equals", "c")}, false, ""},
		{"any block", map[string]any{"any": []any{cond("a", "Equals", "x"), cond("b", "Equals", "b")}}, true, ""},
		{"block not a list", map[string]any{"all": "x"}, false, "must be a list"},
		{"entry not a mapping", []any{"x"}, false, "must be a mapping"},
		{"wrong type", 42, false, "{any, all} or a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := EvaluateRaw(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("EvaluateRaw = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
