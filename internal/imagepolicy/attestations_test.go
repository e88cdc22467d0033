package imagepolicy

import (
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/attest"
)

// attestationSpec is a policy whose one attestation has a policy of the
// given type and source, and whose spec.policy (never compiled at load)
// is CUE.
func attestationSpec(typ, data string) string {
	return "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations:\n    - name: a\n      predicateType: vuln\n      policy: {type: " + typ + ", data: " + strings.TrimSpace(data) + "}\n" +
		"  policy: {type: cue, data: 'not compiled at load'}\n"
}

func TestAttestationPoliciesCompiledWithACompiler(t *testing.T) {
	const field = "spec.authorities[0].attestations[0].policy.data"
	for _, tc := range []struct {
		name, typ, data string
		wantErr         bool
	}{
		{"valid rego", "rego", `"package sigstore\nisCompliant := true"`, false},
		{"broken rego", "rego", `"package sigstore\nisCompliant := {"`, true},
		{"valid cue", "cue", `'predicateType: "x"'`, false},
		{"broken cue", "cue", `'{'`, true},
		{"broken cel", "cel", `'predicate.'`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pols, errs := load(t, doc(attestationSpec(tc.typ, tc.data)), Options{Attestations: attest.Check})
			if tc.wantErr {
				if len(errs) != 1 || errs[0].Field != field || len(pols) != 0 {
					t.Fatalf("want one error on %s, got %v (policies %d)", field, errs, len(pols))
				}
				return
			}
			if len(errs) > 0 || len(pols) != 1 {
				t.Fatalf("want the policy loaded, got %v", errs)
			}
			if len(pols[0].Unchecked) != 0 {
				t.Errorf("Unchecked = %v, want none with a compiler", pols[0].Unchecked)
			}
		})
	}
}

// Without a compiler (the offline commands), an attestation policy is
// loaded unchecked, broken or not, and listed in Policy.Unchecked.
func TestAttestationPoliciesUncheckedWithoutACompiler(t *testing.T) {
	for _, data := range []string{`"package sigstore\nisCompliant := true"`, `"package sigstore\nisCompliant := {"`} {
		pols, errs := load(t, doc(attestationSpec("rego", data)), Options{})
		if len(errs) > 0 || len(pols) != 1 {
			t.Fatalf("%s: want the policy loaded, got %v", data, errs)
		}
		want := []string{"spec.authorities[0].attestations[0].policy.data"}
		if !slices.Equal(pols[0].Unchecked, want) {
			t.Errorf("%s: Unchecked = %v, want %v", data, pols[0].Unchecked, want)
		}
	}
	// Everything else is still checked without a compiler.
	_, errs := load(t, doc(strings.Replace(attestationSpec("rego", `x`), "type: rego", "type: lua", 1)), Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, `unsupported policy type "lua"`) {
		t.Errorf("want the policy type refused, got %v", errs)
	}
}
