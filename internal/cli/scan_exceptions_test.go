package cli_test

import (
	"os"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// TestScanExceptions: --exceptions applies PolicyExceptions to a scan; the
// exempted rule is skipped (so the scan passes) and the JSON result names
// the exception.
func TestScanExceptions(t *testing.T) {
	t.Parallel()
	const dir = "testdata/exceptions/"
	base := []string{"scan", dir + "pods.yaml", "--policy", dir + "policy.yaml", "--no-color"}
	check{code: cli.ExitFindings, stdout: []string{"FAIL", "no-host-ipc"}}.verify(t, runCLI(t, "", base...))
	check{code: cli.ExitOK, stdout: []string{"0 failed", "1 skipped"}}.verify(t, runCLI(t, "", append(base, "--exceptions", dir+"exception.yaml")...))
	check{code: cli.ExitOK, stdout: []string{`"status":"skip"`, `"exceptions":"exceptions/debug-tools"`, "rule is skipped due to policy exception exceptions/debug-tools"}}.
		verify(t, runCLI(t, "", append(base, "--exceptions", dir, "-o", "json", "--all")...))
	check{code: cli.ExitInvalid, stderr: []string{"no PolicyExceptions found"}}.verify(t, runCLI(t, "", append(base, "--exceptions", dir+"pods.yaml")...))
}

// TestLintExceptions: lint checks PolicyExceptions as strictly as
// policies, and a file holding only exceptions is not "no policies".
func TestLintExceptions(t *testing.T) {
	t.Parallel()
	check{code: cli.ExitOK, stdout: []string{"1 policy valid (1 PolicyException)"}}.verify(t, runCLI(t, "", "lint", "testdata/exceptions/exception.yaml"))
	bad := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(bad, []byte(`apiVersion: kyverno.io/v2
kind: PolicyException
metadata: {name: bad, namespace: x}
spec:
  exceptions: [{policyName: p, ruleNames: [r]}]
  match: {any: [{resources: {kinds: [Pod]}}]}
  podSecurity: [{controlName: Host Namespace}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	check{code: cli.ExitInvalid, stderr: []string{"bad.yaml:7", `unknown control "Host Namespace"`}}.verify(t, runCLI(t, "", "lint", bad))
}
