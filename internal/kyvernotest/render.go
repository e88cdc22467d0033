package kyvernotest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		header := "ID\tPOLICY\tRULE\tRESOURCE\tRESULT\tREASON"
		if o.Detailed {
			header += "\tMESSAGE"
		}
		fmt.Fprintln(tw, header)
		for _, row := range rows {
			res := "Pass"
			if !row.OK {
				res = "Fail"
			}
			if o.Color {
				if row.OK {
					res = "\x1b[32m" + res + "\x1b[0m"
				} else {
					res = "\x1b[31m" + res + "\x1b[0m"
				}
			}
			line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", row.ID, row.Policy, dash(row.Rule), row.Resource, res, oneLine(row.Reason))
			if o.Detailed {
				line += "\t" + oneLine(row.Message)
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
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
