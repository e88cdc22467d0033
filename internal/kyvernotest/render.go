package kyvernotest

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/sink/report"
)

// RenderOptions control text output.
type RenderOptions struct {
	// FailOnly prints only failing rows.
	FailOnly bool
	// Detailed adds the rule message to each row.
	Detailed bool
	// Color uses ANSI colours for results.
	Color bool
}

// WriteText prints the report the way `kyverno test` does: a block per
// test with a results table, then the summary line.
func (r *Report) WriteText(w io.Writer, o RenderOptions) error {
	for _, t := range r.Tests {
		fmt.Fprintf(w, "Loading test ( %s ) ...\n", t.File)
		if t.Error != "" {
			fmt.Fprintf(w, "  Error: %s\n", strings.ReplaceAll(t.Error, "\n", "\n    "))
		}
		fmt.Fprintf(w, "  Applying %d %s to %d %s ...\n", t.Policies, plural(t.Policies, "policy", "policies"),
			t.Resources, plural(t.Resources, "resource", "resources"))
		fmt.Fprintf(w, "  Checking results ...\n\n")
		rows := t.Rows
		if o.FailOnly {
			rows = nil
			for _, row := range t.Rows {
				if !row.OK {
					rows = append(rows, row)
				}
			}
		}
		if len(rows) == 0 {
			if o.FailOnly {
				fmt.Fprintf(w, "  No failures.\n\n")
			}
			continue
		}
		header := []string{"ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"}
		if o.Detailed {
			header = append(header, "MESSAGE")
		}
		tbl := report.NewTable(w, header...)
		for _, row := range rows {
			res, status := "Pass", engine.StatusPass
			if !row.OK {
				res, status = "Fail", engine.StatusFail
			}
			cells := []string{strconv.Itoa(row.ID), row.Policy, dash(row.Rule), row.Resource,
				report.Colorize(res, status, o.Color), oneLine(row.Reason)}
			if o.Detailed {
				cells = append(cells, oneLine(row.Message))
			}
			tbl.Row(cells...)
		}
		if err := tbl.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintf(w, "Test Summary: %d tests passed and %d tests failed\n", r.Passed(), r.Fail)
	return err
}

// WriteJSON prints the report as JSON (only failing rows when failOnly).
func (r *Report) WriteJSON(w io.Writer, failOnly bool) error {
	rep := r
	if failOnly {
		rep = r.failedOnly()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Summary string `json:"summary"`
	}{rep, fmt.Sprintf("Test Summary: %d tests passed and %d tests failed", r.Passed(), r.Fail)})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 240 {
		s = s[:237] + "..."
	}
	return s
}
