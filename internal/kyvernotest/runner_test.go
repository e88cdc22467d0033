package kyvernotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

func run(t *testing.T, dir string) *Report {
	t.Helper()
	files, err := Discover([]string{dir}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("Discover(%s) = %v, want one file", dir, files)
	}
	rep, err := (&Runner{Engine: engine.New()}).Run(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSuite(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/suite")
	if rep.Fail != 0 || rep.Passed() != 4 {
		var buf bytes.Buffer
		_ = rep.WriteText(&buf, RenderOptions{Detailed: true})
		t.Fatalf("pass=%d fail=%d\n%s", rep.Passed(), rep.Fail, buf.String())
	}
	tr := rep.Tests[0]
	if tr.Name != "team-label" || tr.Class != "validate" || tr.Policies != 1 || tr.Resources != 3 {
		t.Fatalf("test report = %+v", tr)
	}
	// The Deployment row is answered by the autogen rule.
	if row := tr.Rows[2]; row.Actual != "fail" || !strings.Contains(row.Message, "autogen-check-team") {
		t.Fatalf("deployment row = %+v", row)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "Test Summary: 4 tests passed and 0 tests failed\n") {
		t.Fatalf("summary line missing:\n%s", buf.String())
	}
}

func TestBrokenSuiteFailsWithReason(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/broken")
	if rep.Fail != 1 || rep.Passed() != 0 {
		t.Fatalf("pass=%d fail=%d, want the one entry failed", rep.Passed(), rep.Fail)
	}
	tr := rep.Tests[0]
	if !strings.Contains(tr.Error, "missing-policy.yaml") || !strings.Contains(tr.Error, "missing-resources.yaml") {
		t.Fatalf("load error does not name the missing files: %q", tr.Error)
	}
	if r := tr.Rows[0]; r.OK || !strings.Contains(r.Reason, "Policy not loaded") {
		t.Fatalf("row = %+v", r)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf, true); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Fail    int    `json:"fail"`
		Summary string `json:"summary"`
		Tests   []struct {
			Results []Row `json:"results"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if decoded.Fail != 1 || len(decoded.Tests[0].Results) != 1 || decoded.Summary != "Test Summary: 0 tests passed and 1 tests failed" {
		t.Fatalf("decoded = %+v", decoded)
	}
}

func TestRuleNameMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		want, got string
		ok        bool
	}{
		{"r", "r", true},
		{"r", "autogen-r", true},
		{"r", "autogen-cronjob-r", true},
		{"", "anything", true},
		{"r", "rr", false},
		{"r", "autogen-x", false},
	}
	for _, tc := range cases {
		if got := ruleNameMatches(tc.want, tc.got); got != tc.ok {
			t.Errorf("ruleNameMatches(%q, %q) = %v, want %v", tc.want, tc.got, got, tc.ok)
		}
	}
}

func TestDiscoverMissingPath(t *testing.T) {
	t.Parallel()
	if _, err := Discover([]string{"testdata/nope"}, ""); err == nil || !strings.Contains(err.Error(), "testdata/nope") {
		t.Fatalf("error = %v", err)
	}
}

func TestValidatingAdmissionPolicySuite(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/vap")
	if rep.Fail != 0 || rep.Passed() != 3 {
		var buf bytes.Buffer
		_ = rep.WriteText(&buf, RenderOptions{Detailed: true})
		t.Fatalf("pass=%d fail=%d\n%s", rep.Passed(), rep.Fail, buf.String())
	}
	if c := rep.Tests[0].Class; c != "ValidatingAdmissionPolicy" {
		t.Fatalf("class = %q", c)
	}
	if row := rep.Tests[0].Rows[1]; row.Message != "replicas must be at most 3" {
		t.Fatalf("failing row message = %q, want the messageExpression with the param", row.Message)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	files, err := Discover([]string{"testdata/suite", "testdata/vap"}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep, err := (&Runner{Engine: engine.New()}).Run(ctx, files)
	if !errors.Is(err, context.Canceled) || len(rep.Tests) != 0 {
		t.Fatalf("Run on a cancelled context = %d tests, %v; want none and context.Canceled", len(rep.Tests), err)
	}
}

// TestValuesOperationAndNamespaces checks what a test's values give each
// evaluation: request.operation per policy and resource (DELETE evaluates
// the old object), and the namespace labels of namespaceSelector.
func TestValuesOperationAndNamespaces(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/values")
	if rep.Fail != 0 || rep.Passed() != 5 {
		var buf bytes.Buffer
		_ = rep.WriteText(&buf, RenderOptions{Detailed: true})
		t.Fatalf("pass=%d fail=%d\n%s", rep.Passed(), rep.Fail, buf.String())
	}
	if row := rep.Tests[0].Rows[0]; row.Message != "deleting gone" {
		t.Fatalf("DELETE row message = %q, want the old object's name", row.Message)
	}
}

// TestExceptions: the exceptions files of a test apply to its policies
// as in kyverno test: exempted rows are skip, counted as passes.
func TestExceptions(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/exceptions")
	if rep.Fail != 0 || rep.Passed() != 8 || rep.Skip != 4 {
		var buf bytes.Buffer
		_ = rep.WriteText(&buf, RenderOptions{Detailed: true})
		t.Fatalf("pass=%d skip=%d fail=%d, want 8 passed (4 skips)\n%s", rep.Passed(), rep.Skip, rep.Fail, buf.String())
	}
	for _, row := range rep.Tests[0].Rows {
		if row.Expected == "skip" && !strings.Contains(row.Message, "due to policy exception") {
			t.Errorf("row %d: message %q does not name the exception", row.ID, row.Message)
		}
	}
}

// kyverno test compares the mutated resource with the patchedResources
// file: equal keeps the rule's status (pass, or skip when nothing was
// patched), different makes the row's result fail, which passes only
// when fail was expected; a resource the file does not hold ("not found
// in manifest") gets no row at all, neither counted nor listed.
func TestPatchedResources(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/mutate")
	tr := rep.Tests[0]
	if tr.Class != "mutate" || len(tr.Rows) != 5 {
		t.Fatalf("test report = %+v", tr)
	}
	want := []struct {
		ok     bool
		actual string
	}{{true, "pass"}, {true, "skip"}, {true, "fail"}, {false, "fail"}, {true, "pass"}}
	for i, w := range want {
		row := tr.Rows[i]
		if row.OK != w.ok || row.Actual != w.actual || row.ID != i+1 {
			t.Errorf("row %d = %+v, want ok=%v actual=%s", i+1, row, w.ok, w.actual)
		}
	}
	if r := tr.Rows[4]; !strings.Contains(r.Resource, "latest") {
		t.Errorf("row 5 is %s, want the latest Pod (the unlisted one has no row)", r.Resource)
	}
	if r := tr.Rows[3]; !strings.Contains(r.Reason, "/spec/containers/0/imagePullPolicy") {
		t.Errorf("row 4 reason %q does not name the differing field", r.Reason)
	}
}

// TestTargetResources checks that a row of a mutate rule with targets
// (mutate existing resources, kyverno test's targetResources), which
// portcullis test does not evaluate yet, fails as unsupported instead of
// passing or reading as a missing resource.
func TestTargetResources(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/targets")
	tr := rep.Tests[0]
	if len(tr.Rows) != 1 {
		t.Fatalf("test report = %+v", tr)
	}
	if r := tr.Rows[0]; r.OK || !strings.HasPrefix(r.Reason, "Unsupported: mutate rules with targets") {
		t.Errorf("row = %+v, want an unsupported failure", r)
	}
}

// TestGeneratedResource checks generatedResource entries as kyverno test
// checks them: the generated object must equal the expected file (the
// generate labels aside); a clone's source comes from
// cloneSourceResource, and without it the clone is an error.
func TestGeneratedResource(t *testing.T) {
	t.Parallel()
	rep := run(t, "testdata/generate")
	tr := rep.Tests[0]
	if tr.Class != "generate" || len(tr.Rows) != 4 {
		t.Fatalf("test report = %+v", tr)
	}
	want := []struct {
		ok     bool
		reason string
	}{
		{true, "Ok"},
		{false, `.spec.hard.pods: got "10", want "20"`},
		{true, "Ok"},
		{false, "Want pass, got error"},
	}
	for i, w := range want {
		row := tr.Rows[i]
		if row.OK != w.ok || !strings.Contains(row.Reason, w.reason) {
			t.Errorf("row %d = ok %v %q (%s), want ok %v %q", i+1, row.OK, row.Reason, row.Message, w.ok, w.reason)
		}
	}
}
