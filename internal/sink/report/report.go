package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
)

// Severity levels, lowest first.
var severities = []string{"low", "medium", "high", "critical"}

// SeverityRank orders severities: low 1, medium 2, high 3, critical 4. An
// empty or unknown severity ranks as medium.
func SeverityRank(s string) int {
	for i, x := range severities {
		if strings.EqualFold(s, x) {
			return i + 1
		}
	}
	return 2
}

// ParseFailOn checks a --fail-on value: a severity, or "none".
func ParseFailOn(s string) (int, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	for i, x := range severities {
		if strings.EqualFold(s, x) {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want low, medium, high, critical or none)", s)
}

// Scan is the outcome of scanning manifests.
type Scan struct {
	// Resources is how many resources were evaluated.
	Resources int `json:"resources"`
	// Policies and Rules count what was applied.
	Policies int             `json:"policies"`
	Rules    int             `json:"rules"`
	Results  []engine.Result `json:"results"`
	// Skipped are the input files (or their documents) that were not
	// scanned, with the reason: no Kubernetes resource, Helm templates.
	Skipped []manifest.Skipped `json:"skipped,omitempty"`
	// Omitted counts results left out of Results (passes and skips when
	// only findings are kept); they still count in the summary.
	Omitted map[engine.Status]int `json:"-"`
}

// Add records results; when keepAll is false, passing and skipped results
// are only counted, which keeps memory flat on large scans.
func (s *Scan) Add(results []engine.Result, keepAll bool) {
	for _, r := range results {
		if !keepAll && (r.Status == engine.StatusPass || r.Status == engine.StatusSkip) {
			if s.Omitted == nil {
				s.Omitted = map[engine.Status]int{}
			}
			s.Omitted[r.Status]++
			continue
		}
		s.Results = append(s.Results, r)
	}
}

// Summary counts results.
type Summary struct {
	Resources  int            `json:"resources"`
	Pass       int            `json:"pass"`
	Fail       int            `json:"fail"`
	Warn       int            `json:"warn"`
	Error      int            `json:"error"`
	Skip       int            `json:"skip"`
	BySeverity map[string]int `json:"failuresBySeverity"`
	// Score is the percentage of passing results among pass+fail+warn.
	Score float64 `json:"score"`
}

// Summarize counts results by status, and failures by severity.
func (s *Scan) Summarize() Summary {
	sum := Summary{Resources: s.Resources, BySeverity: map[string]int{},
		Pass: s.Omitted[engine.StatusPass], Skip: s.Omitted[engine.StatusSkip]}
	for _, r := range s.Results {
		switch r.Status {
		case engine.StatusPass:
			sum.Pass++
		case engine.StatusFail:
			sum.Fail++
			sum.BySeverity[severityName(r.Severity)]++
		case engine.StatusWarn:
			sum.Warn++
		case engine.StatusError:
			sum.Error++
		case engine.StatusSkip:
			sum.Skip++
		}
	}
	if n := sum.Pass + sum.Fail + sum.Warn; n > 0 {
		sum.Score = float64(int(float64(sum.Pass)/float64(n)*1000+0.5)) / 10
	} else {
		sum.Score = 100
	}
	return sum
}

func severityName(s string) string {
	return severities[SeverityRank(s)-1]
}

// FailsAt reports whether any failure (or error) has a severity at or above
// rank (0 never fails).
func (s *Scan) FailsAt(rank int) bool {
	if rank == 0 {
		return false
	}
	for _, r := range s.Results {
		if (r.Status == engine.StatusFail || r.Status == engine.StatusError) && SeverityRank(r.Severity) >= rank {
			return true
		}
	}
	return false
}

// TableOptions control the table.
type TableOptions struct {
	// All includes passing and skipped results (default: only fail, warn, error).
	All bool
	// Color uses ANSI colours.
	Color bool
}

// WriteTable prints one row per reported result, sorted by resource,
// policy and rule, then the summary.
func (s *Scan) WriteTable(w io.Writer, o TableOptions) error {
	rows := make([]engine.Result, 0, len(s.Results))
	for _, r := range s.Results {
		if o.All || r.Status == engine.StatusFail || r.Status == engine.StatusWarn || r.Status == engine.StatusError {
			rows = append(rows, r)
		}
	}
	sortResults(rows)
	if len(rows) > 0 {
		t := NewTable(w, "RESOURCE", "POLICY", "RULE", "SEVERITY", "RESULT", "PATH", "MESSAGE")
		for _, r := range rows {
			t.Row(r.Resource.String(), r.Policy, r.Rule, severityName(r.Severity),
				Colorize(string(r.Status), r.Status, o.Color), dash(r.Path), oneLine(r.Message))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	sum := s.Summarize()
	fmt.Fprintf(w, "Scanned %s with %s (%s): %d passed, %d failed, %d warnings, %d errors, %d skipped. Score %.1f%%.\n",
		plural(s.Resources, "resource", "resources"), plural(s.Policies, "policy", "policies"), plural(s.Rules, "rule", "rules"),
		sum.Pass, sum.Fail, sum.Warn, sum.Error, sum.Skip, sum.Score)
	if sum.Fail > 0 {
		var parts []string
		for i := len(severities) - 1; i >= 0; i-- {
			if n := sum.BySeverity[severities[i]]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", severities[i], n))
			}
		}
		fmt.Fprintf(w, "Failures by severity: %s.\n", strings.Join(parts, ", "))
	}
	return nil
}

// WriteJSON prints the scan with its summary. Results are encoded one at
// a time, so a large scan is never held in memory as one JSON document.
func (s *Scan) WriteJSON(w io.Writer) error {
	rows := append([]engine.Result(nil), s.Results...)
	sortResults(rows)
	bw := bufio.NewWriterSize(w, 64<<10)
	head, err := json.MarshalIndent(struct {
		Summary  Summary            `json:"summary"`
		Policies int                `json:"policies"`
		Rules    int                `json:"rules"`
		Skipped  []manifest.Skipped `json:"skipped,omitempty"`
	}{s.Summarize(), s.Policies, s.Rules, s.Skipped}, "", "  ")
	if err != nil {
		return err
	}
	// Reopen the object to append the results array.
	bw.Write(head[:len(head)-2])
	bw.WriteString(",\n  \"results\": [")
	for i, r := range rows {
		b, err := json.MarshalIndent(r, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(b)
	}
	if len(rows) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// sortResults orders rows by resource, policy and rule; resource keys are
// formatted once, not per comparison.
func sortResults(rows []engine.Result) {
	keys := make([]string, len(rows))
	for i := range rows {
		keys[i] = rows[i].Resource.String()
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := idx[i], idx[j]
		if keys[a] != keys[b] {
			return keys[a] < keys[b]
		}
		if rows[a].Policy != rows[b].Policy {
			return rows[a].Policy < rows[b].Policy
		}
		return rows[a].Rule < rows[b].Rule
	})
	sorted := make([]engine.Result, len(rows))
	for i, k := range idx {
		sorted[i] = rows[k]
	}
	copy(rows, sorted)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
