package cli_test

import (
	"os"
	"path/filepath"
	"testing"
)

// brokenRegoCIP is a ClusterImagePolicy whose attestation policy (line
// 12) is Rego that does not compile: the policy package's test file.
const brokenRegoCIP = "../policy/testdata/attestations/broken-rego.yaml"

// writeBrokenRegoCIP copies brokenRegoCIP to dir/cip.yaml and returns that
// path (the tests name it in suites and expected messages).
func writeBrokenRegoCIP(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(brokenRegoCIP)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "cip.yaml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
