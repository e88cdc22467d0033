package report

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

// The SARIF 2.1.0 objects the writer may produce, field for field as the
// schema (sarif-schema-2.1.0.json) names them. Decoding with unknown
// fields disallowed checks that nothing outside the schema is written.
type (
	sarifLog21 struct {
		Schema  string       `json:"$schema"`
		Version string       `json:"version"`
		Runs    []sarifRun21 `json:"runs"`
	}
	sarifRun21 struct {
		Tool       struct{ Driver sarifComponent21 } `json:"tool"`
		ColumnKind string                            `json:"columnKind"`
		Results    []sarifResult21                   `json:"results"`
	}
	sarifComponent21 struct {
		Name           string              `json:"name"`
		Version        string              `json:"version"`
		InformationURI string              `json:"informationUri"`
		Rules          []sarifDescriptor21 `json:"rules"`
	}
	sarifMultiformat21 struct {
		Text     string `json:"text"`
		Markdown string `json:"markdown"`
	}
	sarifDescriptor21 struct {
		ID                   string              `json:"id"`
		Name                 string              `json:"name"`
		ShortDescription     *sarifMultiformat21 `json:"shortDescription"`
		FullDescription      *sarifMultiformat21 `json:"fullDescription"`
		DefaultConfiguration *struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
		Properties map[string]any `json:"properties"`
	}
	sarifResult21 struct {
		RuleID    string `json:"ruleId"`
		RuleIndex *int   `json:"ruleIndex"`
		Kind      string `json:"kind"`
		Level     string `json:"level"`
		Message   struct {
			Text string `json:"text"`
		} `json:"message"`
		Locations []struct {
			PhysicalLocation *struct {
				ArtifactLocation struct {
					URI string `json:"uri"`
				} `json:"artifactLocation"`
				Region *struct {
					StartLine int `json:"startLine"`
				} `json:"region"`
			} `json:"physicalLocation"`
			LogicalLocations []struct {
				FullyQualifiedName string `json:"fullyQualifiedName"`
				Kind               string `json:"kind"`
			} `json:"logicalLocations"`
		} `json:"locations"`
		Properties map[string]any `json:"properties"`
	}
)

func TestSARIFShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewSARIFWriter(&buf, NewScan(4, 5, catalog), Build{Name: "portcullis", Version: "v1.2.3"})
	rs := resources()
	// A resource read from stdin has no file to point at.
	rs = append(rs, &Resource{File: "-", Line: 2, Document: 1, Results: []engine.Result{
		res("require-team-label", "check-team", engine.StatusFail, "low", "piped", "The label team is required.", "/metadata/labels/")}})
	for _, r := range rs {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var log sarifLog21
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&log); err != nil {
		t.Fatalf("not a SARIF 2.1.0 log: %v\n%s", err, buf.String())
	}
	if log.Version != "2.1.0" || log.Schema != SARIFSchema || len(log.Runs) != 1 {
		t.Fatalf("version %q, schema %q, %d runs", log.Version, log.Schema, len(log.Runs))
	}
	run := log.Runs[0]
	d := run.Tool.Driver
	if d.Name != "portcullis" || d.Version != "v1.2.3" || len(d.Rules) != len(catalog) {
		t.Fatalf("driver %s %s with %d rules, want portcullis v1.2.3 with one rule per policy (%d)", d.Name, d.Version, len(d.Rules), len(catalog))
	}
	ids := map[string]bool{}
	for _, r := range d.Rules {
		if ids[r.ID] {
			t.Errorf("rule ID %s twice", r.ID)
		}
		ids[r.ID] = true
		if r.DefaultConfiguration == nil || r.Properties["security-severity"] == "" {
			t.Errorf("rule %s lacks a level or security-severity", r.ID)
		}
	}
	if !ids["PSS-B-02"] || !ids["ClusterPolicy/require-team-label"] {
		t.Errorf("rules %v: want control IDs, and kind/name for policies without one", ids)
	}
	// Four findings of the file (three failures, a warning) and the piped one.
	if len(run.Results) != 5 {
		t.Fatalf("%d results, want 5", len(run.Results))
	}
	for i, r := range run.Results {
		if r.RuleIndex == nil || *r.RuleIndex >= len(d.Rules) || d.Rules[*r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %d: ruleId %s does not match ruleIndex %v", i, r.RuleID, r.RuleIndex)
		}
		if !slices.Contains([]string{"none", "note", "warning", "error"}, r.Level) || r.Kind != "fail" || r.Message.Text == "" {
			t.Errorf("result %d: level %q kind %q message %q", i, r.Level, r.Kind, r.Message.Text)
		}
		if len(r.Locations) != 1 || len(r.Locations[0].LogicalLocations) != 1 {
			t.Fatalf("result %d: locations %+v", i, r.Locations)
		}
	}
	first := run.Results[0]
	if pl := first.Locations[0].PhysicalLocation; first.RuleID != "PSS-B-02" || pl == nil || pl.ArtifactLocation.URI != "deploy/pods.yaml" ||
		pl.Region == nil || pl.Region.StartLine != 22 || first.Level != "error" {
		t.Errorf("first result %+v: want PSS-B-02 at deploy/pods.yaml line 22", first)
	}
	if run.Results[3].Level != "warning" {
		t.Errorf("a warning has level %q", run.Results[3].Level)
	}
	if piped := run.Results[4]; piped.Locations[0].PhysicalLocation != nil || piped.Locations[0].LogicalLocations[0].FullyQualifiedName != "Pod/apps/piped" {
		t.Errorf("stdin result located as %+v", piped.Locations[0])
	}
}
