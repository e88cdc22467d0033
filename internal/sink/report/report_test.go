package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

func result(status engine.Status, severity, name string) engine.Result {
	return engine.Result{Policy: "p", Rule: "r", Status: status, Severity: severity,
		Resource: engine.Resource{Kind: "Pod", Namespace: "ns", Name: name}, Message: "m", Path: "/spec/"}
}

func TestSummarizeAndFailsAt(t *testing.T) {
	t.Parallel()
	s := &Scan{Resources: 3, Policies: 1, Rules: 1}
	s.Add([]engine.Result{
		result(engine.StatusPass, "high", "a"),
		result(engine.StatusFail, "high", "b"),
		result(engine.StatusFail, "", "c"),
		result(engine.StatusWarn, "low", "d"),
		result(engine.StatusSkip, "low", "e"),
	}, false)
	if len(s.Results) != 3 {
		t.Fatalf("kept %d results, want 3 (pass and skip only counted)", len(s.Results))
	}
	sum := s.Summarize()
	if sum.Pass != 1 || sum.Fail != 2 || sum.Warn != 1 || sum.Skip != 1 {
		t.Fatalf("summary = %+v", sum)
	}
	if sum.BySeverity["high"] != 1 || sum.BySeverity["medium"] != 1 {
		t.Fatalf("by severity = %v (missing severity counts as medium)", sum.BySeverity)
	}
	if sum.Score != 25 {
		t.Fatalf("score = %v, want 25 (1 pass of 4 pass/fail/warn)", sum.Score)
	}
	cases := []struct {
		failOn string
		want   bool
	}{{"none", false}, {"low", true}, {"medium", true}, {"high", true}, {"critical", false}}
	for _, tc := range cases {
		rank, err := ParseFailOn(tc.failOn)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.FailsAt(rank); got != tc.want {
			t.Errorf("FailsAt(%s) = %v, want %v", tc.failOn, got, tc.want)
		}
	}
	if _, err := ParseFailOn("severe"); err == nil || !strings.Contains(err.Error(), "unknown severity") {
		t.Fatalf("ParseFailOn(severe) error = %v", err)
	}
}

func TestWriteJSONAndTable(t *testing.T) {
	t.Parallel()
	s := &Scan{Resources: 2, Policies: 1, Rules: 1}
	s.Add([]engine.Result{result(engine.StatusFail, "high", "b"), result(engine.StatusFail, "low", "a"), result(engine.StatusPass, "", "c")}, false)
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary Summary         `json:"summary"`
		Results []engine.Result `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if got.Summary.Fail != 2 || got.Summary.Pass != 1 || len(got.Results) != 2 || got.Results[0].Resource.Name != "a" {
		t.Fatalf("decoded %+v", got)
	}
	empty := &Scan{}
	buf.Reset()
	if err := empty.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil || len(got.Results) != 0 {
		t.Fatalf("empty scan JSON invalid: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := s.WriteTable(&buf, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"RESOURCE", "Pod/ns/a", "Pod/ns/b", "1 passed, 2 failed", "Failures by severity: high 1, low 1."} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Pod/ns/c") {
		t.Errorf("passing result listed without All:\n%s", out)
	}
}
