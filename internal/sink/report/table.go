package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
