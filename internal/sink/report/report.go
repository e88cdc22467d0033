package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/posture"
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

func severityName(s string) string {
	return severities[SeverityRank(s)-1]
}

// PolicyInfo is what the report shows about a policy beyond its results.
type PolicyInfo struct {
	// ControlID is the control the policy implements (the
	// portcullis.dev/control-id annotation), "" when none.
	ControlID string
	// Title, Description and Severity come from the policy's
	// annotations ("" when absent).
	Title, Description, Severity string
	// Rules is how many rules the policy has as written (autogen rules
	// not counted); rows name the rule when there are several.
	Rules int
	// LongestRule is the length of the longest rule name, autogen rules
	// included (it sizes the table's ID column).
	LongestRule int
}

// Catalog describes the policies of a scan, by CatalogKey.
type Catalog map[string]PolicyInfo

// CatalogKey is the key of a policy in a Catalog: its kind and its key
// ("ClusterPolicy/name", "Policy/namespace/name").
func CatalogKey(kind, key string) string { return kind + "/" + key }

// lookup returns the policy of r.
func (c Catalog) lookup(r *engine.Result) PolicyInfo {
	return c[CatalogKey(r.PolicyKind, r.Policy)]
}

// ID returns the name a result is listed under: its control (the
// result's own, else its policy's control ID), else the policy key,
// followed by "/rule" when the policy has several rules.
func (c Catalog) ID(r *engine.Result) string {
	if r.Control != "" {
		return r.Control
	}
	info := c.lookup(r)
	if info.ControlID != "" {
		return info.ControlID
	}
	if info.Rules > 1 {
		return r.Policy + "/" + r.Rule
	}
	return r.Policy
}

// Resource is one evaluated resource, as a report writer receives it.
type Resource struct {
	// File names the file the resource came from ("-" for stdin).
	File string
	// Line is the line of the resource's first field in File; 0 when
	// unknown, Document then locates it.
	Line int
	// Document is the 1-based position of the resource's document in File.
	Document int
	// Results are the engine's results for the resource.
	Results []engine.Result
	// Lines[k] is the line in File of the field Results[k] failed at, 0
	// when unknown; nil when no line is known.
	Lines []int
	// Fixes[k], when set, are the edits of File that fix Results[k] (its
	// JSONPatch written as changes of the text, manifest.PatchEdits); nil
	// when none is known. SARIF writes them as the result's fixes.
	Fixes [][]manifest.Edit
}

// Location is "FILE:LINE", or "FILE (document N)" when the line is not
// known.
func (r *Resource) Location() string {
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	return fmt.Sprintf("%s (document %d)", r.File, r.Document)
}

// line returns the line of result k: its field's, else the resource's.
func (r *Resource) line(k int) int {
	if k < len(r.Lines) && r.Lines[k] > 0 {
		return r.Lines[k]
	}
	return r.Line
}

// Finding is one result with where it is, what the report calls it and
// the edits that fix it.
type finding struct {
	*engine.Result
	line  int
	id    string
	edits []manifest.Edit
}

// findings returns the results of r a report lists (failures, warnings
// and errors; every result when all is set), most severe first, then by
// ID, policy and rule.
func (r *Resource) findings(c Catalog, all bool) []finding {
	var out []finding
	for k := range r.Results {
		res := &r.Results[k]
		if !all && !isFinding(res.Status) {
			continue
		}
		f := finding{Result: res, line: r.line(k), id: c.ID(res)}
		if k < len(r.Fixes) {
			f.edits = r.Fixes[k]
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b finding) int {
		if d := statusRank(a.Status) - statusRank(b.Status); d != 0 {
			return d
		}
		if d := SeverityRank(b.Severity) - SeverityRank(a.Severity); d != 0 {
			return d
		}
		if a.id != b.id {
			return strings.Compare(a.id, b.id)
		}
		if a.Policy != b.Policy {
			return strings.Compare(a.Policy, b.Policy)
		}
		return strings.Compare(a.Rule, b.Rule)
	})
	return out
}

func isFinding(s engine.Status) bool {
	return s == engine.StatusFail || s == engine.StatusWarn || s == engine.StatusError
}

// statusRank orders statuses in a resource's listing: failures first.
func statusRank(s engine.Status) int {
	switch s {
	case engine.StatusFail:
		return 0
	case engine.StatusError:
		return 1
	case engine.StatusWarn:
		return 2
	case engine.StatusPass:
		return 3
	}
	return 4
}

// Scan is the running tally of a scan: counts only, so its size does not
// grow with the number of resources or findings. Writers add each
// resource to it as they write it.
type Scan struct {
	// Policies and Rules count what was applied.
	Policies, Rules int
	// Catalog describes the policies (control IDs, titles).
	Catalog Catalog
	// Skipped are the input files (or their documents) that were not
	// scanned, with the reason: no Kubernetes resource, Helm templates.
	// Documents are found skipped as the scan goes: set it before Close,
	// which lists them (table: a count, JSON: "skipped", SARIF: a
	// notification each).
	Skipped []manifest.Skipped
	// Posture, when set, turns on the framework view: the summary lists
	// every control that ran with its compliance score (passing controls
	// included, named and ranked from Posture), Frameworks each get a
	// score, and the scan an overall compliance score. Set it before the
	// first resource.
	Posture posture.Catalog
	// Frameworks are the frameworks scored (with the framework view);
	// their Controls should be the controls of the framework that run.
	Frameworks []posture.Framework
	// Controls are the IDs of the controls selected (with the framework
	// view): those no resource was evaluated against are listed as
	// passed, as Kubescape lists controls that matched nothing.
	Controls []string
	// Ran, when set (with Posture and Frameworks), makes the framework
	// view a summary the scan was not asked for (a plain scan of the
	// built-in library): Ran lists the controls that ran, each framework
	// is scored over its controls among them (the others count as
	// FrameworkScore.NotRun), the control scores and the compliance score
	// are those of the controls evaluated, as without the view, and the
	// table keeps its failed-controls listing and ends with the framework
	// scores.
	Ran []string
	// NotScanned lists what could not be read (a kind the cluster
	// refused to list), with the reason; writers report it.
	NotScanned []NotScanned

	resources  int
	counts     map[engine.Status]int
	bySeverity map[string]int
	controls   map[string]*ControlSummary
	tallies    map[string]*controlTally
	worst      int // highest severity rank of a failure or error
}

// NotScanned is a part of the input a scan could not read.
type NotScanned struct {
	// What names it: a kind ("rbac.authorization.k8s.io/v1 ClusterRole"),
	// a file.
	What string `json:"what"`
	// Reason says why.
	Reason string `json:"reason"`
}

// NewScan starts the tally of a scan applying policies and rules.
func NewScan(policies, rules int, c Catalog) *Scan {
	return &Scan{Policies: policies, Rules: rules, Catalog: c,
		counts: map[engine.Status]int{}, bySeverity: map[string]int{}, controls: map[string]*ControlSummary{},
		tallies: map[string]*controlTally{}}
}

// Add counts the results of one resource.
func (s *Scan) Add(r *Resource) {
	s.resources++
	s.tally(r)
	var seen []*ControlSummary
	for k := range r.Results {
		res := &r.Results[k]
		s.counts[res.Status]++
		if res.Status == engine.StatusFail || res.Status == engine.StatusError {
			s.worst = max(s.worst, SeverityRank(res.Severity))
		}
		if res.Status != engine.StatusFail {
			continue
		}
		sev := severityName(res.Severity)
		s.bySeverity[sev]++
		id := s.Catalog.ID(res)
		cs := s.controls[id]
		if cs == nil {
			info := s.Catalog.lookup(res)
			cs = &ControlSummary{ID: id, Policy: res.Policy, Title: info.Title, Severity: sev}
			s.controls[id] = cs
		}
		cs.Failures++
		if !slices.Contains(seen, cs) {
			seen = append(seen, cs)
			cs.Resources++
		}
	}
}

// Resources is how many resources were added.
func (s *Scan) Resources() int { return s.resources }

// FailsAt reports whether any failure (or error) has a severity at or above
// rank (0 never fails).
func (s *Scan) FailsAt(rank int) bool {
	return rank > 0 && s.worst >= rank
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
	// Controls are the failed controls (or policies without a control
	// ID), most severe first.
	Controls []ControlSummary `json:"controls"`
	// Score is the percentage of passing results among pass+fail+warn.
	Score float64 `json:"score"`
	// With the framework view (Scan.Posture): ControlScores lists every
	// control that ran, Frameworks the score of each framework, and
	// ComplianceScore is the scan's (the average of ControlScores, as
	// Kubescape computes it).
	ControlScores   []ControlScore   `json:"controlScores,omitempty"`
	Frameworks      []FrameworkScore `json:"frameworks,omitempty"`
	ComplianceScore *float64         `json:"complianceScore,omitempty"`
	// NotScanned lists what could not be read.
	NotScanned []NotScanned `json:"notScanned,omitempty"`
}

// ControlSummary counts the failures of one control.
type ControlSummary struct {
	// ID is the control ID, or the policy key (and rule) without one.
	ID       string `json:"id"`
	Policy   string `json:"policy"`
	Title    string `json:"title,omitempty"`
	Severity string `json:"severity"`
	// Failures counts failed results; Resources the resources failing.
	Failures  int `json:"failures"`
	Resources int `json:"resources"`
}

// Summarize returns the counts so far.
func (s *Scan) Summarize() Summary {
	sum := Summary{Resources: s.resources, BySeverity: map[string]int{},
		Pass: s.counts[engine.StatusPass], Fail: s.counts[engine.StatusFail], Warn: s.counts[engine.StatusWarn],
		Error: s.counts[engine.StatusError], Skip: s.counts[engine.StatusSkip], Controls: []ControlSummary{}}
	for k, v := range s.bySeverity {
		sum.BySeverity[k] = v
	}
	for _, c := range s.controls {
		sum.Controls = append(sum.Controls, *c)
	}
	slices.SortFunc(sum.Controls, func(a, b ControlSummary) int {
		if d := SeverityRank(b.Severity) - SeverityRank(a.Severity); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	if n := sum.Pass + sum.Fail + sum.Warn; n > 0 {
		sum.Score = float64(int(float64(sum.Pass)/float64(n)*1000+0.5)) / 10
	} else {
		sum.Score = 100
	}
	sum.NotScanned = s.NotScanned
	if s.Posture != nil {
		s.scores(&sum)
	}
	return sum
}

// Writer writes a scan as its resources arrive: Put each resource in
// order (it is added to the Scan the writer was made with), then Close.
// A writer keeps no resource once Put returns, writes nothing before the
// first Put or Close, and buffers its output until Flush or Close.
type Writer interface {
	Put(r *Resource) error
	Flush() error
	Close() error
}

// ShortMessage returns r's message for people: on one line, without the
// "validation failure: validation error:" prefixes Kyverno stacks and
// without the "rule X failed at path /..." parts (the report names the
// field's line instead). The full message stays in Result.Message.
func ShortMessage(r *engine.Result) string {
	m := oneLine(r.Message)
	short := m
	for {
		if t, ok := strings.CutPrefix(short, "validation failure:"); ok {
			short = strings.TrimLeft(t, " ")
		} else if t, ok := strings.CutPrefix(short, "validation error:"); ok {
			short = strings.TrimLeft(t, " ")
		} else {
			break
		}
	}
	short = dropPathClauses(short)
	if short == "" {
		return m
	}
	return short
}

// dropPathClauses removes every " rule NAME failed at path PATH" from s.
func dropPathClauses(s string) string {
	const failed = " failed at path "
	if !strings.Contains(s, failed) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "rule ")
		if i < 0 || (i > 0 && s[i-1] != ' ') {
			if i < 0 {
				b.WriteString(s)
				break
			}
			b.WriteString(s[:i+5])
			s = s[i+5:]
			continue
		}
		name := s[i+5:]
		j := strings.IndexByte(name, ' ')
		if j < 0 || !strings.HasPrefix(name[j:], failed) {
			b.WriteString(s[:i+5])
			s = s[i+5:]
			continue
		}
		rest := name[j+len(failed):]
		k := strings.IndexByte(rest, ' ')
		if k < 0 {
			k = len(rest)
		}
		b.WriteString(strings.TrimRight(s[:i], " "))
		s = rest[k:]
	}
	return strings.TrimSpace(b.String())
}

// oneLine joins the lines of s and collapses runs of spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\t\r") && !strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
