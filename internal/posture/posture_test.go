package posture

import (
	"errors"
	"slices"
	"testing"
)

func testCatalog() *Static {
	return NewStatic(
		[]Framework{{Name: "NSA", Controls: []string{"C-1", "C-2"}}, {Name: "cis", Controls: []string{"C-2", "C-3"}}},
		[]Control{{ID: "C-1"}, {ID: "C-2"}, {ID: "C-3"}, {ID: "C-4"}})
}

func TestSelect(t *testing.T) {
	c := testCatalog()
	sel, err := Select(c, []string{"nsa", "CIS", "nsa"}, []string{"c-4"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sel.Controls, []string{"C-1", "C-2", "C-3", "C-4"}) || len(sel.Frameworks) != 2 {
		t.Fatalf("selection %+v", sel)
	}
	if !sel.Has("C-3") || sel.Has("C-9") {
		t.Errorf("Has is wrong for %v", sel.Controls)
	}
	if _, err := Select(c, []string{"mitre"}, nil); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown framework: %v", err)
	}
	if _, err := Select(c, nil, []string{"C-9"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown control: %v", err)
	}
}

func TestScores(t *testing.T) {
	for _, tc := range []struct {
		t       Tally
		skipped bool
		want    float64
	}{
		{Tally{}, false, 100},          // irrelevant: nothing matched
		{Tally{}, true, 0},             // could not run
		{Tally{Passed: 3}, false, 100}, // passed
		{Tally{Passed: 3, Failed: 1}, false, 75},
		{Tally{Failed: 2, Skipped: 5}, false, 0},
	} {
		if got := ControlScore(tc.t, tc.skipped); got != tc.want {
			t.Errorf("ControlScore(%+v, %v) = %v, want %v", tc.t, tc.skipped, got, tc.want)
		}
	}
	if got := FrameworkScore([]float64{100, 75, 50}); got != 75 {
		t.Errorf("FrameworkScore = %v", got)
	}
	if got := FrameworkScore(nil); got != 0 {
		t.Errorf("FrameworkScore(nil) = %v", got)
	}
}

func TestMerge(t *testing.T) {
	a := NewStatic([]Framework{{Name: "nsa", Controls: []string{"A"}}}, []Control{{ID: "A", Name: "first"}})
	b := NewStatic([]Framework{{Name: "NSA", Controls: []string{"B"}}, {Name: "mitre"}}, []Control{{ID: "A", Name: "second"}, {ID: "B"}})
	m := Merge(a, b)
	if fw := m.Frameworks(); len(fw) != 2 || fw[0].Controls[0] != "A" {
		t.Errorf("frameworks %+v", fw)
	}
	if c, _ := m.Control("A"); c.Name != "first" {
		t.Errorf("control A from %q", c.Name)
	}
	if _, ok := m.Control("B"); !ok {
		t.Error("B missing")
	}
}
