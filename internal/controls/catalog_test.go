package controls

import (
	"testing"

	"github.com/portcullis/portcullis/internal/posture"
)

// TestCatalog checks that the built-in frameworks resolve to described
// controls of the library and that every hardening control is in both.
func TestCatalog(t *testing.T) {
	t.Parallel()
	c, err := Catalog()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Controls()); n != 29 {
		t.Errorf("%d controls, want 29 (every built-in policy)", n)
	}
	for _, name := range []string{"nsa", "cis"} {
		sel, err := posture.Select(c, []string{name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sel.Controls) < 15 {
			t.Errorf("%s: only %d controls", name, len(sel.Controls))
		}
		for _, id := range sel.Controls {
			ctl, _ := c.Control(id)
			if ctl.Name == "" || ctl.Severity == "" || ctl.Description == "" {
				t.Errorf("%s: control %+v not described", name, ctl)
			}
		}
	}
	cis, _ := posture.Select(c, []string{"cis"}, nil)
	for _, id := range []string{"PC-0001", "PC-0002", "PC-0003", "PC-0004", "PC-0005", "PC-0006", "PC-0007", "PC-0008", "PC-0009"} {
		if !cis.Has(id) {
			t.Errorf("cis lacks %s", id)
		}
		if ctl, _ := c.Control(id); ctl.Remediation == "" {
			t.Errorf("%s has no remediation", id)
		}
	}
}
