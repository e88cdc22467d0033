package imageverify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testing/sigstoretest"
)

// TestAttestationPolicies: ClusterImagePolicy authorities with
// attestations, against signed in-toto attestations in the registry.
func TestAttestationPolicies(t *testing.T) {
	reg := startRegistry(t)
	key, other := newKey(t), newKey(t)
	slsa := map[string]any{
		"builder":   map[string]any{"id": "https://builder.example.com/trusted"},
		"buildType": "https://example.com/build/v1",
	}
	vuln := map[string]any{
		"scanner": map[string]any{"uri": "pkg:github/aquasecurity/trivy@0.50.0",
			"result": map[string]any{"Results": []any{map[string]any{"Vulnerabilities": []any{
				map[string]any{"VulnerabilityID": "CVE-2024-0001", "Severity": "CRITICAL"}}}}}},
		"metadata": map[string]any{"scanStartedOn": "2026-11-01T00:00:00Z", "scanFinishedOn": "2026-11-01T00:01:00Z"},
	}
	d := reg.PushRandom(t, "team/app", "attested")
	sigstoretest.AttestKey(t, reg, "team/app", d, "https://slsa.dev/provenance/v0.2", slsa, key)
	sigstoretest.AttestKey(t, reg, "team/app", d, "https://cosign.sigstore.dev/attestation/vuln/v1", vuln, key)
	reg.PushRandom(t, "team/app", "bare")
	foreign := reg.PushRandom(t, "team/app", "foreign")
	sigstoretest.AttestKey(t, reg, "team/app", foreign, "https://slsa.dev/provenance/v0.2", slsa, other)

	policy := func(attestations string) string {
		return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: provenance}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: build-key
    key:
      data: |
%s
    attestations:
%s`, reg.Host, indent(key.PublicPEM), attestations)
	}
	regoBuilder := `    - name: trusted-builder
      predicateType: slsaprovenance
      policy:
        type: rego
        data: |
          package sigstore
          default isCompliant = false
          isCompliant {
            input.predicate.builder.id == "%s"
          }
`
	celNoCritical := `    - name: no-critical
      predicateType: vuln
      policy:
        type: cel
        data: '!predicate.scanner.result.Results.exists(r, r.Vulnerabilities.exists(v, v.Severity == "CRITICAL"))'
`
	v := New(Options{})
	for _, tc := range []struct {
		name, ref, attestations string
		allowed                 bool
		reason                  string
	}{
		{"provenance from the trusted builder", reg.Ref("team/app", "attested"), fmt.Sprintf(regoBuilder, "https://builder.example.com/trusted"), true, ""},
		{"provenance from another builder", reg.Ref("team/app", "attested"), fmt.Sprintf(regoBuilder, "https://builder.example.com/other"), false, "predicate fails the rego policy"},
		{"predicate type present, no policy", reg.Ref("team/app", "attested"), "    - name: has-sbom-less-provenance\n      predicateType: slsaprovenance\n", true, ""},
		{"missing predicate type", reg.Ref("team/app", "attested"), "    - name: sbom\n      predicateType: spdxjson\n", false, "no verified attestation of type https://spdx.dev/Document"},
		{"vulnerability report with a critical finding", reg.Ref("team/app", "attested"), celNoCritical, false, "no-critical"},
		{"no attestations at all", reg.Ref("team/app", "bare"), "    - name: any\n      predicateType: slsaprovenance\n", false, "no attestations"},
		{"attestation signed by another key", reg.Ref("team/app", "foreign"), "    - name: any\n      predicateType: slsaprovenance\n", false, "build-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := v.VerifyPolicies(withTimeout(t, 10*time.Second), tc.ref, loadCIPs(t, policy(tc.attestations)))
			if res.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", res.Allowed, tc.allowed, res.Policies)
			}
			if !tc.allowed {
				reasons := strings.Join(res.Policies[0].Reasons, "; ")
				if !strings.Contains(reasons, tc.reason) {
					t.Fatalf("reasons %q do not contain %q", reasons, tc.reason)
				}
			}
		})
	}
}

// TestSpecPolicyFailsClosed: a ClusterImagePolicy-level spec.policy is not
// evaluated yet, so the policy must fail rather than pass on its
// authorities alone.
func TestSpecPolicyFailsClosed(t *testing.T) {
	cips := loadCIPs(t, `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: with-policy}
spec:
  images: [{glob: "registry.example/**"}]
  authorities:
  - static: {action: pass}
  policy:
    type: rego
    data: |
      package sigstore
      isCompliant := false
`)
	res := New(Options{}).VerifyPolicies(withTimeout(t, 5*time.Second), "registry.example/app@sha256:"+strings.Repeat("a", 64), cips)
	if res.Allowed || !strings.Contains(strings.Join(res.Policies[0].Reasons, ";"), "spec.policy") {
		t.Fatalf("result = %+v, want the policy failed on spec.policy", res)
	}
}
