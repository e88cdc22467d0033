//go:build offline

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// The offline build (go test -tags offline) keeps scan, lint, test and
// version and says plainly what it left out.
func TestOfflineBuild(t *testing.T) {
	if !cli.Offline {
		t.Fatal("built with -tags offline but cli.Offline is false")
	}
	for _, c := range cli.NewRootCommand().Commands() {
		switch c.Name() {
		case "serve", "verify", "dashboard":
			t.Errorf("the offline build has the %s command", c.Name())
		}
	}
	const full = "needs the full portcullis"
	lib := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lib, "rules", "r", "test", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "rules", "r", "test", "c", "expected.json"), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"scan", "--library", lib, noncompliantPod},
		{"scan", "--store", filepath.Join(t.TempDir(), "findings.db"), noncompliantPod},
		{"test", lib},
	} {
		check{code: cli.ExitInvalid, stderr: []string{full, "go install ./cmd/portcullis"}}.verify(t, runCLI(t, "", args...))
	}
	t.Setenv(cli.LibraryEnv, lib)
	check{code: cli.ExitInvalid, stderr: []string{full}}.verify(t, runCLI(t, "", "scan", noncompliantPod))
}

// Offline, lint loads a ClusterImagePolicy whose attestation policy it
// cannot compile and says so on stderr, at the policy's line.
func TestOfflineLintAttestationPolicyUnchecked(t *testing.T) {
	f := writeBrokenRegoCIP(t, t.TempDir())
	got := runCLI(t, "", "lint", f)
	check{code: cli.ExitOK, stdout: []string{"1 policy valid (1 ClusterImagePolicy)\n"},
		stderr: []string{"note: " + f + `:12: policy "slsa": spec.authorities[0].attestations[0].policy.data: ` + cli.MsgUnchecked}}.verify(t, got)
	if n := strings.Count(got.stderr, "\n"); n != 1 {
		t.Errorf("want one note, got %d lines:\n%s", n, got.stderr)
	}
}
