package kubescape

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/ruletests"
	"github.com/portcullis/portcullis/internal/sink/report"
	"go.yaml.in/yaml/v3"
)

// IsTestLibrary reports whether dir is a control library with rule tests
// (dir/rules/<rule>/test/<case>/), or one rule directory with tests: see
// [ruletests.IsLibrary].
func IsTestLibrary(dir string) bool { return ruletests.IsLibrary(dir) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// CaseResult is the outcome of one test case.
type CaseResult struct {
	Rule string `json:"rule"`
	Case string `json:"case"`
	Dir  string `json:"dir"`
	OK   bool   `json:"ok"`
	// Reason says why a case failed: an error, or which comparison.
	Reason string `json:"reason,omitempty"`
	// Diff shows the sorted expected and actual responses of a failed
	// comparison.
	Diff string `json:"diff,omitempty"`
}

// TestReport is the outcome of a library's rule tests.
type TestReport struct {
	Dir   string       `json:"dir"`
	Cases []CaseResult `json:"cases"`
	Pass  int          `json:"pass"`
	Fail  int          `json:"fail"`
}

// RunTests runs every rule test case under dir (a library, or one rule
// directory), as the library's test runner does: each case's input
// objects (input/*, in name order) go to the rule with the library's
// default configuration inputs overridden by the case's data.json, and
// the case passes when the responses are JSON-equal to expected.json
// after both lists are sorted (and, with expected-filter.json, the
// filter's responses to it). A rule that does not load fails its cases.
func RunTests(ctx context.Context, dir string, sig ImageSignatures) (*TestReport, error) {
	root, ruleDirs, err := testRuleDirs(dir)
	if err != nil {
		return nil, err
	}
	defaults, err := readInputs(filepath.Join(root, "default-config-inputs.json"), true)
	if err != nil {
		return nil, err
	}
	l := &Library{Dir: root, sig: sig}
	helpers, err := parseHelpers()
	if err != nil {
		return nil, err
	}
	rep := &TestReport{Dir: dir}
	for _, rd := range ruleDirs {
		cases, err := caseDirs(rd)
		if err != nil {
			return nil, err
		}
		if len(cases) == 0 {
			continue
		}
		rule, loadErr := loadRule(rd, helpers)
		if loadErr == nil {
			loadErr = rule.compile()
		}
		for _, c := range cases {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			res := CaseResult{Rule: filepath.Base(rd), Case: filepath.Base(c), Dir: c}
			if loadErr != nil {
				res.Reason = loadErr.Error()
			} else {
				res.Rule = rule.Name
				res.Reason, res.Diff = l.runCase(ctx, rule, c, defaults)
				res.OK = res.Reason == ""
			}
			if res.OK {
				rep.Pass++
			} else {
				rep.Fail++
			}
			rep.Cases = append(rep.Cases, res)
		}
	}
	return rep, nil
}

// testRuleDirs returns the library root and its rule directories with
// tests.
func testRuleDirs(dir string) (string, []string, error) {
	if fileExists(filepath.Join(dir, "rule.metadata.json")) {
		return filepath.Dir(filepath.Dir(dir)), []string{dir}, nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, "rules"))
	if err != nil {
		return "", nil, fmt.Errorf("read rules of %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, "rules", e.Name()))
		}
	}
	return dir, out, nil
}

func caseDirs(ruleDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(ruleDir, "test"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(ruleDir, "test", e.Name()))
		}
	}
	return out, nil
}

// runCase returns "" when the case passes, else the reason and a diff.
func (l *Library) runCase(ctx context.Context, r *Rule, dir string, defaults map[string][]string) (string, string) {
	objs, err := readTestInputs(filepath.Join(dir, ruletests.InputDir))
	if err != nil {
		return err.Error(), ""
	}
	d := Data{PostureControlInputs: map[string][]string{}}
	for k, v := range defaults {
		d.PostureControlInputs[k] = v
	}
	if data, err := os.ReadFile(filepath.Join(dir, ruletests.Data)); err == nil {
		var cd Data
		if err := json.Unmarshal(data, &cd); err != nil {
			return fmt.Sprintf("%s: %v", filepath.Join(dir, ruletests.Data), jsonError(data, err)), ""
		}
		for k, v := range cd.PostureControlInputs {
			d.PostureControlInputs[k] = v
		}
		d.DataControlInputs = cd.DataControlInputs
	} else if !errors.Is(err, os.ErrNotExist) {
		return err.Error(), ""
	}
	checks := []struct {
		file   string
		filter bool
	}{{ruletests.Expected, false}, {ruletests.ExpectedFilter, true}}
	for _, c := range checks {
		want, err := readExpected(filepath.Join(dir, c.file))
		if errors.Is(err, os.ErrNotExist) && c.filter {
			continue
		}
		if err != nil {
			return err.Error(), ""
		}
		got, err := l.EvalRule(ctx, r, objs, d, c.filter)
		if err != nil {
			return err.Error(), ""
		}
		if ok, diff := sameResponses(want, got); !ok {
			return c.file + " differs", diff
		}
	}
	return "", ""
}

// readTestInputs reads every file of dir in name order, each one object
// (the first YAML document), as the library's runner does.
func readTestInputs(dir string) ([]map[string]any, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var objs []map[string]any
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		m, ok := jsonValue(v).(map[string]any)
		if !ok || m == nil {
			return nil, fmt.Errorf("%s: not an object", p)
		}
		objs = append(objs, m)
	}
	return objs, nil
}

// jsonValue converts a decoded YAML value to what JSON decoding gives
// (numbers as float64, maps keyed by strings).
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonValue(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			if s, ok := k.(string); ok {
				m[s] = jsonValue(e)
			}
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// readExpected reads a list of responses (or a single one).
func readExpected(file string) ([]Response, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []Response
	if err := json.Unmarshal(data, &out); err != nil {
		var one Response
		if err2 := json.Unmarshal(data, &one); err2 != nil {
			return nil, fmt.Errorf("%s: %w", file, jsonError(data, err))
		}
		out = []Response{one}
	}
	return out, nil
}

// sameResponses compares two response lists as the library's runner does:
// each sorted by its JSON text, then compared as JSON values.
func sameResponses(want, got []Response) (bool, string) {
	w, errW := sortedJSON(want)
	g, errG := sortedJSON(got)
	if errW != nil || errG != nil {
		return false, fmt.Sprint(errors.Join(errW, errG))
	}
	var wv, gv any
	_ = json.Unmarshal(w, &wv)
	_ = json.Unmarshal(g, &gv)
	if reflect.DeepEqual(wv, gv) {
		return true, ""
	}
	return false, "expected:\n" + string(w) + "\nactual:\n" + string(g)
}

func sortedJSON(rs []Response) ([]byte, error) {
	texts := make([]string, len(rs))
	for i := range rs {
		b, err := json.Marshal(rs[i])
		if err != nil {
			return nil, err
		}
		texts[i] = string(b)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(texts)))
	return []byte("[" + strings.Join(texts, ",\n") + "]"), nil
}

// WriteText prints the report: a table of the cases (only the failing
// ones with failOnly; with detailed, each failure's expected and actual
// responses), then the summary line of kyverno test.
func (r *TestReport) WriteText(w io.Writer, failOnly, detailed, color bool) error {
	fmt.Fprintf(w, "Loading rule tests ( %s ) ...\n", r.Dir)
	var rows []CaseResult
	for _, c := range r.Cases {
		if !failOnly || !c.OK {
			rows = append(rows, c)
		}
	}
	if len(rows) > 0 {
		tbl := report.NewTable(w, "ID", "RULE", "CASE", "RESULT", "REASON")
		for i, c := range rows {
			res, status := "Pass", engine.StatusPass
			if !c.OK {
				res, status = "Fail", engine.StatusFail
			}
			tbl.Row(strconv.Itoa(i+1), c.Rule, c.Case, report.Colorize(res, status, color), oneLine(c.Reason))
		}
		if err := tbl.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	} else if failOnly {
		fmt.Fprintf(w, "  No failures.\n\n")
	}
	if detailed {
		for _, c := range rows {
			if c.OK || c.Diff == "" {
				continue
			}
			fmt.Fprintf(w, "--- %s/%s: %s\n%s\n\n", c.Rule, c.Case, c.Reason, c.Diff)
		}
	}
	_, err := fmt.Fprintf(w, "Test Summary: %d tests passed and %d tests failed\n", r.Pass, r.Fail)
	return err
}

// WriteJSON prints the report as JSON (only failing cases when failOnly).
func (r *TestReport) WriteJSON(w io.Writer, failOnly bool) error {
	rep := *r
	if failOnly {
		rep.Cases = nil
		for _, c := range r.Cases {
			if !c.OK {
				rep.Cases = append(rep.Cases, c)
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*TestReport
		Summary string `json:"summary"`
	}{&rep, fmt.Sprintf("Test Summary: %d tests passed and %d tests failed", r.Pass, r.Fail)})
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
