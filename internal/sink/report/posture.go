package report

import (
	"math"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/posture"
)

// KindKubescapeControl is the PolicyKind of the results of a Kubescape
// control library; their skip results mean the control could not be
// evaluated (Kubescape's "skipped" status), not that it did not apply.
const KindKubescapeControl = "KubescapeControl"

// controlTally is what a scan knows about one control.
type controlTally struct {
	posture.Tally
	policy, title, severity, remediation string
	// unevaluated counts skip results of a control library: the control
	// could not run on the resource.
	unevaluated int
}

// ControlScore is one control's line of the framework view.
type ControlScore struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	Severity    string `json:"severity"`
	Remediation string `json:"remediation,omitempty"`
	// Failed and Passed count resources; Total is their sum (resources
	// the control applied to); Skipped the resources it did not apply to
	// or could not be evaluated on.
	Failed  int `json:"failed"`
	Passed  int `json:"passed"`
	Total   int `json:"total"`
	Skipped int `json:"skipped,omitempty"`
	// Status is passed, failed or skipped (could not be evaluated).
	Status string `json:"status"`
	// Score is the compliance score in percent (posture.ControlScore).
	Score float64 `json:"complianceScore"`
}

// FrameworkScore is one framework's score.
type FrameworkScore struct {
	Name string `json:"name"`
	// Controls is how many of its controls ran.
	Controls int `json:"controls"`
	// Failed is how many of them failed.
	Failed int `json:"failedControls"`
	// NotRun is how many of its controls did not run (the built-in
	// library's sets a plain scan leaves out; see Scan.Ran).
	NotRun int `json:"controlsNotRun,omitempty"`
	// Score is the compliance score in percent (posture.FrameworkScore).
	Score float64 `json:"complianceScore"`
}

// tally counts r's resource once per control it was evaluated against.
func (s *Scan) tally(r *Resource) {
	type state struct {
		t          *controlTally
		fail, pass bool
		uneval     bool
	}
	var seen []state
	for k := range r.Results {
		res := &r.Results[k]
		id := s.Catalog.ID(res)
		t := s.tallies[id]
		if t == nil {
			info := s.Catalog.lookup(res)
			t = &controlTally{policy: res.Policy, title: info.Title, severity: severityName(res.Severity), remediation: res.Remediation}
			s.tallies[id] = t
		}
		i := slices.IndexFunc(seen, func(x state) bool { return x.t == t })
		if i < 0 {
			seen = append(seen, state{t: t})
			i = len(seen) - 1
		}
		switch res.Status {
		case engine.StatusFail, engine.StatusWarn:
			seen[i].fail = true
		case engine.StatusPass:
			seen[i].pass = true
		case engine.StatusSkip:
			if res.PolicyKind == KindKubescapeControl {
				seen[i].uneval = true
			}
		}
	}
	for _, st := range seen {
		switch {
		case st.fail:
			st.t.Failed++
		case st.pass:
			st.t.Passed++
		default:
			st.t.Skipped++
			if st.uneval {
				st.t.unevaluated++
			}
		}
	}
}

// round1 rounds a percentage to one decimal.
func round1(f float64) float64 { return math.Round(f*10) / 10 }

// scores fills the framework view of sum.
func (s *Scan) scores(sum *Summary) {
	byID := map[string]float64{}
	sum.ControlScores = []ControlScore{}
	var total float64
	tallies := make(map[string]*controlTally, len(s.tallies))
	for id, t := range s.tallies {
		tallies[id] = t
	}
	listed := [][]string{s.Controls}
	if s.Ran == nil {
		listed = append(listed, frameworkControls(s.Frameworks)...)
	}
	for _, ids := range listed {
		for _, id := range ids {
			if tallies[id] == nil {
				tallies[id] = &controlTally{}
			}
		}
	}
	for id, t := range tallies {
		cs := ControlScore{ID: id, Name: t.title, Severity: t.severity, Remediation: t.remediation,
			Failed: t.Failed, Passed: t.Passed, Total: t.Total(), Skipped: t.Skipped, Status: "passed"}
		if c, ok := s.control(id); ok {
			if c.Name != "" {
				cs.Name = c.Name
			}
			if c.Severity != "" {
				cs.Severity = severityName(c.Severity)
			}
			if c.Remediation != "" {
				cs.Remediation = c.Remediation
			}
		}
		if cs.Name == "" {
			cs.Name = t.policy
		}
		if cs.Severity == "" {
			cs.Severity = severityName("")
		}
		skipped := t.Total() == 0 && t.unevaluated > 0
		switch {
		case t.Failed > 0:
			cs.Status = "failed"
		case skipped:
			cs.Status = "skipped"
		}
		score := posture.ControlScore(t.Tally, skipped)
		byID[id] = score
		total += score
		cs.Score = round1(score)
		sum.ControlScores = append(sum.ControlScores, cs)
	}
	slices.SortFunc(sum.ControlScores, func(a, b ControlScore) int {
		if d := SeverityRank(b.Severity) - SeverityRank(a.Severity); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	overall := 100.0
	if n := len(sum.ControlScores); n > 0 {
		overall = round1(total / float64(n))
	}
	sum.ComplianceScore = &overall
	for _, f := range s.Frameworks {
		fs := FrameworkScore{Name: f.Name}
		var scores []float64
		for _, id := range f.Controls {
			if s.Ran != nil && !slices.Contains(s.Ran, id) {
				fs.NotRun++
				continue
			}
			score, ok := byID[id]
			if !ok {
				// Selected but matched nothing: Kubescape's "irrelevant",
				// a passed control.
				score = 100
			}
			if t := s.tallies[id]; t != nil && t.Failed > 0 {
				fs.Failed++
			}
			scores = append(scores, score)
		}
		fs.Controls = len(scores)
		fs.Score = round1(posture.FrameworkScore(scores))
		sum.Frameworks = append(sum.Frameworks, fs)
	}
}

// frameworkControls returns the control IDs of each framework.
func frameworkControls(fws []posture.Framework) [][]string {
	out := make([][]string, len(fws))
	for i, f := range fws {
		out[i] = f.Controls
	}
	return out
}

// control looks id up in the posture catalog, when there is one.
func (s *Scan) control(id string) (posture.Control, bool) {
	if s.Posture == nil {
		return posture.Control{}, false
	}
	return s.Posture.Control(id)
}

// ComplianceScore is the scan's compliance score so far: the average of
// the compliance scores of every control that ran (Kubescape's summary
// score), with or without the framework view; 100 when none ran.
func (s *Scan) ComplianceScore() float64 {
	var sum Summary
	s.scores(&sum)
	return *sum.ComplianceScore
}
