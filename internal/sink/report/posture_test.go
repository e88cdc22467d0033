package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/posture"
)

// postureScan returns a scan with the framework view over three Pods and
// a Kubescape-style control that could not be evaluated: C-1 fails one of
// three Pods, C-2 passes, C-3 was skipped everywhere, C-4 matched nothing.
func postureScan() (*Scan, []*Resource) {
	cat := posture.NewStatic(
		[]posture.Framework{{Name: "nsa", Controls: []string{"C-1", "C-2", "C-4"}}, {Name: "mitre", Controls: []string{"C-1", "C-3"}}},
		[]posture.Control{{ID: "C-1", Name: "Privileged container", Severity: "high", Remediation: "Drop privileged."},
			{ID: "C-2", Name: "Host PID", Severity: "medium"}, {ID: "C-3", Name: "Host sensor", Severity: "low"}, {ID: "C-4", Name: "Unused", Severity: "low"}})
	s := NewScan(4, 4, Catalog{})
	s.Posture = cat
	s.Frameworks = cat.Frameworks()
	s.Controls = []string{"C-1", "C-2", "C-3", "C-4"}
	r := func(ctl string, st engine.Status, pod string) engine.Result {
		return engine.Result{Policy: ctl, PolicyKind: KindKubescapeControl, Control: ctl, Rule: "rule-" + ctl, Status: st,
			Resource: engine.Resource{Kind: "Pod", Namespace: "apps", Name: pod}}
	}
	var rs []*Resource
	for i, pod := range []string{"a", "b", "<script>alert(1)</script>"} {
		st := engine.StatusPass
		if i == 2 {
			st = engine.StatusFail
		}
		rs = append(rs, &Resource{File: "pods.yaml", Line: 1 + 10*i, Document: i + 1, Results: []engine.Result{
			r("C-1", st, pod), r("C-2", engine.StatusPass, pod), r("C-3", engine.StatusSkip, pod)}})
	}
	return s, rs
}

func TestFrameworkScores(t *testing.T) {
	t.Parallel()
	s, rs := postureScan()
	for _, r := range rs {
		s.Add(r)
	}
	sum := s.Summarize()
	got := map[string]ControlScore{}
	for _, c := range sum.ControlScores {
		got[c.ID] = c
	}
	want := map[string]struct {
		failed, total int
		status        string
		score         float64
	}{
		"C-1": {1, 3, "failed", 66.7}, "C-2": {0, 3, "passed", 100}, "C-3": {0, 0, "skipped", 0}, "C-4": {0, 0, "passed", 100},
	}
	for id, w := range want {
		c := got[id]
		if c.Failed != w.failed || c.Total != w.total || c.Status != w.status || c.Score != w.score {
			t.Errorf("%s: %+v, want %+v", id, c, w)
		}
	}
	if sum.ControlScores[0].ID != "C-1" || got["C-1"].Remediation != "Drop privileged." || got["C-1"].Name != "Privileged container" {
		t.Errorf("controls not ranked by severity or not described: %+v", sum.ControlScores)
	}
	// nsa: (66.67 + 100 + 100) / 3; mitre: (66.67 + 0) / 2; overall:
	// (66.67 + 100 + 0 + 100) / 4.
	if len(sum.Frameworks) != 2 || sum.Frameworks[0].Score != 88.9 || sum.Frameworks[1].Score != 33.3 || sum.Frameworks[0].Failed != 1 {
		t.Errorf("frameworks %+v", sum.Frameworks)
	}
	if sum.ComplianceScore == nil || *sum.ComplianceScore != 66.7 {
		t.Errorf("compliance score %v", sum.ComplianceScore)
	}
}

func TestTableFrameworkView(t *testing.T) {
	t.Parallel()
	s, rs := postureScan()
	var b bytes.Buffer
	w := NewTableWriter(&b, s, TableOptions{})
	for _, r := range rs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"  ID   NAME                  SEVERITY  FAILED/TOTAL  COMPLIANCE\n",
		"  C-1  Privileged container  high      1/3           66.7%\n",
		"  C-3  Host sensor           low       0/0           0.0% (skipped)\n",
		"Frameworks: nsa 88.9% (1 of 3 controls failed); mitre 33.3% (1 of 2 controls failed).\n",
		"Compliance score 66.7% (average of 4 controls).\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Failed controls:") {
		t.Errorf("the framework view replaces the failed controls:\n%s", out)
	}
}

// TestTableImplicitFrameworkView checks the framework scores a scan shows
// without being asked (Scan.Ran): the failed-controls listing stays, the
// frameworks are scored over the controls that ran, and the compliance
// score is the one the scan has without the view.
func TestTableImplicitFrameworkView(t *testing.T) {
	t.Parallel()
	plain, rs := postureScan()
	plain.Posture, plain.Frameworks, plain.Controls = nil, nil, nil
	for _, r := range rs {
		plain.Add(r)
	}
	s, rs := postureScan()
	s.Controls = nil
	s.Ran = []string{"C-1", "C-2", "C-3"} // C-4 (nsa) did not run
	var b bytes.Buffer
	w := NewTableWriter(&b, s, TableOptions{})
	for _, r := range rs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	want := "Frameworks: nsa 83.3% (1 of 2 controls failed, 1 not run); mitre 33.3% (1 of 2 controls failed).\n" +
		"Compliance score 55.6% (average of 3 controls).\n" +
		"Controls not run are in sets this scan did not apply; --framework nsa runs them all.\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("table does not end with\n%s\n%s", want, out)
	}
	if !strings.Contains(out, "Failed controls:") || strings.Contains(out, "Controls:\n") {
		t.Errorf("want the failed controls listing, not the control table:\n%s", out)
	}
	if got, was := s.ComplianceScore(), plain.ComplianceScore(); got != was {
		t.Errorf("compliance score %v with the summary, %v without", got, was)
	}
	sum := s.Summarize()
	if len(sum.Frameworks) != 2 || sum.Frameworks[0].NotRun != 1 || sum.Frameworks[0].Controls != 2 || sum.Frameworks[1].NotRun != 0 {
		t.Errorf("frameworks %+v", sum.Frameworks)
	}
}
