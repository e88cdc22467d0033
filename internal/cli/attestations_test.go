package cli_test

// brokenRegoCIP is a ClusterImagePolicy whose attestation policy (line
// 12) is Rego that does not compile.
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
