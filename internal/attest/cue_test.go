package attest

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCUEEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, policy string
		pass               bool
		want               string
	}{
		{
			name: "SLSA v0.2 builder", file: "slsa02.json", pass: true,
			policy: `predicateType: "https://slsa.dev/provenance/v0.2"
predicate: builder: id: =~"^https://github.com/slsa-framework/slsa-github-generator/"
predicate: invocation: environment: github_run_number: >=42`,
		},
		{
			name: "SLSA v0.2 other builder", file: "slsa02.json", want: "predicate.builder.id: conflicting values",
			policy: `predicate: builder: id: "https://cloudbuild.googleapis.com/GoogleHostedWorker"`,
		},
		{
			name: "SLSA v1 with imports and a definition", file: "slsa1.json", pass: true,
			policy: `import "strings"

#Workflow: {
	repository: "https://github.com/portcullis/demo"
	ref:        string & strings.HasPrefix("refs/tags/")
	...
}
_type: "https://in-toto.io/Statement/v1"
predicate: buildDefinition: externalParameters: workflow: #Workflow`,
		},
		{
			name: "SLSA v1 required field absent", file: "slsa1.json", want: "predicate.runDetails.builder.version: incomplete value string",
			policy: `predicate: runDetails: builder: version: string`,
		},
		{
			name: "SPDX licences", file: "spdx.json", pass: true,
			policy: `predicate: packages: [...{licenseDeclared: "GPL-2.0-only" | "MIT" | "Apache-2.0"}]`,
		},
		{
			name: "SPDX licences excluding GPL", file: "spdx.json", want: "predicate.packages.0.licenseDeclared",
			policy: `predicate: packages: [...{licenseDeclared: "MIT" | "Apache-2.0"}]`,
		},
		{
			name: "CycloneDX version", file: "cyclonedx.json", pass: true,
			policy: `predicate: {bomFormat: "CycloneDX", specVersion: "1.4" | "1.5" | "1.6", version: int & >0}`,
		},
		{
			name: "vuln scores", file: "vuln.json", want: "predicate.scanner.result.Results.0.Vulnerabilities.0.CVSS.nvd.V3Score: invalid value 5.9",
			policy: `predicate: scanner: result: Results: [...{Vulnerabilities: [...{CVSS: nvd: V3Score: <5.6}]}]`,
		},
		{
			name: "vuln metadata", file: "vuln.json", pass: true,
			policy: `predicate: {
	scanner: version: "0.51.1"
	metadata: scanFinishedOn: string
	invocation: parameters: null
}
subject: [{digest: sha256: "74e19dcd5ceecfb9f1579fda3c43a847f3fad01c8606d85caa17242e9bc99f0e", ...}]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := compile(t, KindCUE, tc.policy).Evaluate(t.Context(), decodeFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if v.Passed != tc.pass {
				t.Fatalf("verdict = %+v, want passed %v", v, tc.pass)
			}
			if !tc.pass && (!strings.HasPrefix(v.Message, "statement does not satisfy the cue policy: ") || !strings.Contains(v.Message, tc.want)) {
				t.Errorf("message = %q, want it to contain %q", v.Message, tc.want)
			}
		})
	}
}

func TestCUECompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, policy string
		line, col    int
		want         string
	}{
		{"syntax error", "predicate: {\n  builder: id: \"x\"\n", 2, 20, "expected '}', found 'EOF'"},
		{"inconsistent policy", "predicateType: \"a\"\npredicateType: \"b\"\n", 1, 16, `conflicting values "b" and "a"`},
		{"unknown import", "import \"nosuch/pkg\"\n\nx: 1\n", 1, 8, "nosuch/pkg"},
		{"undefined reference", "predicate: builder: id: undefinedThing\n", 1, 25, "reference \"undefinedThing\" not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(KindCUE, tc.policy)
			if err == nil {
				t.Fatalf("compiled %T, want an error", p)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *CompileError", err, err)
			}
			if ce.Kind != KindCUE || ce.Line != tc.line || ce.Col != tc.col || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("error = %q at %d:%d, want %d:%d containing %q", err, ce.Line, ce.Col, tc.line, tc.col, tc.want)
			}
		})
	}
}

func TestCUEContext(t *testing.T) {
	t.Parallel()
	p := compile(t, KindCUE, `predicateType: string`)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	v, err := p.Evaluate(ctx, decodeFixture(t, "slsa1.json"))
	var ee *EvalError
	if !errors.As(err, &ee) || !errors.Is(err, context.Canceled) || v.Passed {
		t.Errorf("verdict %+v, err = %v; want an EvalError wrapping context.Canceled", v, err)
	}
}

// cueSLSAPolicy is the CUE case of the shared concurrency test and benchmark.
func cueSLSAPolicy() (string, bool) {
	return `predicate: runDetails: builder: id: "https://github.com/actions/runner/github-hosted"
predicate: buildDefinition: externalParameters: workflow: repository: "https://github.com/portcullis/demo"`, true
}
