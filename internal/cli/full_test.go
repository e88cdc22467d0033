//go:build !offline

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// The full build compiles attestation policies when it loads policies:
// lint, scan and test refuse one that does not compile, as verify and
// serve do.
func TestFullBuildCompilesAttestationPolicies(t *testing.T) {
	if cli.Offline {
		t.Fatal("cli.Offline is true in the full build")
	}
	dir := t.TempDir()
	f := writeBrokenRegoCIP(t, dir)
	want := f + `:12: policy "slsa": spec.authorities[0].attestations[0].policy.data: attest: compile rego policy`
	check{code: cli.ExitInvalid, stderr: []string{want}, notStdout: []string{"valid"}}.verify(t, runCLI(t, "", "lint", f))
	check{code: cli.ExitInvalid, stderr: []string{want}}.verify(t, runCLI(t, "", "scan", "--policy", f, noncompliantPod))
	suite := "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [cip.yaml]\nresources: [pod.yaml]\nresults: []\n"
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n"
	if err := os.WriteFile(filepath.Join(dir, "kyverno-test.yaml"), []byte(suite), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte(pod), 0o644); err != nil {
		t.Fatal(err)
	}
	got := runCLI(t, "", "test", dir)
	check{code: cli.ExitFindings}.verify(t, got)
	if !strings.Contains(got.stdout+got.stderr, "rego_parse_error") {
		t.Errorf("test: the broken attestation policy is not reported:\n%s%s", got.stdout, got.stderr)
	}
}
