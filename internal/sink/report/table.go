package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/engine"
)

// Table writes aligned columns separated by at least two spaces: the
// layout of every table the CLI prints. Rows are buffered until Flush.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table on w with a header row.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds a row. Cells must not hold tabs or newlines.
func (t *Table) Row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// Flush writes the aligned table.
func (t *Table) Flush() error { return t.tw.Flush() }

// statusColors are the ANSI colours of result statuses.
var statusColors = map[engine.Status]string{
	engine.StatusPass: "32", engine.StatusFail: "31", engine.StatusWarn: "33",
	engine.StatusError: "35", engine.StatusSkip: "90",
}

// Colorize returns text in the colour of status s when color is set
// (green pass, red fail, yellow warn, magenta error, grey skip), text
// unchanged otherwise.
func Colorize(text string, s engine.Status, color bool) string {
	code, ok := statusColors[s]
	if !color || !ok {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// TableOptions control the grouped table.
type TableOptions struct {
	// All lists passing and skipped results too (default: only failures,
	// warnings and errors).
	All bool
	// Color uses ANSI colours.
	Color bool
	// Width is the width lines are cut to, with an ellipsis; 0 leaves
	// them whole.
	Width int
	// Verbose prints messages whole, with the policy, rule and path of
	// each finding on a second line.
	Verbose bool
}

// TableWriter writes a scan for people: one group per resource with a
// finding ("FILE:LINE  Kind/namespace/name"), one line per failed rule
// (status, severity, control ID, line of the failing field, short
// message), then the failed controls and the totals. Each group is
// written when its resource is put, so nothing accumulates.
type TableWriter struct {
	w     *bufio.Writer
	scan  *Scan
	o     TableOptions
	idW   int // width of the ID column
	err   error
	wrote bool // a group was written
}

// NewTableWriter returns a writer of the table on w, counting into scan.
func NewTableWriter(w io.Writer, scan *Scan, o TableOptions) *TableWriter {
	t := &TableWriter{w: bufio.NewWriterSize(w, 64<<10), scan: scan, o: o, idW: 8}
	// The ID column fits the longest ID the policies can produce, within
	// reason; longer IDs are cut.
	for key, info := range scan.Catalog {
		id := info.ControlID
		if id == "" {
			_, id, _ = strings.Cut(key, "/")
			if info.Rules > 1 {
				id += "/" + strings.Repeat("x", info.LongestRule)
			}
		}
		t.idW = max(t.idW, min(utf8.RuneCountInString(id), 32))
	}
	return t
}

var _ Writer = (*TableWriter)(nil)

// Put implements Writer.
func (t *TableWriter) Put(r *Resource) error {
	t.scan.Add(r)
	if t.err != nil {
		return t.err
	}
	fs := r.findings(t.scan.Catalog, t.o.All)
	if len(fs) == 0 {
		return nil
	}
	res := fs[0].Resource.String()
	loc := r.Location()
	// The header: resource first, its file after; a long file name is cut
	// at its start, keeping the line.
	head := res + "  "
	loc = cutLeft(loc, t.o.Width-utf8.RuneCountInString(head))
	t.printf("%s  %s\n", t.style(res, "1"), loc)
	lineW := 1
	for _, f := range fs {
		lineW = max(lineW, len(strconv.Itoa(f.line)))
	}
	for _, f := range fs {
		line := "-"
		if f.line > 0 {
			line = strconv.Itoa(f.line)
		}
		id := cut(f.id, t.idW)
		prefix := fmt.Sprintf("  %-5s %-8s %-*s  L%-*s  ", statusLabel(f.Status), severityName(f.Severity), t.idW, id, lineW, line)
		msg := dropLocation(ShortMessage(f.Result), r.File)
		if !t.o.Verbose && t.o.Width > 0 {
			msg = cut(msg, max(t.o.Width-utf8.RuneCountInString(prefix), minMessage))
		}
		t.printf("  %s %s %-*s  L%-*s  %s\n",
			t.style(fmt.Sprintf("%-5s", statusLabel(f.Status)), statusColors[f.Status]),
			t.style(fmt.Sprintf("%-8s", severityName(f.Severity)), severityColors[severityName(f.Severity)]),
			t.idW, id, lineW, line, msg)
		if t.o.Verbose {
			detail := "policy " + f.Policy + ", rule " + f.Rule
			if f.Path != "" {
				detail += ", path " + f.Path
			}
			t.printf("%s%s\n", strings.Repeat(" ", utf8.RuneCountInString(prefix)), t.style(detail, "90"))
		}
	}
	t.printf("\n")
	t.wrote = true
	return t.err
}

// Close implements Writer: it writes the failed controls and the totals.
func (t *TableWriter) Close() error {
	if t.err != nil {
		return t.err
	}
	s, sum := t.scan, t.scan.Summarize()
	if sum.ComplianceScore != nil && s.Ran == nil {
		t.writeControls(sum)
	} else if len(sum.Controls) > 0 {
		t.printf("%s\n", t.style("Failed controls:", "1"))
		var b strings.Builder
		tbl := NewTable(&b, "ID", "SEVERITY", "RESOURCES", "FAILURES", "POLICY")
		for _, c := range sum.Controls {
			name := c.Policy
			if c.Title != "" {
				name += " (" + c.Title + ")"
			}
			tbl.Row(c.ID, c.Severity, strconv.Itoa(c.Resources), strconv.Itoa(c.Failures), name)
		}
		if err := tbl.Flush(); err != nil {
			return err
		}
		for _, l := range strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n") {
			t.printf("  %s\n", cut(strings.TrimSuffix(l, "\n"), t.o.Width-2))
		}
		t.printf("\n")
	}
	t.printf("Scanned %s with %s (%s): %d passed, %d failed, %s, %s, %d skipped. Score %.1f%%.\n",
		plural(s.resources, "resource", "resources"), plural(s.Policies, "policy", "policies"), plural(s.Rules, "rule", "rules"),
		sum.Pass, sum.Fail, plural(sum.Warn, "warning", "warnings"), plural(sum.Error, "error", "errors"), sum.Skip, sum.Score)
	if n := len(s.Skipped); n > 0 {
		t.printf("Skipped %s (not scanned: see the notices; -o json lists them).\n", plural(n, "file", "files"))
	}
	if sum.Fail > 0 {
		var parts []string
		for i := len(severities) - 1; i >= 0; i-- {
			if n := sum.BySeverity[severities[i]]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", severities[i], n))
			}
		}
		t.printf("Failures by severity: %s.\n", strings.Join(parts, ", "))
	}
	for _, n := range sum.NotScanned {
		t.printf("%s %s: %s\n", t.style("Not scanned:", "33"), n.What, n.Reason)
	}
	if sum.ComplianceScore != nil && s.Ran != nil {
		t.writeScores(sum)
	}
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}

// Flush writes what is buffered.
func (t *TableWriter) Flush() error {
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}

func (t *TableWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// style wraps text in the ANSI code when colours are on.
func (t *TableWriter) style(text, code string) string {
	if !t.o.Color || code == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// minMessage is the fewest characters of a message a row keeps, however
// narrow the terminal.
const minMessage = 20

// severityColors are the ANSI colours of failure severities.
var severityColors = map[string]string{"critical": "1;31", "high": "31", "medium": "33", "low": "36"}

func statusLabel(s engine.Status) string {
	switch s {
	case engine.StatusError:
		return "ERROR"
	case "":
		return "?"
	}
	return strings.ToUpper(string(s))
}

// cut shortens s to width runes, ending with an ellipsis; width < 1
// leaves s whole.
func cut(s string, width int) string {
	if width < 1 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// cutLeft shortens s to width runes from its start, beginning with an
// ellipsis; width < 1 leaves s whole.
func cutLeft(s string, width int) string {
	if width < 1 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return "…" + string(r[len(r)-width+1:])
}

// dropLocation removes a leading "FILE:LINE: " naming the resource's own
// file from msg (schema results carry it for the outputs without lines):
// the table already shows the file and the line.
func dropLocation(msg, file string) string {
	rest, ok := strings.CutPrefix(msg, file+":")
	if !ok {
		return msg
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || !strings.HasPrefix(rest[i:], ": ") {
		return msg
	}
	return rest[i+2:]
}

// writeControls writes the framework view: one line per control (ID,
// name, severity, failed/total resources, compliance score), the score of
// each framework and the scan's compliance score.
func (t *TableWriter) writeControls(sum Summary) {
	t.printf("%s\n", t.style("Controls:", "1"))
	var b strings.Builder
	tbl := NewTable(&b, "ID", "NAME", "SEVERITY", "FAILED/TOTAL", "COMPLIANCE")
	for _, c := range sum.ControlScores {
		score := fmt.Sprintf("%.1f%%", c.Score)
		if c.Status == "skipped" {
			score += " (skipped)"
		}
		tbl.Row(c.ID, cut(oneLine(c.Name), 48), c.Severity, fmt.Sprintf("%d/%d", c.Failed, c.Total), score)
	}
	if err := tbl.Flush(); err != nil {
		t.err = err
		return
	}
	for _, l := range strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n") {
		t.printf("  %s\n", cut(strings.TrimSuffix(l, "\n"), t.o.Width-2))
	}
	t.printf("\n")
	t.writeScores(sum)
}

// writeScores writes the score of each framework and the scan's
// compliance score.
func (t *TableWriter) writeScores(sum Summary) {
	var notRun []string
	if len(sum.Frameworks) > 0 {
		parts := make([]string, len(sum.Frameworks))
		for i, f := range sum.Frameworks {
			parts[i] = fmt.Sprintf("%s %.1f%% (%d of %d controls failed", f.Name, f.Score, f.Failed, f.Controls)
			if f.NotRun > 0 {
				parts[i] += fmt.Sprintf(", %d not run", f.NotRun)
				notRun = append(notRun, f.Name)
			}
			parts[i] += ")"
		}
		t.printf("Frameworks: %s.\n", strings.Join(parts, "; "))
	}
	t.printf("Compliance score %.1f%% (average of %s).\n", *sum.ComplianceScore, plural(len(sum.ControlScores), "control", "controls"))
	if len(notRun) > 0 {
		t.printf("Controls not run are in sets this scan did not apply; --framework %s runs them all.\n", strings.Join(notRun, ","))
	}
}
