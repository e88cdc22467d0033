package attest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRegoEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, policy string
		pass               bool
		message            string
		warnings           []string
	}{
		{
			name: "v0 boolean passes on SLSA v0.2 builder", file: "slsa02.json", pass: true,
			policy: `package sigstore
isCompliant {
  input.predicateType == "https://slsa.dev/provenance/v0.2"
  startswith(input.predicate.builder.id, "https://github.com/slsa-framework/slsa-github-generator/")
  input.predicate.invocation.environment.github_run_number >= 42
}`,
		},
		{
			name: "v0 boolean undefined on another builder", file: "slsa02.json", message: "isCompliant is undefined",
			policy: `package sigstore
isCompliant {
  input.predicate.builder.id == "https://cloudbuild.googleapis.com/GoogleHostedWorker"
}`,
		},
		{
			name: "v1 boolean passes on SLSA v1 workflow", file: "slsa1.json", pass: true,
			policy: `package sigstore
default isCompliant := false
isCompliant if {
  input.predicate.runDetails.builder.id == "https://github.com/actions/runner/github-hosted"
  input.predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/portcullis/demo"
  startswith(input.predicate.buildDefinition.externalParameters.workflow.ref, "refs/tags/")
}`,
		},
		{
			name: "v1 boolean false on another repository", file: "slsa1.json", message: "isCompliant is false",
			policy: `package sigstore
default isCompliant := false
isCompliant if input.predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/evil/fork"`,
		},
		{
			name: "v0 result set passes with no HIGH vulnerabilities", file: "vuln.json", pass: true,
			policy: `package sigstore
isCompliant[response] {
  highs := [v | v := input.predicate.scanner.result.Results[_].Vulnerabilities[_]; v.Severity == "HIGH"]
  response := {"result": count(highs) == 0, "error": sprintf("%d HIGH vulnerabilities", [count(highs)]), "warning": ""}
}`,
		},
		{
			name: "v0 result set fails with its error message", file: "vuln.json", message: "2 vulnerabilities with CVSS >= 5.5",
			policy: `package sigstore
isCompliant[response] {
  bad := [v | v := input.predicate.scanner.result.Results[_].Vulnerabilities[_]; v.CVSS.nvd.V3Score >= 5.5]
  response := {"result": count(bad) == 0, "error": sprintf("%d vulnerabilities with CVSS >= 5.5", [count(bad)]), "warning": "scanner db is old"}
}`,
			warnings: []string{"scanner db is old"},
		},
		{
			name: "v1 result set passes with a warning", file: "vuln.json", pass: true,
			policy: `package sigstore
isCompliant contains {"result": true, "warning": sprintf("scanned by %s", [input.predicate.scanner.version])} if input.predicate.scanner.result.SchemaVersion == 2`,
			warnings: []string{"scanned by 0.51.1"},
		},
		{
			name: "v1 single result object fails", file: "vuln.json", message: "trivy 0.51.1 is too old",
			policy: `package sigstore
isCompliant := {"result": semver.compare(input.predicate.scanner.version, "0.52.0") >= 0, "error": sprintf("trivy %s is too old", [input.predicate.scanner.version])}`,
		},
		{
			name: "v1 empty result set fails", file: "vuln.json", message: "isCompliant has no results",
			policy: `package sigstore
isCompliant contains {"result": true} if input.predicateType == "https://openvex.dev/ns"`,
		},
		{
			name: "v1 import rego.v1 passes on SPDX licences", file: "spdx.json", pass: true,
			policy: `package sigstore
import rego.v1
gpl3 contains p.name if {
  some p in input.predicate.packages
  p.licenseDeclared == "GPL-3.0-only"
}
isCompliant if count(gpl3) == 0`,
		},
		{
			name: "v1 fails on SPDX GPL-2.0 packages", file: "spdx.json", message: "isCompliant is false",
			policy: `package sigstore
default isCompliant := false
isCompliant if {
  every p in input.predicate.packages { p.licenseDeclared != "GPL-2.0-only" }
}`,
		},
		{
			name: "v1 fails on an old CycloneDX component", file: "cyclonedx.json", message: "golang.org/x/net v0.17.0 is vulnerable",
			policy: `package sigstore
old contains sprintf("%s %s is vulnerable", [c.name, c.version]) if {
  some c in input.predicate.components
  c.name == "golang.org/x/net"
  semver.compare(trim_prefix(c.version, "v"), "0.23.0") < 0
}
isCompliant := {"result": count(old) == 0, "error": concat(", ", old)}`,
		},
		{
			name: "subject digest visible to the policy", file: "cyclonedx.json", pass: true,
			policy: `package sigstore
isCompliant if input.subject[0].digest.sha256 == "74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := compile(t, KindRego, tc.policy)
			v, err := p.Evaluate(t.Context(), decodeFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if v.Passed != tc.pass || v.Message != tc.message || !slices.Equal(v.Warnings, tc.warnings) {
				t.Errorf("verdict = %+v, want passed %v message %q warnings %q", v, tc.pass, tc.message, tc.warnings)
			}
		})
	}
}

func TestRegoCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		line         int
		want         string
	}{
		{"no isCompliant rule", "package sigstore\n\nallow := true\n", 1, "package sigstore has no isCompliant rule"},
		{"wrong package", "package kubernetes.admission\n\nisCompliant := true\n", 1, "package is kubernetes.admission, want sigstore"},
		{"syntax error", "package sigstore\n\nisCompliant if {\n  input.x = = 1\n}\n", 4, "4:13: rego_parse_error: unexpected eq token"},
		// v0 fails earlier (4:10, on "in"); the v1 error is the one reported.
		{"both versions fail: v1 error reported", "package sigstore\n\nisCompliant if {\n  some x in [1]\n  x ==\n}\n", 6, "6:1: rego_parse_error: unexpected } token"},
		{"v0 module with an undefined function", "package sigstore\n\nisCompliant {\n  no_such_function(input.predicate)\n}\n", 4, "undefined function no_such_function"},
		{"v1 module with an unsafe variable", "package sigstore\n\nisCompliant if {\n  x > 1\n}\n", 4, "var x is unsafe"},
		{"http.send is refused", "package sigstore\n\nisCompliant if http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1/\"}).status_code == 200\n", 3, "unsafe built-in function calls in expression: http.send"},
		{"empty source", "", 0, "empty module"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(KindRego, tc.policy)
			if err == nil {
				t.Fatalf("compiled %T, want an error", p)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *CompileError", err, err)
			}
			if ce.Kind != KindRego || ce.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q (line %d), want line %d containing %q", err, ce.Line, tc.line, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "attest: compile rego policy: ") {
				t.Errorf("error %q does not name the kind", err)
			}
		})
	}
}

func TestRegoEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy, want string
	}{
		{"isCompliant is a string", "package sigstore\nisCompliant := \"yes\"\n", "isCompliant is a string, want a boolean or result objects"},
		{"result is not a boolean", "package sigstore\nisCompliant := {\"result\": \"true\"}\n", `isCompliant result 0: "result" is a string, want a bool`},
		{"set of non-objects", "package sigstore\nisCompliant contains 1 if true\n", "isCompliant result 0 is a number, want an object"},
		{"conflicting values", "package sigstore\nisCompliant := true if input.predicateType\nisCompliant := false if input._type\n", "eval_conflict_error"},
		{"builtin error is not a pass", "package sigstore\nisCompliant := x if { x := to_number(input.predicateType) > 0 }\n", "isCompliant is undefined"},
	}
	st := decodeFixture(t, "slsa1.json")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := compile(t, KindRego, tc.policy).Evaluate(t.Context(), st)
			if v.Passed {
				t.Fatal("policy passed")
			}
			if err == nil {
				// A failed builtin leaves isCompliant undefined: a deny.
				if v.Message != tc.want {
					t.Errorf("verdict %+v, want message %q", v, tc.want)
				}
				return
			}
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Kind != KindRego || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v (%T), want *EvalError containing %q", err, err, tc.want)
			}
		})
	}
}

func TestRegoContext(t *testing.T) {
	t.Parallel()
	st := decodeFixture(t, "slsa1.json")
	// 10^8 iterations: far longer than the deadline.
	slow := compile(t, KindRego, `package sigstore
isCompliant if {
  every i in numbers.range(1, 10000) {
    every j in numbers.range(1, 10000) { i + j > 0 }
  }
}`)
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := slow.Evaluate(ctx, st)
		var ee *EvalError
		if !errors.As(err, &ee) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want an EvalError wrapping context.Canceled", err)
		}
	})
	t.Run("deadline during evaluation", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		v, err := slow.Evaluate(ctx, st)
		if !errors.Is(err, context.DeadlineExceeded) || v.Passed {
			t.Errorf("verdict %+v, err = %v; want an error wrapping context.DeadlineExceeded", v, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("evaluation took %v after the deadline", d)
		}
	})
}
