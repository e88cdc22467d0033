package policy

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/attest"
)

// brokenRegoCIP is a ClusterImagePolicy whose attestation policy (line 12)
// is Rego that does not compile; the cli tests read the same file.
const brokenRegoCIP = "testdata/attestations/broken-rego.yaml"

func readBrokenRegoCIP(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(brokenRegoCIP)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Options.Attestations reaches the ClusterImagePolicy loader: with it a
// broken attestation policy is refused, without it the policy loads with
// that part unchecked.
func TestCompileAttestationCompiler(t *testing.T) {
	_, err := LoadBytes("cip.yaml", readBrokenRegoCIP(t), Options{Attestations: attest.Check})
	errs := AsErrors(err)
	if len(errs) != 1 || errs[0].Field != "spec.authorities[0].attestations[0].policy.data" || errs[0].Line != 12 || !strings.Contains(errs[0].Error(), "rego") {
		t.Fatalf("with attest.Check: want one error at line 12 on the policy data, got %v", err)
	}
	set, err := LoadBytes("cip.yaml", readBrokenRegoCIP(t), Options{})
	if err != nil {
		t.Fatalf("without a compiler: %v", err)
	}
	if len(set.Images) != 1 || !slices.Equal(set.Images[0].Unchecked, []string{"spec.authorities[0].attestations[0].policy.data"}) {
		t.Fatalf("without a compiler: want the policy loaded with its attestation policy unchecked, got %+v", set.Images)
	}
}
