package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/controls"
)

// Fixtures. Tests run in internal/cli, so the examples are two levels up.
const (
	examplesDir     = "../../examples/manifests"
	noncompliantPod = "../../examples/manifests/noncompliant-pod.yaml"
	webAndDeploy    = "../../examples/manifests/web-service-and-deployment.yaml"
	compliantDeploy = "../../examples/manifests/compliant-deployment.yaml"

	validPolicyDir  = "testdata/policies/valid"
	invalidPolicies = "testdata/policies/invalid"
	podsManifest    = "testdata/manifests/pods.yaml"
	malformedYAML   = "testdata/manifests/malformed.yaml"
	noKindYAML      = "testdata/manifests/no-kind.yaml"
	suitesDir       = "testdata/suites"
	passingSuite    = "testdata/suites/passing"
	failingSuite    = "testdata/suites/failing"
)

// outcome is what one run of the command line produced.
type outcome struct {
	code           int
	stdout, stderr string
}

// runCLI runs cli.Main with args, stdin as standard input, and buffers for
// the output streams.
func runCLI(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// check is one expectation on an outcome.
type check struct {
	code       int
	stdout     []string // substrings stdout must contain
	stderr     []string // substrings stderr must contain
	notStdout  []string // substrings stdout must not contain
	stdoutRows [][]string
	noRows     [][]string
}

func (c check) verify(t *testing.T, got outcome) {
	t.Helper()
	if got.code != c.code {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, c.code, got.stdout, got.stderr)
	}
	for _, s := range c.stdout {
		if !strings.Contains(got.stdout, s) {
			t.Errorf("stdout does not contain %q:\n%s", s, got.stdout)
		}
	}
	for _, s := range c.notStdout {
		if strings.Contains(got.stdout, s) {
			t.Errorf("stdout contains %q:\n%s", s, got.stdout)
		}
	}
	for _, s := range c.stderr {
		if !strings.Contains(got.stderr, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, got.stderr)
		}
	}
	for _, row := range c.stdoutRows {
		if !hasRow(got.stdout, row) {
			t.Errorf("no table row starting with %q in:\n%s", row, got.stdout)
		}
	}
	for _, row := range c.noRows {
		if hasRow(got.stdout, row) {
			t.Errorf("unexpected table row starting with %q in:\n%s", row, got.stdout)
		}
	}
}

// hasRow reports whether a line of out, or a row of the grouped scan
// table (see scanRows), has the given leading columns.
func hasRow(out string, cols []string) bool {
	for _, line := range append(strings.Split(out, "\n"), scanRows(out)...) {
		f := strings.Fields(line)
		if len(f) >= len(cols) && equalStrings(f[:len(cols)], cols) {
			return true
		}
	}
	return false
}

// scanRows flattens the grouped scan table: each finding line
// ("  FAIL  high  PSS-B-03  L27  message") becomes the resource of its
// group followed by the line's fields with the status in lower case
// ("Pod/default/node-debugger fail high PSS-B-03 L27 message").
func scanRows(out string) []string {
	var rows []string
	resource := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case !strings.HasPrefix(line, " ") && len(f) >= 2 && strings.Contains(f[0], "/"):
			resource = f[0]
		case strings.HasPrefix(line, "  ") && resource != "" && slices.Contains([]string{"FAIL", "WARN", "ERROR", "PASS", "SKIP"}, f[0]):
			rows = append(rows, resource+" "+strings.ToLower(f[0])+" "+strings.Join(f[1:], " "))
		}
	}
	return rows
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want check
	}{
		{name: "version", args: []string{"version"},
			want: check{code: cli.ExitOK, stdout: []string{"portcullis " + cli.Version() + " ("}}},
		{name: "version rejects arguments", args: []string{"version", "extra"},
			want: check{code: cli.ExitInvalid, stderr: []string{"Error:", "unknown command"}}},
		{name: "root help", args: []string{"--help"},
			want: check{code: cli.ExitOK, stdout: []string{"Kyverno ClusterPolicy/Policy format", "Exit codes",
				"Available Commands:", "version", "test", "lint", "scan"}}},
		{name: "unknown command", args: []string{"frobnicate"},
			want: check{code: cli.ExitInvalid, stderr: []string{`unknown command "frobnicate"`}}},
		{name: "unknown flag on root", args: []string{"--frobnicate"},
			want: check{code: cli.ExitInvalid, stderr: []string{"unknown flag: --frobnicate"}}},
		{name: "unknown flag on scan", args: []string{"scan", "--frobnicate", examplesDir},
			want: check{code: cli.ExitInvalid, stderr: []string{"unknown flag: --frobnicate"}}},
		{name: "unknown flag on lint", args: []string{"lint", "-z", validPolicyDir},
			want: check{code: cli.ExitInvalid, stderr: []string{"unknown shorthand flag: 'z'"}}},
		{name: "unknown flag on test", args: []string{"test", "--frobnicate", passingSuite},
			want: check{code: cli.ExitInvalid, stderr: []string{"unknown flag: --frobnicate"}}},
		{name: "scan without path", args: []string{"scan"},
			want: check{code: cli.ExitInvalid, stderr: []string{"requires at least 1 arg"}}},
		{name: "lint without path", args: []string{"lint"},
			want: check{code: cli.ExitInvalid, stderr: []string{"requires at least 1 arg"}}},
		{name: "test without path", args: []string{"test"},
			want: check{code: cli.ExitInvalid, stderr: []string{"requires at least 1 arg"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.want.verify(t, runCLI(t, "", tt.args...))
		})
	}
}

func TestVersionFormat(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "version")
	if !regexp.MustCompile(`^portcullis \S+ \((commit [0-9a-f]+(-dirty)?, )?(\S+, )?go[0-9.]+\S*\)\n$`).MatchString(got.stdout) {
		t.Fatalf("version output %q, want \"portcullis <version> ([commit C, ][date, ]goX.Y)\\n\"", got.stdout)
	}
	if flag := runCLI(t, "", "--version"); flag.code != cli.ExitOK || flag.stdout != got.stdout {
		t.Errorf("--version = %q (exit %d), want %q", flag.stdout, flag.code, got.stdout)
	}
	js := runCLI(t, "", "version", "-o", "json")
	var b cli.BuildInfo
	if err := json.Unmarshal([]byte(js.stdout), &b); err != nil || b.Version != cli.Version() || !strings.HasPrefix(b.GoVersion, "go") {
		t.Errorf("version -o json = %q (%v), want version %q and a Go version", js.stdout, err, cli.Version())
	}
}

// TestWording checks the small wording fixes: plurals, what lint counts
// for each kind, flag help, error chains, and findings that are not errors.
func TestWording(t *testing.T) {
	t.Parallel()
	check{code: cli.ExitOK, stdout: []string{"1 policy valid (1 ClusterImagePolicy)\n"}}.
		verify(t, runCLI(t, "", "lint", "testdata/verify/block-unreachable.yaml"))
	if !cli.Offline {
		check{code: cli.ExitOK, stdout: []string{"--key FILE ", "as cosign verify --key does"}}.
			verify(t, runCLI(t, "", "verify", "--help"))
	}
	for _, args := range [][]string{{"scan", "testdata/nope"}, {"test", "testdata/nope"}} {
		got := runCLI(t, "", args...)
		if got.code != cli.ExitInvalid || strings.TrimSpace(got.stderr) != "Error: read testdata/nope: no such file or directory" {
			t.Errorf("%v: exit %d, stderr %q, want one unstuttered error", args, got.code, got.stderr)
		}
	}
	got := runCLI(t, "", "test", failingSuite)
	if got.code != cli.ExitFindings || got.stderr != "1 test failed\n" {
		t.Errorf("failing suite: exit %d, stderr %q, want \"1 test failed\" without Error:", got.code, got.stderr)
	}
	got = runCLI(t, "", "scan", noncompliantPod)
	if got.code != cli.ExitFindings || strings.Contains(got.stderr, "Error:") {
		t.Errorf("scan with findings: exit %d, stderr %q, want no Error:", got.code, got.stderr)
	}
}

// TestHelp checks that every subcommand documents itself: a one-line
// summary, a longer description and worked examples.
func TestHelp(t *testing.T) {
	t.Parallel()
	root := cli.NewRootCommand()
	var names []string
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		names = append(names, c.Name())
	}
	for _, want := range []string{"version", "test", "lint", "scan"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("command %q missing; have %v", want, names)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := runCLI(t, "", name, "--help")
			if got.code != cli.ExitOK {
				t.Fatalf("exit code %d, stderr %s", got.code, got.stderr)
			}
			sub, _, err := cli.NewRootCommand().Find([]string{name})
			if err != nil {
				t.Fatal(err)
			}
			desc := sub.Long
			if desc == "" {
				desc = sub.Short
			}
			if strings.TrimSpace(desc) == "" {
				t.Fatal("command has no description")
			}
			if !strings.Contains(got.stdout, strings.TrimSpace(desc)) {
				t.Errorf("help does not show the description %q:\n%s", desc, got.stdout)
			}
			if !strings.Contains(got.stdout, "Examples:\n") || !strings.Contains(got.stdout, "portcullis "+name) {
				t.Errorf("help has no examples of %q:\n%s", name, got.stdout)
			}
			if !strings.Contains(got.stdout, "Usage:\n  portcullis "+name) {
				t.Errorf("help has no usage line:\n%s", got.stdout)
			}
			// A sentinel default ("use the terminal's width") is no value a
			// user could pass: help must not show it.
			if strings.Contains(got.stdout, "(default -1)") {
				t.Errorf("help shows a sentinel default:\n%s", got.stdout)
			}
		})
	}
}

func TestScanWidthFlag(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "scan", "--width=-3", compliantDeploy)
	if got.code != cli.ExitInvalid || !strings.Contains(got.stderr, `want a number of columns`) {
		t.Fatalf("--width=-3: code %d, stderr %q", got.code, got.stderr)
	}
	got = runCLI(t, "", "scan", "--width", "0", compliantDeploy)
	if got.code != cli.ExitOK {
		t.Fatalf("--width 0: code %d, stderr %q", got.code, got.stderr)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		args  []string
		want  check
		lines []string // stderr lines (problems) that must each appear
	}{
		{name: "valid policy", args: []string{validPolicyDir},
			want: check{code: cli.ExitOK, stdout: []string{"1 policy valid"}}},
		{name: "valid policy file", args: []string{validPolicyDir + "/require-team-label.yaml"},
			want: check{code: cli.ExitOK, stdout: []string{"1 policy valid (3 rules, autogen included)"}}},
		{name: "bad YAML", args: []string{invalidPolicies + "/bad-yaml.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{
				"testdata/policies/invalid/bad-yaml.yaml:8: cannot parse document: invalid YAML"}}},
		{name: "unknown operator", args: []string{invalidPolicies + "/unknown-operator.yaml"},
			want: check{code: cli.ExitInvalid},
			lines: []string{`testdata/policies/invalid/unknown-operator.yaml:19: policy "unknown-operator": rule "deny-bad-op": ` +
				`spec.rules[0].validate.deny.conditions.any[0].operator: unknown operator "IsKindOf"`}},
		{name: "invalid JMESPath", args: []string{invalidPolicies + "/bad-jmespath.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"invalid JMESPath", "request.object.metadata.[name"}},
			lines: []string{`testdata/policies/invalid/bad-jmespath.yaml:18: policy "bad-jmespath": rule "broken-expression": ` +
				`spec.rules[0].validate.deny.conditions.any[0].key: invalid JMESPath`}},
		{name: "no validate body", args: []string{invalidPolicies + "/no-validate-body.yaml"},
			want: check{code: cli.ExitInvalid},
			lines: []string{`testdata/policies/invalid/no-validate-body.yaml:13: policy "no-validate-body": rule "empty-validate": ` +
				`spec.rules[0].validate: validate has no pattern`}},
		{name: "every problem of one policy", args: []string{invalidPolicies + "/several-problems.yaml"},
			want: check{code: cli.ExitInvalid},
			lines: []string{
				`policy "several-problems": rule "first-bad-operator": spec.rules[0].validate.deny.conditions.all[0].operator: unknown operator "SortOf"`,
				`policy "several-problems": rule "second-no-body": spec.rules[1].validate: validate has no pattern`,
			}},
		{name: "every problem of a directory", args: []string{invalidPolicies},
			want: check{code: cli.ExitInvalid},
			lines: []string{
				`bad-yaml.yaml:8: cannot parse document: invalid YAML`,
				`bad-jmespath.yaml:18: policy "bad-jmespath": rule "broken-expression":`,
				`no-validate-body.yaml:13: policy "no-validate-body": rule "empty-validate":`,
				`unknown-operator.yaml:19: policy "unknown-operator": rule "deny-bad-op":`,
				`several-problems.yaml:20: policy "several-problems": rule "first-bad-operator":`,
				`several-problems.yaml:28: policy "several-problems": rule "second-no-body":`,
			}},
		{name: "unknown and mistyped fields", args: []string{"testdata/policies/unknown-fields"},
			want: check{code: cli.ExitInvalid},
			lines: []string{
				`typos.yaml:6: policy "typos": metadata.labelz: unknown field; did you mean labels?`,
				`typos.yaml:9: policy "typos": spec.validationFailureActon: unknown field; did you mean validationFailureAction?`,
				`typos.yaml:10: policy "typos": spec.backgroundd: unknown field; did you mean background?`,
				`typos.yaml:11: policy "typos": spec.webhookTimeoutSeconds: want an integer, got a string`,
				`typos.yaml:19: policy "typos": rule "check-team": spec.rules[0].validate.mesage: unknown field; did you mean message?`,
				`typos.yaml:24: policy "typos": extra: unknown field`,
				`typos.yaml:39: policy "vpol-typo": spec.validations[0].expresion: unknown field; did you mean expression?`,
				`typos.yaml:47: policy "binding-typo": spec.validationAction: unknown field; did you mean validationActions?`,
				`typos.yaml:55: policy "cip-typo": spec.authorites: unknown field; did you mean authorities?`,
			}},
		{name: "valid and invalid together", args: []string{validPolicyDir, invalidPolicies + "/no-validate-body.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{`rule "empty-validate"`}}},
		{name: "missing file", args: []string{"testdata/policies/does-not-exist.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"testdata/policies/does-not-exist.yaml", "no such file or directory"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runCLI(t, "", append([]string{"lint"}, tt.args...)...)
			tt.want.verify(t, got)
			for _, l := range tt.lines {
				if !containsLine(got.stderr, l) {
					t.Errorf("stderr has no line containing %q:\n%s", l, got.stderr)
				}
			}
			if got.code == cli.ExitInvalid {
				checkProblemCount(t, got.stderr)
			}
			if got.code != cli.ExitOK && got.stdout != "" {
				t.Errorf("stdout should be empty on failure, got %q", got.stdout)
			}
		})
	}
}

// checkProblemCount checks that lint's closing "N problems found" counts
// the problem lines printed before it.
func checkProblemCount(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	m := regexp.MustCompile(`^Error: (\d+) problems? found$`).FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Errorf("stderr does not end with \"Error: N problem(s) found\":\n%s", stderr)
		return
	}
	if m[1] != strconv.Itoa(len(lines)-1) {
		t.Errorf("%s problems announced, %d printed:\n%s", m[1], len(lines)-1, stderr)
	}
}

func containsLine(out, sub string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

// Lint errors name the line of the failing field, counted from the start
// of the file in every document (comments before a document included),
// and bytes YAML refuses by their offset.
func TestLintLines(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "lint", "testdata/policies/lines/multi.yaml")
	check{code: cli.ExitInvalid}.verify(t, got)
	for _, l := range []string{
		`testdata/policies/lines/multi.yaml:26: policy "second": rule "r": spec.rules[0].validate.cel.expressions[1].expression: invalid CEL at 1:1: undeclared reference to 'objekt'`,
		`testdata/policies/lines/multi.yaml:41: policy "vap": spec.validations[1].expression: invalid CEL at 1:3: found no matching overload for '_+_'`,
	} {
		if !containsLine(got.stderr, l) {
			t.Errorf("stderr has no line containing %q:\n%s", l, got.stderr)
		}
	}
	checkProblemCount(t, got.stderr)

	dir := t.TempDir()
	bin := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(bin, []byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\n---\nmetadata:\n  name: \"x\xff\xfe\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check{code: cli.ExitInvalid, stderr: []string{bin + ":5: cannot parse document: invalid YAML", "(byte offset 70: 0xff)"}}.verify(t, runCLI(t, "", "lint", bin))
}

func TestLintEmptyDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	check{code: cli.ExitInvalid, stderr: []string{"no policies found"}}.verify(t, runCLI(t, "", "lint", dir))
}

func TestScan(t *testing.T) {
	t.Parallel()
	noncompliant, err := os.ReadFile(noncompliantPod)
	if err != nil {
		t.Fatal(err)
	}
	// Rows the examples are documented to produce: resource, status,
	// severity, control ID and the line of the failing field (see
	// scanRows). The registry failure names the image's line, not the
	// element-relative /image/ path.
	knownFailures := [][]string{
		{"Pod/default/node-debugger", "fail", "high", "PSS-B-03", "L27"},       // disallow-privileged-containers
		{"Pod/default/node-debugger", "fail", "high", "PSS-B-02", "L13"},       // disallow-host-namespaces
		{"Pod/default/node-debugger", "fail", "medium", "RUNBOOK-02", "L21"},   // restrict-image-registries
		{"DaemonSet/logging/log-shipper", "fail", "high", "PSS-B-05", "L81"},   // disallow-host-path, in a List
		{"DaemonSet/logging/log-shipper", "fail", "medium", "PSS-R-01", "L81"}, // restrict-volume-types
		{"Deployment/shop/storefront", "fail", "medium", "RUNBOOK-01", "L47"},  // require-requests-limits
		{"Deployment/shop/storefront", "fail", "medium", "PSS-R-02", "L38"},    // disallow-privilege-escalation
	}
	// Compliant resources never show up among the failures.
	compliant := []string{"Deployment/payments/payments-api", "CronJob/batch/nightly-report", "ConfigMap/batch/report-settings", "Service/shop/storefront"}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  check
		// partial: the input mixes readable and unreadable documents.
		partial bool
	}{
		{name: "examples with built-in policies", args: []string{examplesDir},
			want: check{code: cli.ExitFindings, stdoutRows: knownFailures,
				stdout: []string{"Pod/default/node-debugger  ../../examples/manifests/noncompliant-pod.yaml:5\n",
					"DaemonSet/logging/log-shipper  ../../examples/manifests/workloads-list.yaml:49\n",
					"Failed controls:", "Scanned 7 resources with ", "Failures by severity: high "},
				notStdout: append([]string{" - ", "validation error:", "failed at path", "/image/"}, compliant...),
				stderr:    []string{"policy failures at or above severity low"}}},
		{name: "fail-on none", args: []string{examplesDir, "--fail-on", "none"},
			want: check{code: cli.ExitOK, stdoutRows: knownFailures}},
		{name: "fail-on high with high failures", args: []string{examplesDir, "--fail-on", "high"},
			want: check{code: cli.ExitFindings, stderr: []string{"at or above severity high"}}},
		{name: "fail-on high with only medium failures", args: []string{webAndDeploy, compliantDeploy, "--fail-on", "high"},
			want: check{code: cli.ExitOK, stdoutRows: [][]string{{"Deployment/shop/storefront", "fail", "medium", "RUNBOOK-01"}},
				stdout: []string{"Failures by severity: medium "}}},
		{name: "fail-on medium with only medium failures", args: []string{webAndDeploy, "--fail-on", "medium"},
			want: check{code: cli.ExitFindings}},
		{name: "fail-on critical", args: []string{examplesDir, "--fail-on", "critical"},
			want: check{code: cli.ExitOK}},
		{name: "fail-on is case-insensitive", args: []string{examplesDir, "--fail-on", "HIGH"},
			want: check{code: cli.ExitFindings}},
		{name: "compliant deployment passes", args: []string{compliantDeploy},
			want: check{code: cli.ExitOK, stdout: []string{"Scanned 1 resource ", " 0 failed", "Score 100.0%"}, notStdout: []string{"Failed controls", "payments-api"}}},
		{name: "all lists passing results", args: []string{compliantDeploy, "--all"},
			want: check{code: cli.ExitOK, stdoutRows: [][]string{{"Deployment/payments/payments-api", "pass", "high", "PSS-B-05"}}}},
		{name: "stdin", stdin: string(noncompliant), args: []string{"-"},
			want: check{code: cli.ExitFindings, stdoutRows: knownFailures[:3], stdout: []string{"Scanned 1 resource "}}},
		{name: "stdin and a file", stdin: string(noncompliant), args: []string{"-", compliantDeploy},
			want: check{code: cli.ExitFindings, stdoutRows: knownFailures[:3], stdout: []string{"Scanned 2 resources"}}},
		{name: "custom policy", args: []string{podsManifest, "--policy", validPolicyDir},
			want: check{code: cli.ExitFindings,
				stdoutRows: [][]string{{"Pod/apps/unlabelled", "fail", "high", "require-team-label"}},
				notStdout:  []string{"Pod/apps/labelled", "disallow-", "restrict-"},
				stdout:     []string{"Scanned 2 resources with 1 policy", "1 passed, 1 failed"}}},
		{name: "custom policy below fail-on", args: []string{podsManifest, "-p", validPolicyDir + "/require-team-label.yaml", "--fail-on", "critical"},
			want: check{code: cli.ExitOK, stdoutRows: [][]string{{"Pod/apps/unlabelled", "fail", "high", "require-team-label"}}}},
		{name: "custom policy is the only policy", args: []string{noncompliantPod, "--policy", validPolicyDir},
			want: check{code: cli.ExitFindings, stdoutRows: [][]string{{"Pod/default/node-debugger", "fail", "high", "require-team-label"}},
				noRows: knownFailures}},
		{name: "malformed custom policy", args: []string{podsManifest, "--policy", invalidPolicies + "/unknown-operator.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"load policies", "unknown-operator.yaml", `unknown operator "IsKindOf"`}}},
		{name: "custom policy file without policies", args: []string{podsManifest, "--policy", podsManifest},
			want: check{code: cli.ExitInvalid, stderr: []string{"no policies found in testdata/manifests/pods.yaml"}}},
		{name: "default registries", args: []string{webAndDeploy, "--set", "runbook"},
			want: check{code: cli.ExitFindings, noRows: [][]string{{"Deployment/shop/storefront", "fail", "medium", "RUNBOOK-02"}}}},
		{name: "allowed-registry replaces the defaults", args: []string{webAndDeploy, "--set", "runbook", "--allowed-registry", "registry.example.com/*"},
			want: check{code: cli.ExitFindings, stdoutRows: [][]string{{"Deployment/shop/storefront", "fail", "medium", "RUNBOOK-02"}}}},
		{name: "allowed-registry approves an image", args: []string{noncompliantPod, "--allowed-registry", "ubuntu:*"},
			want: check{code: cli.ExitFindings, stdoutRows: knownFailures[:2], noRows: [][]string{{"Pod/default/node-debugger", "fail", "medium", "RUNBOOK-02"}}}},
		{name: "allowed-registry is repeatable", args: []string{examplesDir, "--set", "runbook", "--allowed-registry", "ubuntu:*", "--allowed-registry", "ghcr.io/org/*"},
			want: check{code: cli.ExitFindings,
				noRows: [][]string{{"Pod/default/node-debugger", "fail", "medium", "RUNBOOK-02"}, {"Deployment/shop/storefront", "fail", "medium", "RUNBOOK-02"}},
				// gcr.io is no longer approved, and log-shipper pulls from Docker Hub.
				stdoutRows: [][]string{{"DaemonSet/logging/log-shipper", "fail", "medium", "RUNBOOK-02"}, {"Deployment/payments/payments-api", "fail", "medium", "RUNBOOK-02"}}}},
		{name: "empty allowed-registry", args: []string{examplesDir, "--allowed-registry", ""},
			want: check{code: cli.ExitInvalid, stderr: []string{`invalid --allowed-registry ""`}}},
		{name: "allowed-registry with alternatives", args: []string{examplesDir, "--allowed-registry", "gcr.io/* | docker.io/*"},
			want: check{code: cli.ExitInvalid, stderr: []string{`invalid --allowed-registry "gcr.io/* | docker.io/*"`}}},
		{name: "allowed-registry with a space", args: []string{examplesDir, "--allowed-registry", "gcr.io/ foo"},
			want: check{code: cli.ExitInvalid, stderr: []string{"invalid --allowed-registry"}}},
		{name: "policy with set", args: []string{examplesDir, "--policy", validPolicyDir, "--set", "pss-baseline"},
			want: check{code: cli.ExitInvalid, stderr: []string{"cannot be combined with --policy"}}},
		{name: "policy with allowed-registry", args: []string{examplesDir, "--policy", validPolicyDir, "--allowed-registry", "gcr.io/*"},
			want: check{code: cli.ExitInvalid, stderr: []string{"cannot be combined with --policy"}}},
		{name: "unknown set", args: []string{examplesDir, "--set", "pss-extreme"},
			want: check{code: cli.ExitInvalid, stderr: []string{`unknown control set "pss-extreme"`}}},
		{name: "malformed manifest", args: []string{malformedYAML},
			want: check{code: cli.ExitInvalid, stderr: []string{"testdata/manifests/malformed.yaml:12: invalid YAML", "invalid YAML"}}, partial: true},
		{name: "malformed manifest on stdin", stdin: "kind: Pod\nmetadata: {name: a}\n---\nkind: [\n", args: []string{"-"},
			want: check{code: cli.ExitInvalid, stderr: []string{"-:4: invalid YAML"}}, partial: true},
		{name: "document without kind is skipped", args: []string{noKindYAML},
			want: check{code: cli.ExitOK, stderr: []string{"notice: skipped testdata/manifests/no-kind.yaml:6: no kind: not a Kubernetes resource"},
				stdout: []string{"Scanned 1 resource "}}},
		{name: "missing manifest", args: []string{"testdata/manifests/does-not-exist.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"does-not-exist.yaml", "no such file or directory"}}},
		{name: "unknown output format", args: []string{examplesDir, "-o", "yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{`unknown output format "yaml" (want table, json, sarif, junit, html or policyreport)`}}},
		{name: "empty stdin", args: []string{"-"},
			want: check{code: cli.ExitInvalid, stderr: []string{"no resources found in -", "--allow-empty"}, notStdout: []string{"Score"}}},
		{name: "comment-only stdin", stdin: "# nothing rendered\n---\n", args: []string{"-"},
			want: check{code: cli.ExitInvalid, stderr: []string{"no resources found in -"}}},
		{name: "empty file", args: []string{"testdata/manifests/empty.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"no resources found in testdata/manifests/empty.yaml"}}},
		{name: "empty stdin allowed", args: []string{"-", "--allow-empty"},
			want: check{code: cli.ExitOK, stdout: []string{"Scanned 0 resources", "Score 100.0%"}}},
		{name: "unknown fail-on", args: []string{examplesDir, "--fail-on", "severe"},
			want: check{code: cli.ExitInvalid, stderr: []string{`unknown severity "severe"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runCLI(t, tt.stdin, append([]string{"scan"}, tt.args...)...)
			tt.want.verify(t, got)
			// Results stream as documents are evaluated: when some
			// documents cannot be read, the others are still reported in
			// full (the run fails with exit 2); otherwise nothing is.
			if got.code == cli.ExitInvalid && got.stdout != "" && !tt.partial {
				t.Errorf("stdout should be empty on invalid input, got:\n%s", got.stdout)
			}
			if tt.partial && !strings.Contains(got.stdout, "Scanned ") {
				t.Errorf("the readable documents are not reported:\n%s", got.stdout)
			}
		})
	}
}

// scanJSON is the shape of `scan -o json`.
type scanJSON struct {
	Summary struct {
		Resources  int            `json:"resources"`
		Pass       int            `json:"pass"`
		Fail       int            `json:"fail"`
		Warn       int            `json:"warn"`
		Error      int            `json:"error"`
		Skip       int            `json:"skip"`
		BySeverity map[string]int `json:"failuresBySeverity"`
		Score      float64        `json:"score"`
	} `json:"summary"`
	Policies int `json:"policies"`
	Rules    int `json:"rules"`
	Results  []struct {
		Policy   string `json:"policy"`
		Rule     string `json:"rule"`
		Resource struct {
			Kind      string `json:"kind"`
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"resource"`
		Status   string `json:"status"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	} `json:"results"`
}

func scanToJSON(t *testing.T, wantCode int, args ...string) scanJSON {
	t.Helper()
	got := runCLI(t, "", append([]string{"scan", "-o", "json"}, args...)...)
	if got.code != wantCode {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", got.code, wantCode, got.stderr)
	}
	var out scanJSON
	dec := json.NewDecoder(strings.NewReader(got.stdout))
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("stdout is not the scan JSON: %v\n%s", err, got.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", got.stdout)
	}
	return out
}

// countStatuses counts results by status, and failures by severity.
func countStatuses(s scanJSON) (byStatus, failBySeverity map[string]int) {
	byStatus, failBySeverity = map[string]int{}, map[string]int{}
	for _, r := range s.Results {
		byStatus[r.Status]++
		if r.Status == "fail" {
			failBySeverity[r.Severity]++
		}
	}
	return byStatus, failBySeverity
}

func TestScanJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		// all: the results list every result, passes and skips included.
		all bool
	}{
		{name: "findings only", args: []string{examplesDir}, code: cli.ExitFindings},
		{name: "all results", args: []string{examplesDir, "--all", "--fail-on", "none"}, code: cli.ExitOK, all: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := scanToJSON(t, tt.code, tt.args...)
			sum := out.Summary
			if sum.Resources != 7 {
				t.Errorf("summary.resources = %d, want 7", sum.Resources)
			}
			if out.Policies != 20 || out.Rules != 60 {
				t.Errorf("policies/rules = %d/%d, want 20/60 (the built-in library with autogen)", out.Policies, out.Rules)
			}
			byStatus, failBySeverity := countStatuses(out)
			// Failures, warnings and errors are always listed.
			if sum.Fail != byStatus["fail"] || sum.Warn != byStatus["warn"] || sum.Error != byStatus["error"] {
				t.Errorf("summary fail/warn/error = %d/%d/%d, results have %d/%d/%d",
					sum.Fail, sum.Warn, sum.Error, byStatus["fail"], byStatus["warn"], byStatus["error"])
			}
			if sum.Fail == 0 || sum.Pass == 0 {
				t.Errorf("summary %+v: want both passes and failures", sum)
			}
			bySev := 0
			for sev, n := range sum.BySeverity {
				bySev += n
				if failBySeverity[sev] != n {
					t.Errorf("summary failuresBySeverity[%s] = %d, results have %d", sev, n, failBySeverity[sev])
				}
			}
			if bySev != sum.Fail {
				t.Errorf("failuresBySeverity adds up to %d, summary.fail is %d", bySev, sum.Fail)
			}
			if sum.BySeverity["high"] == 0 {
				t.Errorf("no high failures in %v", sum.BySeverity)
			}
			if tt.all {
				if sum.Pass != byStatus["pass"] || sum.Skip != byStatus["skip"] {
					t.Errorf("summary pass/skip = %d/%d, results have %d/%d", sum.Pass, sum.Skip, byStatus["pass"], byStatus["skip"])
				}
				if n := sum.Pass + sum.Fail + sum.Warn + sum.Error + sum.Skip; n != len(out.Results) {
					t.Errorf("summary counts %d results, %d listed", n, len(out.Results))
				}
			} else if sum.Pass < byStatus["pass"] || sum.Skip < byStatus["skip"] {
				t.Errorf("summary pass/skip = %d/%d, fewer than the %d/%d listed", sum.Pass, sum.Skip, byStatus["pass"], byStatus["skip"])
			}
			scored := sum.Pass + sum.Fail + sum.Warn
			if want := float64(int(float64(sum.Pass)/float64(scored)*1000+0.5)) / 10; sum.Score != want {
				t.Errorf("score %.1f, want %.1f", sum.Score, want)
			}
			for _, r := range out.Results {
				if r.Policy == "" || r.Rule == "" || r.Resource.Kind == "" || r.Resource.Name == "" {
					t.Errorf("incomplete result %+v", r)
				}
				if r.Status == "fail" && r.Message == "" {
					t.Errorf("failure without message: %+v", r)
				}
			}
		})
	}
}

// builtinPolicyNames returns the names of the policies of a built-in set,
// from the directory layout <set>/<policy>/<policy>.yaml.
func builtinPolicyNames(t *testing.T, set string) map[string]bool {
	t.Helper()
	files, err := controls.Files(set)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range files {
		names[path.Base(path.Dir(f.Path))] = true
	}
	return names
}

func TestScanSet(t *testing.T) {
	t.Parallel()
	baseline := builtinPolicyNames(t, controls.SetPSSBaseline)
	restricted := builtinPolicyNames(t, controls.SetPSSRestricted)
	if len(baseline) != 11 {
		t.Fatalf("%d baseline policies, want 11", len(baseline))
	}
	out := scanToJSON(t, cli.ExitFindings, examplesDir, "--set", controls.SetPSSBaseline, "--all")
	if out.Policies != len(baseline) {
		t.Errorf("scan applied %d policies, want the %d baseline ones", out.Policies, len(baseline))
	}
	seen := map[string]bool{}
	for _, r := range out.Results {
		seen[r.Policy] = true
		if !baseline[r.Policy] {
			t.Errorf("result of non-baseline policy %s", r.Policy)
		}
	}
	for p := range baseline {
		if !seen[p] {
			t.Errorf("baseline policy %s produced no result", p)
		}
	}

	both := scanToJSON(t, cli.ExitFindings, examplesDir, "--set", controls.SetPSSBaseline, "--set", controls.SetPSSRestricted)
	if want := len(baseline) + len(restricted); both.Policies != want {
		t.Errorf("two sets applied %d policies, want %d", both.Policies, want)
	}
	for _, r := range both.Results {
		if !baseline[r.Policy] && !restricted[r.Policy] {
			t.Errorf("result of policy %s outside the PSS sets", r.Policy)
		}
	}
}

// TestScanAllowedRegistry checks the registry verdict for one resource
// (node-debugger runs ubuntu:24.04 from Docker Hub) under several lists.
func TestScanAllowedRegistry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		registries []string
		want       string
	}{
		{name: "default list", want: "fail"},
		{name: "image approved", registries: []string{"ubuntu:*"}, want: "pass"},
		{name: "image approved among others", registries: []string{"gcr.io/*", "ubuntu*"}, want: "pass"},
		{name: "other registry only", registries: []string{"registry.example.com/*"}, want: "fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := []string{noncompliantPod, "--set", controls.SetRunbook, "--all", "--fail-on", "none"}
			for _, r := range tt.registries {
				args = append(args, "--allowed-registry", r)
			}
			out := scanToJSON(t, cli.ExitOK, args...)
			var got []string
			for _, r := range out.Results {
				if r.Policy == "restrict-image-registries" {
					got = append(got, r.Status)
				}
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("restrict-image-registries results %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    check
		summary string // the exact last line of stdout
	}{
		{name: "passing suite", args: []string{passingSuite},
			want: check{code: cli.ExitOK,
				stdout: []string{"Loading test ( testdata/suites/passing/kyverno-test.yaml ) ...", "Applying 1 policy to 5 resources ..."},
				stdoutRows: [][]string{
					{"ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"},
					{"1", "require-approved-team", "check-team", "Pod/payments-pod", "Pass", "Ok"},
					{"2", "require-approved-team", "check-team", "Pod/marketing-pod", "Pass", "Ok"},
					{"3", "require-approved-team", "check-team", "Pod/unlabelled-pod", "Pass", "Ok"},
					{"4", "require-approved-team", "check-team", "Pod/system-pod", "Pass", "Excluded"},
					{"5", "require-approved-team", "autogen-check-team", "Deployment/search-deployment", "Pass", "Ok"},
				}},
			summary: "Test Summary: 5 tests passed and 0 tests failed"},
		{name: "failing suite", args: []string{failingSuite},
			want: check{code: cli.ExitFindings, stderr: []string{"1 test failed"},
				stdoutRows: [][]string{
					{"1", "require-approved-team", "check-team", "Pod/payments-pod", "Pass", "Ok"},
					{"2", "require-approved-team", "check-team", "Pod/marketing-pod", "Fail", "Want", "pass,", "got", "fail"},
				}},
			summary: "Test Summary: 1 tests passed and 1 tests failed"},
		{name: "both suites", args: []string{suitesDir},
			want: check{code: cli.ExitFindings,
				stdout: []string{"( testdata/suites/failing/kyverno-test.yaml )", "( testdata/suites/passing/kyverno-test.yaml )"}},
			summary: "Test Summary: 6 tests passed and 1 tests failed"},
		{name: "suite file", args: []string{passingSuite + "/kyverno-test.yaml"},
			want:    check{code: cli.ExitOK},
			summary: "Test Summary: 5 tests passed and 0 tests failed"},
		{name: "fail-only", args: []string{suitesDir, "--fail-only"},
			want: check{code: cli.ExitFindings,
				stdout:     []string{"No failures."},
				stdoutRows: [][]string{{"2", "require-approved-team", "check-team", "Pod/marketing-pod", "Fail"}},
				noRows:     [][]string{{"1", "require-approved-team"}, {"5", "require-approved-team"}}},
			summary: "Test Summary: 6 tests passed and 1 tests failed"},
		{name: "fail-only without failures", args: []string{passingSuite, "--fail-only"},
			want:    check{code: cli.ExitOK, stdout: []string{"No failures."}, notStdout: []string{"ID  POLICY"}},
			summary: "Test Summary: 5 tests passed and 0 tests failed"},
		{name: "detailed results", args: []string{failingSuite, "--detailed-results"},
			want: check{code: cli.ExitFindings,
				stdoutRows: [][]string{
					{"ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON", "MESSAGE"},
					{"2", "require-approved-team", "check-team", "Pod/marketing-pod", "Fail", "Want", "pass,", "got", "fail", "The", "team", "label"},
				}},
			summary: "Test Summary: 1 tests passed and 1 tests failed"},
		{name: "fail-only and detailed results", args: []string{suitesDir, "--fail-only", "--detailed-results"},
			want: check{code: cli.ExitFindings, stdout: []string{"The team label must name an approved team."},
				noRows: [][]string{{"1", "require-approved-team"}}},
			summary: "Test Summary: 6 tests passed and 1 tests failed"},
		{name: "missing policy file", args: []string{"testdata/broken-suites/missing-policy"},
			want: check{code: cli.ExitFindings, stderr: []string{"1 test failed"},
				stdoutRows: [][]string{{"1", "-", "-", "testdata/broken-suites/missing-policy/kyverno-test.yaml", "Fail", "Error:", "test", "could", "not", "be", "loaded:"}},
				stdout:     []string{"does-not-exist.yaml"}},
			summary: "Test Summary: 0 tests passed and 1 tests failed"},
		{name: "missing resource file", args: []string{"testdata/broken-suites/missing-resource"},
			want: check{code: cli.ExitFindings,
				stdoutRows: [][]string{{"1", "-", "-", "testdata/broken-suites/missing-resource/kyverno-test.yaml", "Fail", "Error:", "test", "could", "not", "be", "loaded:"}}},
			summary: "Test Summary: 0 tests passed and 1 tests failed"},
		{name: "no results", args: []string{"testdata/broken-suites/no-results"},
			want: check{code: cli.ExitFindings,
				stdoutRows: [][]string{{"1", "-", "-", "testdata/broken-suites/no-results/kyverno-test.yaml", "Fail", "Error:", "the", "test", "has", "no"}}},
			summary: "Test Summary: 0 tests passed and 1 tests failed"},
		{name: "result naming an unknown rule", args: []string{"testdata/broken-suites/unknown-rule"},
			want: check{code: cli.ExitFindings,
				stdoutRows: [][]string{
					{"1", "require-approved-team", "check-team", "Pod/payments-pod", "Pass", "Ok"},
					{"2", "require-approved-team", "check-teams", "Pod/payments-pod", "Fail", "Not", "found:"}}},
			summary: "Test Summary: 1 tests passed and 1 tests failed"},
		{name: "directory without suites", args: []string{"testdata/manifests"},
			want: check{code: cli.ExitInvalid, stderr: []string{"no kyverno-test.yaml files found"}}},
		{name: "other file name", args: []string{suitesDir, "--file-name", "other-test.yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{"no other-test.yaml files found"}}},
		{name: "missing directory", args: []string{"testdata/no-such-dir"},
			want: check{code: cli.ExitInvalid, stderr: []string{"testdata/no-such-dir", "no such file or directory"}}},
		{name: "unknown output format", args: []string{passingSuite, "-o", "yaml"},
			want: check{code: cli.ExitInvalid, stderr: []string{`unknown output format "yaml"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runCLI(t, "", append([]string{"test"}, tt.args...)...)
			tt.want.verify(t, got)
			if tt.summary != "" {
				if l := lastLine(got.stdout); l != tt.summary {
					t.Errorf("last line %q, want %q", l, tt.summary)
				}
				if n := strings.Count(got.stdout, "Test Summary:"); n != 1 {
					t.Errorf("%d summary lines, want 1", n)
				}
			}
		})
	}
}

// testJSON is the shape of `test -o json`.
type testJSON struct {
	Tests []struct {
		File    string `json:"file"`
		Name    string `json:"name"`
		Class   string `json:"class"`
		Error   string `json:"error"`
		Results []struct {
			ID       int    `json:"id"`
			Policy   string `json:"policy"`
			Rule     string `json:"rule"`
			Resource string `json:"resource"`
			Expected string `json:"expected"`
			Actual   string `json:"actual"`
			OK       bool   `json:"ok"`
			Reason   string `json:"reason"`
		} `json:"results"`
	} `json:"tests"`
	Pass    int    `json:"pass"`
	Fail    int    `json:"fail"`
	Skip    int    `json:"skip"`
	Summary string `json:"summary"`
}

func TestTestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		code     int
		pass     int // pass + skip
		fail     int
		rows     int // rows listed
		failRows int
	}{
		{name: "both suites", args: []string{suitesDir}, code: cli.ExitFindings, pass: 6, fail: 1, rows: 7, failRows: 1},
		{name: "fail-only", args: []string{suitesDir, "--fail-only"}, code: cli.ExitFindings, pass: 6, fail: 1, rows: 1, failRows: 1},
		{name: "passing suite", args: []string{passingSuite}, code: cli.ExitOK, pass: 5, rows: 5},
	}
	// Broken suites fail, with the reason in the JSON rows too.
	for _, tc := range []struct{ dir, reason string }{
		{"missing-policy", "Error: test could not be loaded: load policies:"},
		{"missing-resource", "Error: test could not be loaded: load resources:"},
		{"no-results", "Error: the test has no results"},
		{"unknown-rule", "Not found: policy require-approved-team has no rule named check-teams"},
	} {
		got := runCLI(t, "", "test", "-o", "json", "testdata/broken-suites/"+tc.dir)
		var out testJSON
		if err := json.Unmarshal([]byte(got.stdout), &out); err != nil || got.code != cli.ExitFindings || out.Fail != 1 {
			t.Errorf("%s: code %d, fail %d (err %v), want %d and 1 failure:\n%s", tc.dir, got.code, out.Fail, err, cli.ExitFindings, got.stdout)
			continue
		}
		found := false
		for _, tr := range out.Tests {
			for _, r := range tr.Results {
				found = found || (!r.OK && strings.HasPrefix(r.Reason, tc.reason))
			}
		}
		if !found {
			t.Errorf("%s: no failing row with reason %q:\n%s", tc.dir, tc.reason, got.stdout)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := runCLI(t, "", append([]string{"test", "-o", "json"}, tt.args...)...)
			if got.code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", got.code, tt.code, got.stderr)
			}
			var out testJSON
			if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, got.stdout)
			}
			if out.Pass+out.Skip != tt.pass || out.Fail != tt.fail {
				t.Errorf("pass+skip/fail = %d/%d, want %d/%d", out.Pass+out.Skip, out.Fail, tt.pass, tt.fail)
			}
			want := "Test Summary: " + strconv.Itoa(tt.pass) + " tests passed and " + strconv.Itoa(tt.fail) + " tests failed"
			if out.Summary != want {
				t.Errorf("summary %q, want %q", out.Summary, want)
			}
			rows, failRows := 0, 0
			for _, tr := range out.Tests {
				if tr.Error != "" {
					t.Errorf("%s: load error %s", tr.File, tr.Error)
				}
				if tr.Class != "validate" {
					t.Errorf("%s: class %q, want validate", tr.File, tr.Class)
				}
				for _, r := range tr.Results {
					rows++
					if !r.OK {
						failRows++
						if r.Resource != "Pod/marketing-pod" || r.Expected != "pass" || r.Actual != "fail" {
							t.Errorf("unexpected failing row %+v", r)
						}
						if filepath.Base(filepath.Dir(tr.File)) != "failing" {
							t.Errorf("failing row in %s", tr.File)
						}
					}
				}
			}
			if rows != tt.rows || failRows != tt.failRows {
				t.Errorf("%d rows (%d failing), want %d (%d failing)", rows, failRows, tt.rows, tt.failRows)
			}
		})
	}
}
