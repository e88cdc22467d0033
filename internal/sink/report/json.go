package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/portcullis/portcullis/internal/engine"
)

// JSONResult is one result as `scan -o json` lists it: the engine's
// result with where it is and the control it belongs to.
type JSONResult struct {
	engine.Result
	// File is the file of the resource; Line the line of the failing
	// field (of the resource when the field is not known; 0 when neither
	// is).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// ControlID is the control the policy implements, when it names one.
	ControlID string `json:"controlID,omitempty"`
}

// JSONWriter writes a scan as one JSON object,
//
//	{"policies": N, "rules": N, "results": [...], "skipped": [...], "summary": {...}}
//
// streaming the results one resource at a time (one result per line), so
// a scan of any size never sits in memory; the summary comes last, once
// it is known, after the skipped files ("skipped", left out when none:
// Scan.Skipped). Results are in the order of the resources, each
// resource's most severe first.
type JSONWriter struct {
	w    *bufio.Writer
	scan *Scan
	all  bool
	n    int // results written
	head bool
	err  error
}

var _ Writer = (*JSONWriter)(nil)

// NewJSONWriter returns a writer of the JSON document on w, counting into
// scan; all lists passing and skipped results too.
func NewJSONWriter(w io.Writer, scan *Scan, all bool) *JSONWriter {
	return &JSONWriter{w: bufio.NewWriterSize(w, 64<<10), scan: scan, all: all}
}

// start writes the head of the object, once: nothing is written before
// the first resource, so a scan that fails before it leaves no output.
func (j *JSONWriter) start() {
	if !j.head {
		j.head = true
		j.printf("{\n  \"policies\": %d,\n  \"rules\": %d,\n  \"results\": [", j.scan.Policies, j.scan.Rules)
	}
}

// Put implements Writer.
func (j *JSONWriter) Put(r *Resource) error {
	j.scan.Add(r)
	j.start()
	if j.err != nil {
		return j.err
	}
	for _, f := range r.findings(j.scan.Catalog, j.all) {
		b, err := json.Marshal(JSONResult{Result: *f.Result, File: r.File, Line: f.line,
			ControlID: j.scan.Catalog.lookup(f.Result).ControlID})
		if err != nil {
			j.err = fmt.Errorf("encode result: %w", err)
			return j.err
		}
		if j.n > 0 {
			j.printf(",")
		}
		j.printf("\n    ")
		if j.err == nil {
			_, j.err = j.w.Write(b)
		}
		j.n++
	}
	return j.err
}

// Close implements Writer: it writes the summary and ends the object.
func (j *JSONWriter) Close() error {
	j.start()
	if j.n > 0 {
		j.printf("\n  ")
	}
	j.printf("],\n")
	if len(j.scan.Skipped) > 0 {
		skipped, err := json.MarshalIndent(j.scan.Skipped, "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode skipped files: %w", err)
		}
		j.printf("  \"skipped\": %s,\n", skipped)
	}
	sum, err := json.MarshalIndent(j.scan.Summarize(), "  ", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	j.printf("  \"summary\": %s\n}\n", sum)
	if j.err != nil {
		return j.err
	}
	return j.w.Flush()
}

// Flush writes what is buffered.
func (j *JSONWriter) Flush() error {
	if j.err != nil {
		return j.err
	}
	return j.w.Flush()
}

func (j *JSONWriter) printf(format string, args ...any) {
	if j.err == nil {
		_, j.err = fmt.Fprintf(j.w, format, args...)
	}
}
