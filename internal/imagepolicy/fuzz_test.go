package imagepolicy

import (
	"errors"
	"testing"

	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policyerr"
)

// FuzzLoad loads arbitrary documents as ClusterImagePolicies: no panic, and
// every refusal is a located policyerr problem.
//
//	go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 5m ./internal/imagepolicy/
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec:
  images: [{glob: "ghcr.io/**"}]
  authorities:
  - key: {data: "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n", hashAlgorithm: sha512}
    attestations:
    - name: a
      predicateType: slsaprovenance
      policy: {type: rego, data: "package sigstore\nisCompliant := true"}
`))
	f.Add([]byte(`apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: q}
spec:
  mode: warn
  match: [{group: apps, version: v1, resource: deployments, selector: {matchLabels: {a: b}}}]
  images: [{glob: "**"}]
  authorities:
  - keyless:
      url: https://fulcio.example
      identities: [{issuerRegExp: "(", subject: x}]
      ca-cert: {data: "x"}
  - static: {action: fail}
`))
	f.Add([]byte(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: r}
spec:
  images: [{glob: "[a-"}]
  authorities: [{source: [{oci: "bad ref@@"}], key: {secretRef: {name: s}}}]
  policy: {type: cue, data: "{"}
`))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := manifest.Decode("fuzz.yaml", data)
		if err != nil {
			return
		}
		policies, err := LoadWithOptions(docs, Options{})
		if err != nil {
			var es policyerr.Errors
			var e *policyerr.Error
			if !errors.As(err, &es) && !errors.As(err, &e) {
				t.Fatalf("refusal is %T, want a policyerr problem: %v", err, err)
			}
			return
		}
		for _, p := range policies {
			if p == nil || p.Name() == "" {
				t.Fatalf("loaded a policy without a name: %+v", p)
			}
			_ = p.Mode()
		}
	})
}
