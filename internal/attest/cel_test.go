package attest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCELEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, expr string
		pass             bool
	}{
		{"SLSA v0.2 builder", "slsa02.json", `predicateType == "https://slsa.dev/provenance/v0.2" && predicate.builder.id.startsWith("https://github.com/slsa-framework/slsa-github-generator/")`, true},
		{"SLSA v0.2 integer field", "slsa02.json", `predicate.invocation.environment.github_run_number >= 42 && predicate.invocation.environment.github_run_number == 42.0`, true},
		{"SLSA v0.2 other builder", "slsa02.json", `predicate.builder.id == "https://cloudbuild.googleapis.com/GoogleHostedWorker"`, false},
		{"SLSA v1 workflow on a tag", "slsa1.json", "predicate.buildDefinition.externalParameters.workflow.repository == 'https://github.com/portcullis/demo'\n&& predicate.buildDefinition.externalParameters.workflow.ref.startsWith('refs/tags/')", true},
		{"SLSA v1 statement type", "slsa1.json", `statement._type == "https://in-toto.io/Statement/v1"`, true},
		{"SLSA v1 optional field absent", "slsa1.json", `predicate.?runDetails.?byproducts.orValue([]).size() == 0`, true},
		{"SPDX no GPL-3.0", "spdx.json", `predicate.packages.all(p, p.licenseDeclared != "GPL-3.0-only")`, true},
		{"SPDX no GPL-2.0", "spdx.json", `predicate.packages.all(p, p.licenseDeclared != "GPL-2.0-only")`, false},
		{"CycloneDX has musl", "cyclonedx.json", `predicate.components.exists(c, c.name == "musl" && c.purl.contains("distro=alpine"))`, true},
		{"CycloneDX spec version", "cyclonedx.json", `predicate.specVersion in ["1.4", "1.5", "1.6"] && predicate.version == 1`, true},
		{"vuln no HIGH", "vuln.json", `predicate.scanner.result.Results.all(r, r.Vulnerabilities.all(v, !(v.Severity in ["HIGH", "CRITICAL"])))`, true},
		{"vuln CVSS below 5.9", "vuln.json", `predicate.scanner.result.Results.all(r, r.Vulnerabilities.all(v, v.CVSS.nvd.V3Score < 5.9))`, false},
		{"vuln null parameters", "vuln.json", `predicate.invocation.parameters == null`, true},
		{"subject digest", "vuln.json", `subject.exists(s, s.digest.sha256 == "74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e")`, true},
		{"sets extension", "cyclonedx.json", `sets.contains(predicate.components.map(c, c.name), ["musl"])`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := compile(t, KindCEL, tc.expr).Evaluate(t.Context(), decodeFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if v.Passed != tc.pass {
				t.Fatalf("verdict = %+v, want passed %v", v, tc.pass)
			}
			if !tc.pass && v.Message != "cel expression "+quote(tc.expr)+" is false" {
				t.Errorf("message %q does not name the expression", v.Message)
			}
			if tc.pass && v.Message != "" {
				t.Errorf("passing verdict has message %q", v.Message)
			}
		})
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `"`, `\"`), "\n", `\n`) + `"`
}

func TestCELCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr string
		line, col  int
		want       string
	}{
		{"syntax error", `predicate.builder.id ==`, 1, 24, "Syntax error"},
		{"syntax error on line 2", "predicateType == 'x' &&\n  predicate.(id)", 2, 13, "Syntax error"},
		{"undeclared variable", `image.digest == "x"`, 1, 1, "undeclared reference to 'image'"},
		{"type error", `predicateType + 1 == 2`, 1, 15, "no matching overload for '_+_'"},
		{"string result", `predicateType`, 1, 1, "expression has type string, want bool"},
		{"dyn result", `predicate.builder`, 1, 1, "expression has type dyn, want bool"},
		{"empty", ``, 1, 1, "Syntax error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(KindCEL, tc.expr)
			if err == nil {
				t.Fatalf("compiled %T, want an error", p)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *CompileError", err, err)
			}
			if ce.Kind != KindCEL || ce.Line != tc.line || ce.Col != tc.col || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("error = %q at %d:%d, want %d:%d containing %q", err, ce.Line, ce.Col, tc.line, tc.col, tc.want)
			}
		})
	}
	if _, err := Compile(KindCEL, "true", WithCELCostLimit(0)); err == nil || !strings.Contains(err.Error(), "cost limit must be positive") {
		t.Errorf("WithCELCostLimit(0): err = %v", err)
	}
}

func TestCELEvalErrors(t *testing.T) {
	t.Parallel()
	st := decodeFixture(t, "spdx.json")
	tests := []struct {
		name, expr string
		opts       []Option
		want       string
		costLimit  bool
	}{
		{name: "missing key", expr: `predicate.builder.id == "x"`, want: "no such key: builder"},
		{name: "runtime type mismatch", expr: `predicate.spdxVersion > 2`, want: "no such overload"},
		{name: "division by zero", expr: `size(predicate.packages) / 0 == 1`, want: "division by zero"},
		{name: "cost limit", expr: `predicate.packages.all(p, predicate.packages.all(q, p.name != "" && q.name != ""))`, opts: []Option{WithCELCostLimit(20)}, want: "cost limit exceeded", costLimit: true},
		{
			name:      "default cost limit",
			expr:      `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`,
			want:      "cost limit exceeded",
			costLimit: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := compile(t, KindCEL, tc.expr, tc.opts...).Evaluate(t.Context(), st)
			if err == nil {
				t.Fatalf("verdict %+v, want an error", v)
			}
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Kind != KindCEL || v.Passed {
				t.Fatalf("verdict %+v, error %v (%T), want an *EvalError", v, err, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "expression "+quote(tc.expr[:min(len(tc.expr), 100)])[:min(len(tc.expr), 100)]) {
				t.Errorf("error = %q, want it to contain %q and the expression", err, tc.want)
			}
			if got := errors.Is(err, ErrCostLimit); got != tc.costLimit {
				t.Errorf("errors.Is(ErrCostLimit) = %v, want %v", got, tc.costLimit)
			}
		})
	}
}

func TestCELContext(t *testing.T) {
	t.Parallel()
	st := decodeFixture(t, "cyclonedx.json")
	slow := compile(t, KindCEL, `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+e+f > 0))))))`, WithCELCostLimit(1<<62))
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := slow.Evaluate(ctx, st); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline during evaluation", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		v, err := slow.Evaluate(ctx, st)
		var ee *EvalError
		if !errors.As(err, &ee) || !errors.Is(err, context.DeadlineExceeded) || v.Passed {
			t.Errorf("verdict %+v, err = %v; want an EvalError wrapping DeadlineExceeded", v, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("evaluation ran %v", d)
		}
	})
}
