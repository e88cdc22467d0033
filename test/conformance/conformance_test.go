// Package conformance runs the Kyverno policy-library compatibility corpus
// (../shared/conformance/kyverno-policies, or $PORTCULLIS_CONFORMANCE_DIR)
// through `portcullis test` semantics and asserts the pass rate per class.
package conformance

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kyvernotest"
)

// thresholds are the minimum pass rates per class that the engine must
// keep. Classes without an entry are reported, not asserted.
var thresholds = map[string]float64{
	"validate":         0.97,
	"validate.cel":     0.97,
	"ValidatingPolicy": 0.97,
}

func corpusDir(t *testing.T) string {
	if d := os.Getenv("PORTCULLIS_CONFORMANCE_DIR"); d != "" {
		return d
	}
	d, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "conformance", "kyverno-policies"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("conformance corpus not found at %s (set PORTCULLIS_CONFORMANCE_DIR)", d)
	}
	return d
}

func TestKyvernoCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, err := kyvernotest.Discover([]string{dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no test files under %s", dir)
	}
	r := &kyvernotest.Runner{Engine: engine.New()}
	rep, err := r.Run(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ tests, pass, fail int }
	byClass := map[string]*tally{}
	for _, tr := range rep.Tests {
		c := byClass[tr.Class]
		if c == nil {
			c = &tally{}
			byClass[tr.Class] = c
		}
		c.tests++
		for _, row := range tr.Rows {
			if row.OK {
				c.pass++
			} else {
				c.fail++
			}
		}
	}
	classes := make([]string, 0, len(byClass))
	for c := range byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		n := byClass[c]
		rate := float64(n.pass) / float64(max(1, n.pass+n.fail))
		t.Logf("%-18s %3d test files  %5d entries passed  %5d failed  (%.1f%%)", c, n.tests, n.pass, n.fail, 100*rate)
		if min, ok := thresholds[c]; ok && rate < min {
			for _, tr := range rep.Tests {
				if tr.Class != c {
					continue
				}
				for _, row := range tr.Rows {
					if !row.OK {
						t.Logf("  %s: %s %s %s: %s", tr.File, row.Policy, row.Rule, row.Resource, row.Reason)
					}
				}
			}
			t.Errorf("class %s: pass rate %.1f%% is below %.0f%%", c, 100*rate, 100*min)
		}
	}
	if byClass["validate"] == nil || byClass["validate"].pass == 0 {
		t.Fatal("no validate-class results: the corpus was not evaluated")
	}
}
