package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
)

// JUnitWriter writes a scan as JUnit XML, the report CI systems show as
// tests: one testsuite per control (its ID and name; properties: severity,
// frameworks, remediation), one testcase per resource the control was
// evaluated on (name Kind/namespace/name, classname the control ID, the
// file and line), failed with the message when the control failed there,
// an error for an evaluation error, skipped when it did not apply. The
// testsuites element carries the totals. It is written on Close: the
// records of every control and resource are kept until then.
type JUnitWriter struct {
	w   *bufio.Writer
	c   *collector
	err error
}

var _ Writer = (*JUnitWriter)(nil)

// NewJUnitWriter returns a writer of the JUnit XML report on w, counting
// into scan.
func NewJUnitWriter(w io.Writer, scan *Scan) *JUnitWriter {
	return &JUnitWriter{w: bufio.NewWriterSize(w, 64<<10), c: newCollector(scan, false)}
}

// JUnitTestSuites is the root element of a JUnit XML report (the shape of
// the JUnit XML schema that CI tools read).
type JUnitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Suites   []JUnitTestSuite `xml:"testsuite"`
}

// JUnitTestSuite is one control.
type JUnitTestSuite struct {
	Name       string          `xml:"name,attr"`
	ID         string          `xml:"id,attr,omitempty"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitTestCase `xml:"testcase"`
}

// JUnitProperty is a name/value pair of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitTestCase is one resource under one control.
type JUnitTestCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *JUnitProblem `xml:"failure,omitempty"`
	Error     *JUnitProblem `xml:"error,omitempty"`
	Skipped   *JUnitSkipped `xml:"skipped,omitempty"`
}

// JUnitProblem is a failure or an error: a one-line message, the
// severity as its type, and the details as text.
type JUnitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitSkipped marks a case that did not apply.
type JUnitSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

// Put implements Writer.
func (j *JUnitWriter) Put(r *Resource) error {
	j.c.put(r)
	return j.err
}

// Flush implements Writer; nothing is written before Close.
func (j *JUnitWriter) Flush() error { return j.err }

// Close implements Writer: it writes the report.
func (j *JUnitWriter) Close() error {
	if j.err != nil {
		return j.err
	}
	var sum Summary
	j.c.scan.scores(&sum)
	root := JUnitTestSuites{Name: "portcullis"}
	frameworks := map[string][]string{}
	for _, f := range j.c.scan.Frameworks {
		for _, id := range f.Controls {
			frameworks[id] = append(frameworks[id], f.Name)
		}
	}
	for _, cs := range sum.ControlScores {
		suite := JUnitTestSuite{Name: strings.TrimSpace(cs.ID + " " + oneLine(cs.Name)), ID: cs.ID,
			Properties: []JUnitProperty{{Name: "severity", Value: cs.Severity},
				{Name: "complianceScore", Value: strconv.FormatFloat(cs.Score, 'f', 1, 64)}}}
		if fw := frameworks[cs.ID]; len(fw) > 0 {
			suite.Properties = append(suite.Properties, JUnitProperty{Name: "frameworks", Value: strings.Join(fw, ",")})
		}
		if cs.Remediation != "" {
			suite.Properties = append(suite.Properties, JUnitProperty{Name: "remediation", Value: oneLine(cs.Remediation)})
		}
		for _, rec := range j.c.byControl[cs.ID] {
			tc := JUnitTestCase{Name: rec.resource.String(), ClassName: cs.ID, File: rec.file, Line: rec.line}
			if rec.file == "-" {
				tc.File = ""
			}
			detail := rec.message()
			if len(rec.paths) > 0 {
				detail += "\npath: " + strings.Join(rec.paths, ", ")
			}
			if cs.Remediation != "" {
				detail += "\nremediation: " + oneLine(cs.Remediation)
			}
			switch rec.status {
			case engine.StatusFail, engine.StatusWarn:
				tc.Failure = &JUnitProblem{Message: firstLine(rec.message()), Type: cs.Severity, Text: detail}
				suite.Failures++
			case engine.StatusError:
				tc.Error = &JUnitProblem{Message: firstLine(rec.message()), Type: "error", Text: detail}
				suite.Errors++
			case engine.StatusSkip:
				tc.Skipped = &JUnitSkipped{Message: "not applicable"}
				suite.Skipped++
			}
			suite.Cases = append(suite.Cases, tc)
		}
		suite.Tests = len(suite.Cases)
		root.Tests += suite.Tests
		root.Failures += suite.Failures
		root.Errors += suite.Errors
		root.Skipped += suite.Skipped
		root.Suites = append(root.Suites, suite)
	}
	if _, err := io.WriteString(j.w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(j.w)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("encode JUnit report: %w", err)
	}
	if _, err := io.WriteString(j.w, "\n"); err != nil {
		return err
	}
	return j.w.Flush()
}

// firstLine is the first line of s.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
