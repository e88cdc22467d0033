package report

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// HTMLWriter writes a scan as one self-contained HTML page (inline style,
// no script, no external asset): the scores (the scan's, each
// framework's), the controls sorted by severity with their failed/total
// resources and compliance score, and for each failed control its
// description, remediation and the failing resources with file, line and
// message. Everything the input supplies is escaped by html/template. It
// is written on Close: the findings are kept until then.
type HTMLWriter struct {
	w     *bufio.Writer
	c     *collector
	build Build
	now   func() time.Time
}

var _ Writer = (*HTMLWriter)(nil)

// NewHTMLWriter returns a writer of the HTML page on w, counting into
// scan.
func NewHTMLWriter(w io.Writer, scan *Scan, b Build) *HTMLWriter {
	return &HTMLWriter{w: bufio.NewWriterSize(w, 64<<10), c: newCollector(scan, true), build: b, now: time.Now}
}

// Put implements Writer.
func (h *HTMLWriter) Put(r *Resource) error {
	h.c.put(r)
	return nil
}

// Flush implements Writer; nothing is written before Close.
func (h *HTMLWriter) Flush() error { return nil }

type htmlFinding struct {
	Resource, Location, Message string
}

type htmlControl struct {
	ControlScore
	Description string
	Findings    []htmlFinding
}

type htmlPage struct {
	Tool, Version, Generated string
	Summary                  Summary
	Compliance               float64
	Controls                 []htmlControl
	Skipped                  int
}

// Close implements Writer: it writes the page.
func (h *HTMLWriter) Close() error {
	sum := h.c.scan.Summarize()
	if sum.ComplianceScore == nil {
		h.c.scan.scores(&sum)
	}
	page := htmlPage{Tool: h.build.Name, Version: h.build.Version, Generated: h.now().UTC().Format(time.RFC3339),
		Summary: sum, Compliance: *sum.ComplianceScore, Skipped: len(h.c.scan.Skipped)}
	for _, cs := range sum.ControlScores {
		hc := htmlControl{ControlScore: cs}
		if c, ok := h.c.scan.control(cs.ID); ok {
			hc.Description = oneLine(c.Description)
		}
		for _, rec := range h.c.byControl[cs.ID] {
			loc := rec.file
			if rec.line > 0 {
				loc = fmt.Sprintf("%s:%d", rec.file, rec.line)
			}
			hc.Findings = append(hc.Findings, htmlFinding{Resource: rec.resource.String(), Location: loc,
				Message: strings.Join(rec.messages, " ")})
		}
		page.Controls = append(page.Controls, hc)
	}
	if err := htmlTemplate.Execute(h.w, page); err != nil {
		return fmt.Errorf("write the HTML report: %w", err)
	}
	return h.w.Flush()
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", f) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis scan report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f23;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:1.5rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #e1e4e8;vertical-align:top}
th{background:#f6f8fa}.score{font-size:2rem;font-weight:600}.sev{font-weight:600;text-transform:uppercase;font-size:.8rem}
.critical{color:#86181d}.high{color:#cb2431}.medium{color:#b08800}.low{color:#6a737d}
.failed{color:#cb2431}.passed{color:#22863a}.skipped{color:#6a737d}code{font-size:.85rem}
.remediation{background:#f1f8ff;padding:.4rem .6rem;border-left:3px solid #0366d6}
</style>
</head>
<body>
<h1>Portcullis scan report</h1>
<p>{{.Tool}} {{.Version}}, {{.Generated}}: {{.Summary.Resources}} resources, {{.Summary.Pass}} passed, {{.Summary.Fail}} failed, {{.Summary.Warn}} warnings, {{.Summary.Error}} errors{{if .Skipped}}, {{.Skipped}} files skipped{{end}}.</p>
<p>Compliance score <span class="score" id="compliance">{{pct .Compliance}}</span></p>
{{if .Summary.Frameworks}}<h2>Frameworks</h2>
<table id="frameworks"><tr><th>Framework</th><th>Controls</th><th>Failed controls</th><th>Compliance score</th></tr>
{{range .Summary.Frameworks}}<tr><td>{{.Name}}</td><td>{{.Controls}}</td><td>{{.Failed}}</td><td>{{pct .Score}}</td></tr>
{{end}}</table>{{end}}
{{if .Summary.NotScanned}}<h2>Not scanned</h2><ul>{{range .Summary.NotScanned}}<li>{{.What}}: {{.Reason}}</li>{{end}}</ul>{{end}}
<h2>Controls</h2>
<table id="controls"><tr><th>ID</th><th>Control</th><th>Severity</th><th>Failed / total resources</th><th>Compliance score</th><th>Status</th></tr>
{{range .Controls}}<tr><td><a href="#{{.ID}}">{{.ID}}</a></td><td>{{.Name}}</td><td class="sev {{.Severity}}">{{.Severity}}</td><td>{{.Failed}} / {{.Total}}</td><td>{{pct .Score}}</td><td class="{{.Status}}">{{.Status}}</td></tr>
{{end}}</table>
<h2>Failed controls</h2>
{{range .Controls}}{{if .Findings}}<section id="{{.ID}}">
<h3><span class="sev {{.Severity}}">{{.Severity}}</span> {{.ID}} {{.Name}}</h3>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Remediation}}<p class="remediation">Remediation: {{.Remediation}}</p>{{end}}
<table><tr><th>Resource</th><th>Location</th><th>Message</th></tr>
{{range .Findings}}<tr><td><code>{{.Resource}}</code></td><td><code>{{.Location}}</code></td><td>{{.Message}}</td></tr>
{{end}}</table>
</section>
{{end}}{{end}}
</body>
</html>
`))
