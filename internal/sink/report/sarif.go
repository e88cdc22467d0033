package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
)

// Build names the tool in a SARIF log.
type Build struct {
	Name, Version string
}

// SARIFSchema is the JSON schema of SARIF 2.1.0 logs.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// SARIFWriter writes a scan as a SARIF 2.1.0 log (OASIS Static Analysis
// Results Interchange Format), the format code-scanning services read:
// one run, one reporting descriptor (rule) per policy, by control ID when
// the policy has one, and one result per finding located by file and
// line. Results are streamed one resource at a time like JSONWriter's;
// only findings are listed (failures, warnings, errors). The files a scan
// skipped (Scan.Skipped) are notifications of the run's invocation.
type SARIFWriter struct {
	w     *bufio.Writer
	scan  *Scan
	build Build
	rules map[string]int // catalog key -> rule index
	byID  map[string]int // rule ID -> rule index
	n     int
	head  bool
	err   error
}

var _ Writer = (*SARIFWriter)(nil)

// NewSARIFWriter returns a writer of the SARIF log on w, counting into
// scan.
func NewSARIFWriter(w io.Writer, scan *Scan, b Build) *SARIFWriter {
	return &SARIFWriter{w: bufio.NewWriterSize(w, 64<<10), scan: scan, build: b}
}

// sarifRule is a SARIF reportingDescriptor.
type sarifRule struct {
	ID                   string           `json:"id"`
	Name                 string           `json:"name,omitempty"`
	ShortDescription     *sarifMessage    `json:"shortDescription,omitempty"`
	FullDescription      *sarifMessage    `json:"fullDescription,omitempty"`
	Help                 *sarifMessage    `json:"help,omitempty"`
	DefaultConfiguration *sarifRuleConfig `json:"defaultConfiguration,omitempty"`
	Properties           map[string]any   `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Kind       string          `json:"kind"`
	Level      string          `json:"level"`
	Message    sarifMessage    `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Fixes      []sarifFix      `json:"fixes,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

// sarifFix is a SARIF fix: changes of the artifact that fix a result.
type sarifFix struct {
	Description     *sarifMessage         `json:"description,omitempty"`
	ArtifactChanges []sarifArtifactChange `json:"artifactChanges"`
}

type sarifArtifactChange struct {
	ArtifactLocation sarifArtifact      `json:"artifactLocation"`
	Replacements     []sarifReplacement `json:"replacements"`
}

// sarifReplacement replaces DeletedRegion (empty for an insertion) by
// InsertedContent.
type sarifReplacement struct {
	DeletedRegion   sarifTextRegion `json:"deletedRegion"`
	InsertedContent *sarifContent   `json:"insertedContent,omitempty"`
}

type sarifTextRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

type sarifContent struct {
	Text string `json:"text"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// sarifInvocation is a SARIF invocation: it carries the skipped files as
// notifications.
type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string              `json:"level"`
	Message    sarifMessage        `json:"message"`
	Descriptor *sarifDescriptorRef `json:"descriptor,omitempty"`
	Locations  []sarifLocation     `json:"locations,omitempty"`
}

type sarifDescriptorRef struct {
	ID string `json:"id"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// securitySeverity is the CVSS-like score code-scanning services rank
// security findings by.
var securitySeverity = map[string]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}

// start writes the head of the log with the rules, once.
func (s *SARIFWriter) start() {
	if s.head {
		return
	}
	s.head = true
	keys := make([]string, 0, len(s.scan.Catalog))
	for k := range s.scan.Catalog {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return strings.Compare(s.ruleID(a), s.ruleID(b))
	})
	s.rules = make(map[string]int, len(keys))
	rules := make([]sarifRule, 0, len(keys))
	for i, k := range keys {
		info := s.scan.Catalog[k]
		s.rules[k] = i
		_, name, _ := strings.Cut(k, "/")
		sev := severityName(info.Severity)
		r := sarifRule{ID: s.ruleID(k), Name: name,
			DefaultConfiguration: &sarifRuleConfig{Level: "error"},
			Properties: map[string]any{"security-severity": securitySeverity[sev], "severity": sev,
				"tags": []string{"security", "kubernetes"}}}
		if info.Title != "" {
			r.ShortDescription = &sarifMessage{Text: info.Title}
		}
		if info.Description != "" {
			r.FullDescription = &sarifMessage{Text: oneLine(info.Description)}
		}
		rules = append(rules, r)
	}
	// The controls of a library that are not Kyverno policies of the
	// catalog (a Kubescape library's): one rule each, from the posture
	// catalog.
	s.byID = make(map[string]int, len(rules))
	for i, r := range rules {
		if _, dup := s.byID[r.ID]; !dup {
			s.byID[r.ID] = i
		}
	}
	var extra []string
	for _, ids := range append([][]string{s.scan.Controls}, frameworkControls(s.scan.Frameworks)...) {
		for _, id := range ids {
			if s.scan.Ran != nil && !slices.Contains(s.scan.Ran, id) {
				// A control of a framework that did not run has no rule.
				continue
			}
			if _, ok := s.byID[id]; !ok && !slices.Contains(extra, id) {
				extra = append(extra, id)
			}
		}
	}
	slices.Sort(extra)
	for _, id := range extra {
		c, _ := s.scan.control(id)
		sev := severityName(c.Severity)
		r := sarifRule{ID: id, Name: id, DefaultConfiguration: &sarifRuleConfig{Level: "error"},
			Properties: map[string]any{"security-severity": securitySeverity[sev], "severity": sev,
				"tags": []string{"security", "kubernetes"}}}
		if c.Name != "" {
			r.ShortDescription = &sarifMessage{Text: oneLine(c.Name)}
		}
		if c.Description != "" {
			r.FullDescription = &sarifMessage{Text: oneLine(c.Description)}
		}
		if c.Remediation != "" {
			r.Help = &sarifMessage{Text: oneLine(c.Remediation)}
		}
		s.byID[id] = len(rules)
		rules = append(rules, r)
	}
	driver, err := json.Marshal(map[string]any{"name": s.build.Name, "version": s.build.Version,
		"informationUri": "https://github.com/portcullis/portcullis", "rules": rules})
	if err != nil {
		s.err = fmt.Errorf("encode SARIF rules: %w", err)
		return
	}
	// Columns (of fixes) count Unicode code points, as YAML parsers do.
	s.printf("{\n  \"$schema\": %q,\n  \"version\": \"2.1.0\",\n  \"runs\": [{\n    \"tool\": {\"driver\": %s},\n    \"columnKind\": \"unicodeCodePoints\",\n    \"results\": [",
		SARIFSchema, driver)
}

// ruleID is the SARIF rule ID of the policy with catalog key k: its
// control ID, else its kind and key.
func (s *SARIFWriter) ruleID(k string) string {
	if id := s.scan.Catalog[k].ControlID; id != "" {
		return id
	}
	return k
}

// Put implements Writer.
func (s *SARIFWriter) Put(r *Resource) error {
	s.scan.Add(r)
	s.start()
	if s.err != nil {
		return s.err
	}
	for _, f := range r.findings(s.scan.Catalog, false) {
		key := CatalogKey(f.PolicyKind, f.Policy)
		idx, ok := s.rules[key]
		ruleID := s.ruleID(key)
		if !ok {
			// A control of a library (Result.Control) is its own rule.
			if idx, ok = s.byID[f.id]; !ok {
				// A result of a policy nothing describes: it cannot be
				// listed against a rule.
				continue
			}
			ruleID = f.id
		}
		res := sarifResult{RuleID: ruleID, RuleIndex: idx, Kind: "fail", Level: sarifLevel(f.Status),
			Message:    sarifMessage{Text: dropLocation(ShortMessage(f.Result), r.File)},
			Properties: map[string]any{"policy": f.Policy, "rule": f.Rule, "severity": severityName(f.Severity)}}
		if f.Path != "" {
			res.Properties["path"] = f.Path
		}
		if f.Remediation != "" {
			res.Properties["remediation"] = oneLine(f.Remediation)
		}
		if f.JSONPatch != "" {
			res.Properties["fix"] = f.JSONPatch
		}
		loc := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Resource.String(), Kind: "resource"}}}
		if uri := sarifURI(r.File); uri != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}
			if f.line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.line}
			}
			if len(f.edits) > 0 {
				res.Fixes = []sarifFix{sarifFixOf(uri, f)}
			}
		}
		res.Locations = []sarifLocation{loc}
		b, err := json.Marshal(res)
		if err != nil {
			s.err = fmt.Errorf("encode SARIF result: %w", err)
			return s.err
		}
		if s.n > 0 {
			s.printf(",")
		}
		s.printf("\n      ")
		if s.err == nil {
			_, s.err = s.w.Write(b)
		}
		s.n++
	}
	return s.err
}

// sarifFixOf is the SARIF fix of finding f in the file at uri: its
// edits, described by the patch they apply.
func sarifFixOf(uri string, f finding) sarifFix {
	ch := sarifArtifactChange{ArtifactLocation: sarifArtifact{URI: uri}}
	for _, e := range f.edits {
		r := sarifReplacement{DeletedRegion: sarifTextRegion{StartLine: e.StartLine, StartColumn: e.StartColumn,
			EndLine: e.EndLine, EndColumn: e.EndColumn}}
		if e.Text != "" {
			r.InsertedContent = &sarifContent{Text: e.Text}
		}
		ch.Replacements = append(ch.Replacements, r)
	}
	fix := sarifFix{ArtifactChanges: []sarifArtifactChange{ch}}
	if d := patchDescription(f.JSONPatch); d != "" {
		fix.Description = &sarifMessage{Text: d}
	}
	return fix
}

// patchDescription describes a JSON patch for people: "Set
// /spec/hostPID to false; set ...", "" when it does not decode.
func patchDescription(patch string) string {
	var ops []manifest.PatchOp
	if err := json.Unmarshal([]byte(patch), &ops); err != nil || len(ops) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		v, err := json.Marshal(op.Value)
		if err != nil {
			return ""
		}
		parts = append(parts, fmt.Sprintf("set %s to %s", op.Path, v))
	}
	d := strings.Join(parts, "; ")
	return strings.ToUpper(d[:1]) + d[1:] + "."
}

// sarifLevel maps a status to a SARIF result level.
func sarifLevel(st engine.Status) string {
	switch st {
	case engine.StatusFail, engine.StatusError:
		return "error"
	case engine.StatusWarn:
		return "warning"
	}
	return "none"
}

// sarifURI turns a file name into a URI reference: relative paths stay
// relative (to the directory the scan ran in), absolute ones become file
// URIs; standard input has none.
func sarifURI(file string) string {
	if file == "" || file == "-" {
		return ""
	}
	p := filepath.ToSlash(file)
	if filepath.IsAbs(file) {
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return (&url.URL{Path: strings.TrimPrefix(p, "./")}).String()
}

// Flush writes what is buffered.
func (s *SARIFWriter) Flush() error {
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

// Close implements Writer: it ends the log.
func (s *SARIFWriter) Close() error {
	s.start()
	if s.n > 0 {
		s.printf("\n    ")
	}
	s.printf("]")
	if len(s.scan.Skipped) > 0 {
		notes := make([]sarifNotification, len(s.scan.Skipped))
		for i, sk := range s.scan.Skipped {
			notes[i] = sarifNotification{Level: "note", Message: sarifMessage{Text: "skipped: " + sk.Reason},
				Descriptor: &sarifDescriptorRef{ID: "skipped"}}
			if uri := sarifURI(sk.Path); uri != "" {
				notes[i].Locations = []sarifLocation{{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: uri}}}}
			}
		}
		inv, err := json.Marshal([]sarifInvocation{{ExecutionSuccessful: true, ToolExecutionNotifications: notes}})
		if err != nil {
			return fmt.Errorf("encode SARIF invocations: %w", err)
		}
		s.printf(",\n    \"invocations\": %s", inv)
	}
	s.printf("\n  }]\n}\n")
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

func (s *SARIFWriter) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}
