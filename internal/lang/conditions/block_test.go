package conditions

import (
	"errors"
	"testing"
)

func cond(key any, op string, value any, msg string) Condition {
	return Condition{Key: key, Operator: op, Value: value, Message: msg}
}

func TestEvaluateBlock(t *testing.T) {
	t.Parallel()
	nameBad := cond("temp", "Equals", "temp2", "invalid name")
	nameOK := cond("temp", "Equals", "temp", "invalid name")
	fooBad := cond("bar", "Equals", "bar2", "invalid foo")
	fooOK := cond("bar", "Equals", "bar", "invalid foo")
	foo2Bad := cond("bar", "Equals", "bar2", "invalid foo2")
	silentBad := cond("a", "Equals", "b", "")
	cases := []struct {
		name    string
		block   Block
		want    bool
		wantMsg string
	}{
		{"empty block holds", Block{}, true, ""},
		{"nil any and all hold", Block{Any: nil, All: nil}, true, ""},
		{"non-nil empty any never holds", Block{Any: []Condition{}}, false, ""},
		{"empty all holds", Block{All: []Condition{}}, true, ""},
		{"any all fail joins messages", Block{Any: []Condition{nameBad, fooBad}}, false, "invalid name; invalid foo"},
		{"any first holds reports its message", Block{Any: []Condition{nameOK, fooOK}}, true, "invalid name"},
		{"any second holds reports only it", Block{Any: []Condition{nameBad, fooOK}}, true, "invalid foo"},
		{"all holds joins messages", Block{All: []Condition{nameOK, fooOK}}, true, "invalid name; invalid foo"},
		{"all stops at first failure", Block{All: []Condition{nameOK, fooBad, foo2Bad}}, false, "invalid foo"},
		{"any holds all fails", Block{Any: []Condition{nameOK}, All: []Condition{nameOK, fooBad}}, false, "invalid foo"},
		{"any and all fail", Block{Any: []Condition{nameBad, fooBad}, All: []Condition{nameOK, foo2Bad}}, false, "invalid name; invalid foo; invalid foo2"},
		{"empty messages skipped", Block{Any: []Condition{silentBad, fooBad}}, false, "invalid foo"},
		{"no messages at all", Block{All: []Condition{silentBad}}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg, err := EvaluateBlock(tc.block)
			if err != nil {
				t.Fatalf("EvaluateBlock error: %v", err)
			}
			if got != tc.want || msg != tc.wantMsg {
				t.Errorf("EvaluateBlock = (%v, %q), want (%v, %q)", got, msg, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestEvaluateBlockUnknownOperator(t *testing.T) {
	t.Parallel()
	bad := cond("a", "Exists", "a", "m")
	cases := []struct {
		name  string
		block Block
	}{
		{"in any", Block{Any: []Condition{bad}}},
		{"in all", Block{All: []Condition{bad}}},
		{"after a failing any", Block{Any: []Condition{cond("a", "Equals", "b", ""), bad}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg, err := EvaluateBlock(tc.block)
			if !errors.Is(err, ErrUnknownOperator) {
				t.Fatalf("error = %v, want ErrUnknownOperator", err)
			}
			if got || msg != "" {
				t.Errorf("EvaluateBlock = (%v, %q), want (false, \"\")", got, msg)
			}
		})
	}
}

func TestEvaluateList(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		conds   []Condition
		want    bool
		wantMsg string
		wantErr bool
	}{
		{"empty holds", nil, true, "", false},
		{"all hold joined without space", []Condition{cond("a", "Equals", "a", "m1"), cond(1.0, "LessThan", 2.0, "m2")}, true, "m1;m2", false},
		{"first failure message", []Condition{cond("a", "Equals", "a", "m1"), cond("a", "Equals", "b", "m2"), cond("a", "Equals", "c", "m3")}, false, "m2", false},
		{"unknown operator", []Condition{cond("a", "Bogus", "a", "m1")}, false, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, msg, err := EvaluateList(tc.conds)
			if tc.wantErr {
				if !errors.Is(err, ErrUnknownOperator) {
					t.Fatalf("error = %v, want ErrUnknownOperator", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EvaluateList error: %v", err)
			}
			if got != tc.want || msg != tc.wantMsg {
				t.Errorf("EvaluateList = (%v, %q), want (%v, %q)", got, msg, tc.want, tc.wantMsg)
			}
		})
	}
}
