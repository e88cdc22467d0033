package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/attest"
)

// A ClusterImagePolicy whose attestation policy is broken Rego.
const brokenRegoCIP = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: slsa
spec:
  images: [{glob: '**'}]
  authorities:
  - keyless: {identities: [{issuer: https://issuer.example, subject: me}]}
    attestations:
    - name: a
      predicateType: vuln
      policy: {type: rego, data: "package sigstore\nisCompliant := {"}
`

// Options.Attestations reaches the ClusterImagePolicy loader: with it a
// broken attestation policy is refused, without it the policy loads with
// that part unchecked.
func TestCompileAttestationCompiler(t *testing.T) {
	_, err := LoadBytes("cip.yaml", []byte(brokenRegoCIP), Options{Attestations: attest.Check})
	errs := AsErrors(err)
	if len(errs) != 1 || errs[0].Field != "spec.authorities[0].attestations[0].policy.data" || errs[0].Line != 12 || !strings.Contains(errs[0].Error(), "rego") {
		t.Fatalf("with attest.Check: want one error at line 12 on the policy data, got %v", err)
	}
	set, err := LoadBytes("cip.yaml", []byte(brokenRegoCIP), Options{})
	if err != nil {
		t.Fatalf("without a compiler: %v", err)
	}
	if len(set.Images) != 1 || !slices.Equal(set.Images[0].Unchecked, []string{"spec.authorities[0].attestations[0].policy.data"}) {
		t.Fatalf("without a compiler: want the policy loaded with its attestation policy unchecked, got %+v", set.Images)
	}
}
