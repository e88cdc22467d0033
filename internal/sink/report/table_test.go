package report

import (
	"bytes"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

func TestTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tbl := NewTable(&buf, "ID", "NAME", "RESULT")
	tbl.Row("1", "a-long-name", "pass")
	tbl.Row("10", "b", "fail")
	if err := tbl.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ID  NAME         RESULT\n" +
		"1   a-long-name  pass\n" +
		"10  b            fail\n"
	if buf.String() != want {
		t.Fatalf("table =\n%q\nwant\n%q", buf.String(), want)
	}
}

func TestColorize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		text   string
		status engine.Status
		color  bool
		want   string
	}{
		{name: "off", text: "Pass", status: engine.StatusPass, want: "Pass"},
		{name: "pass is green", text: "Pass", status: engine.StatusPass, color: true, want: "\x1b[32mPass\x1b[0m"},
		{name: "fail is red", text: "fail", status: engine.StatusFail, color: true, want: "\x1b[31mfail\x1b[0m"},
		{name: "warn is yellow", text: "warn", status: engine.StatusWarn, color: true, want: "\x1b[33mwarn\x1b[0m"},
		{name: "error is magenta", text: "error", status: engine.StatusError, color: true, want: "\x1b[35merror\x1b[0m"},
		{name: "skip is grey", text: "skip", status: engine.StatusSkip, color: true, want: "\x1b[90mskip\x1b[0m"},
		{name: "unknown status stays plain", text: "x", status: "odd", color: true, want: "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Colorize(tc.text, tc.status, tc.color); got != tc.want {
				t.Fatalf("Colorize(%q, %s, %v) = %q, want %q", tc.text, tc.status, tc.color, got, tc.want)
			}
		})
	}
}
