// Package conformance runs the compatibility corpora (located by
// internal/testing/corpus) through `portcullis test` semantics: the Kyverno
// policy library (../shared/conformance/kyverno-policies), asserting the
// exact figures per class (see expected), and the Kubescape control library
// (kubescape-regolibrary, see TestKubescapeCorpus).
package conformance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kyvernotest"
	"github.com/portcullis/portcullis/internal/testing/corpus"
)

// unloadable is the class of test files that could not be loaded (an
// unparseable kyverno-test.yaml, a missing policy or resource file...).
// No file may land in it: it has no entry in expected, so any fails.
const unloadable = "(unloadable)"

// figures are the counts of one class: test files, and result rows
// (one per expected result and resource) that passed or failed.
type figures struct {
	files, pass, fail int
}

// class is what the corpus is expected to produce for one class.
type class struct {
	figures
	// floor marks a class the engine does not support yet: its pass count
	// may rise above figures.pass (reported, so the table can be raised)
	// but not fall. Without floor the figures must match exactly.
	floor bool
}

// expected holds the figures of every class of the corpus as of
// 2026-12-05. The validate-like classes and generate / GeneratingPolicy
// (issue 15) pass 100% and must stay exact, so
// one regressed row fails the test. The unsupported kinds keep their pass
// count as a floor; their file and row counts are exact, so rows cannot
// vanish. A class that is not listed here fails the test, and so does a
// listed class that no longer occurs: when support for a kind moves test
// files to another class, update this table in the same change.
var expected = map[string]class{
	// 5 validate rows fail since entries naming a rule the policy does not
	// have are "Not found" (issue 13): istio/enforce-ambient-mode-namespace
	// tests rule check-ambient-mode-enabled, the policy names it
	// check-amblient-mode-enabled. They passed as "Excluded" before.
	"validate":         {figures: figures{files: 106, pass: 1307, fail: 5}},
	"validate.cel":     {figures: figures{files: 79, pass: 1169}},
	"ValidatingPolicy": {figures: figures{files: 70, pass: 1085}},
	// 4 mutate rows fail as in kyverno test, for the same reason as the 5
	// validate rows: istio/add-ambient-mode-namespace names rule
	// check-ambient-mode-enabled, the policy's rule is
	// add-ambient-mode-enabled ("Not found"). Every other row passes.
	// psa/add-psa-labels' test-fail entry has no row (see MutatingPolicy).
	"mutate":   {figures: figures{files: 21, pass: 38, fail: 4}},
	"generate": {figures: figures{files: 3, pass: 4}},
	// Entries naming a resource their patchedResources file does not
	// hold get no row, as in kyverno test ("not found in manifest"): 2 of
	// other-mpol/prepend-image-registry (failed before) and 1 of
	// psa-mpol/add-psa-labels (test-fail, passed before as expected fail).
	"MutatingPolicy":   {figures: figures{files: 18, pass: 32}},
	"GeneratingPolicy": {figures: figures{files: 1, pass: 1}},
}

// classOf is the class a test report is counted in: its own, or
// unloadable when the test could not be loaded.
func classOf(tr kyvernotest.TestReport) string {
	if tr.Error != "" || tr.Class == "" {
		return unloadable
	}
	return tr.Class
}

// tally counts the report's files and rows per class.
func tally(rep *kyvernotest.Report) map[string]figures {
	got := map[string]figures{}
	for _, tr := range rep.Tests {
		c := classOf(tr)
		f := got[c]
		f.files++
		for _, row := range tr.Rows {
			if row.OK {
				f.pass++
			} else {
				f.fail++
			}
		}
		got[c] = f
	}
	return got
}

// verdict is the comparison of a tally with the expected figures.
type verdict struct {
	// regressions fail the test; each names its class.
	regressions []string
	// regressed are the classes with a regression, for the row listing.
	regressed map[string]bool
	// improvements are unsupported classes that pass more rows than
	// their floor: reported, never a failure.
	improvements []string
}

// compare checks got against want (see expected for the rules).
func compare(got map[string]figures, want map[string]class) verdict {
	v := verdict{regressed: map[string]bool{}}
	bad := func(c, format string, args ...any) {
		v.regressions = append(v.regressions, fmt.Sprintf("class %s: ", c)+fmt.Sprintf(format, args...))
		v.regressed[c] = true
	}
	for _, c := range sortedKeys(got, want) {
		g, seen := got[c]
		w, known := want[c]
		switch {
		case !known && c == unloadable:
			bad(c, "%d test files could not be loaded", g.files)
		case !known:
			bad(c, "not in the expected table (%d files, %d passed, %d failed)", g.files, g.pass, g.fail)
		case !seen:
			bad(c, "expected %d test files, found none", w.files)
		case g.files != w.files:
			bad(c, "%d test files, want %d", g.files, w.files)
		case g.pass+g.fail != w.pass+w.fail:
			bad(c, "%d result rows, want %d", g.pass+g.fail, w.pass+w.fail)
		case g.pass < w.pass:
			bad(c, "%d rows passed, want %d (%d failed)", g.pass, w.pass, g.fail)
		case g.pass > w.pass && w.floor:
			v.improvements = append(v.improvements, fmt.Sprintf("class %s: %d rows pass, above the floor of %d: raise it in expected", c, g.pass, w.pass))
		case g.pass > w.pass:
			// Cannot happen with equal row totals and no floor; kept
			// so that a table entry with failures is still exact.
			bad(c, "%d rows passed, want exactly %d: update expected", g.pass, w.pass)
		}
	}
	return v
}

func sortedKeys(got map[string]figures, want map[string]class) []string {
	seen := map[string]bool{}
	var keys []string
	for c := range got {
		seen[c] = true
		keys = append(keys, c)
	}
	for c := range want {
		if !seen[c] {
			keys = append(keys, c)
		}
	}
	sort.Strings(keys)
	return keys
}

func TestKyvernoCorpus(t *testing.T) {
	dir := corpus.Kyverno(t)
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
	if len(rep.Tests) != len(files) {
		t.Fatalf("%d test files discovered, %d reported", len(files), len(rep.Tests))
	}
	got := tally(rep)
	for _, c := range sortedKeys(got, nil) {
		n := got[c]
		rate := float64(n.pass) / float64(max(1, n.pass+n.fail))
		t.Logf("%-18s %3d test files  %5d entries passed  %5d failed  (%.1f%%)", c, n.files, n.pass, n.fail, 100*rate)
	}
	v := compare(got, expected)
	for _, s := range v.improvements {
		t.Log(s)
	}
	for _, tr := range rep.Tests {
		c := classOf(tr)
		if !v.regressed[c] || expected[c].floor {
			continue
		}
		if tr.Error != "" {
			t.Logf("  %s: %s", tr.File, tr.Error)
		}
		for _, row := range tr.Rows {
			if !row.OK {
				t.Logf("  %s: %s %s %s: %s", tr.File, row.Policy, row.Rule, row.Resource, row.Reason)
			}
		}
	}
	for _, s := range v.regressions {
		t.Error(s)
	}
}

// TestCompareCatchesRegressions proves that compare fails on one regressed
// row, on rows or files that vanish, on unknown classes and on unloadable
// test files, and only reports an unsupported class that improves.
func TestCompareCatchesRegressions(t *testing.T) {
	want := map[string]class{
		"validate": {figures: figures{files: 2, pass: 10}},
		"mutate":   {figures: figures{files: 1, fail: 3}, floor: true},
	}
	cases := []struct {
		note        string
		got         map[string]figures
		regressions int
		improved    bool
	}{
		{"exact", map[string]figures{"validate": {2, 10, 0}, "mutate": {1, 0, 3}}, 0, false},
		{"one validate row fails", map[string]figures{"validate": {2, 9, 1}, "mutate": {1, 0, 3}}, 1, false},
		{"validate rows vanish", map[string]figures{"validate": {2, 9, 0}, "mutate": {1, 0, 3}}, 1, false},
		{"a validate file moves away", map[string]figures{"validate": {1, 10, 0}, "mutate": {1, 0, 3}, "other": {1, 0, 0}}, 2, false},
		{"a class disappears", map[string]figures{"validate": {2, 10, 0}}, 1, false},
		{"unloadable file", map[string]figures{"validate": {2, 10, 0}, "mutate": {1, 0, 3}, unloadable: {1, 0, 1}}, 1, false},
		{"mutate improves", map[string]figures{"validate": {2, 10, 0}, "mutate": {1, 2, 1}}, 0, true},
		{"mutate rows vanish", map[string]figures{"validate": {2, 10, 0}, "mutate": {1, 0, 2}}, 1, false},
	}
	for _, tc := range cases {
		v := compare(tc.got, want)
		if len(v.regressions) != tc.regressions || (len(v.improvements) > 0) != tc.improved {
			t.Errorf("%s: regressions %q, improvements %q; want %d regressions, improved %v",
				tc.note, v.regressions, v.improvements, tc.regressions, tc.improved)
		}
	}
}

// TestUnloadableFilesHaveTheirOwnClass runs real test files that cannot be
// loaded (unparseable, missing policy and resource files) and checks that
// they are counted as unloadable, whatever their policies' class.
func TestUnloadableFilesHaveTheirOwnClass(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name, kyvernotest.DefaultFileName)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := []string{
		write("unparseable", "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nresults: [\n"),
		write("missing", "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: missing}\n"+
			"policies: [policy.yaml]\nresources: [resource.yaml]\n"+
			"results:\n- {policy: p, rule: r, kind: Pod, resources: [x], result: pass}\n"),
	}
	r := &kyvernotest.Runner{Engine: engine.New()}
	rep, err := r.Run(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	got := tally(rep)
	if got[unloadable].files != len(files) {
		t.Fatalf("tally = %+v, want %d unloadable files", got, len(files))
	}
	if v := compare(got, map[string]class{}); !v.regressed[unloadable] {
		t.Fatalf("unloadable files are not a regression: %+v", v)
	}
}
