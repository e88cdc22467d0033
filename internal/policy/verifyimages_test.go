package policy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// testKeyPEM returns a fresh PEM public key indented for a YAML block.
func testKeyPEM(t *testing.T, indent int) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := strings.TrimRight(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), "\n")
	pad := strings.Repeat(" ", indent)
	return pad + strings.ReplaceAll(p, "\n", "\n"+pad)
}

// ivRule is an Enforce policy whose one rule has the given verifyImages
// entry body (indented for "    - ").
func ivPolicy(entry string) string {
	return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: iv
spec:
  validationFailureAction: Enforce
  rules:
  - name: check
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - ` + strings.TrimPrefix(entry, "      ")
}

func TestVerifyImagesRejects(t *testing.T) {
	key := testKeyPEM(t, 14)
	keys := "      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n" + testKeyPEM(t, 14) + "\n"
	const f = "spec.rules[0].verifyImages[0]"
	tests := []struct {
		name  string
		entry string
		want  []wantErr
	}{
		{name: "bad wildcard in imageReferences", entry: "      imageReferences: [\"ghcr.io/org/{a,b}\"]\n" + keys,
			want: []wantErr{{field: f + ".imageReferences[0]", msg: "invalid image reference pattern"}}},
		{name: "variable in imageReferences", entry: "      imageReferences: [\"{{ request.object.x }}\"]\n" + keys,
			want: []wantErr{{field: f + ".imageReferences[0]", msg: "variables are not allowed"}}},
		{name: "empty skipImageReferences pattern", entry: "      imageReferences: [\"*\"]\n      skipImageReferences: [\"\"]\n" + keys,
			want: []wantErr{{field: f + ".skipImageReferences[0]", msg: "empty image reference"}}},
		{name: "no imageReferences", entry: "      mutateDigest: true\n" + keys,
			want: []wantErr{{field: f + ".imageReferences", msg: "at least one image reference is required"}}},
		{name: "no attestors and no attestations", entry: "      imageReferences: [\"*\"]\n",
			want: []wantErr{{field: f, msg: "needs attestors or attestations"}}},
		{name: "count above entries", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - count: 2\n        entries:\n        - keys:\n            publicKeys: |-\n" + key + "\n",
			want: []wantErr{{field: f + ".attestors[0].count", msg: "count 2 exceeds the 1 entries"}}},
		{name: "count below one", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - count: 0\n        entries:\n        - keys:\n            publicKeys: |-\n" + key + "\n",
			want: []wantErr{{field: f + ".attestors[0].count", msg: "count must be at least 1"}}},
		{name: "attestor set without entries", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries: []\n",
			want: []wantErr{{field: f + ".attestors[0].entries", msg: "attestor set has no entries"}}},
		{name: "entry with nothing", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - repository: \"\"\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0]", msg: "exactly one of keys, keyless, certificates and attestor"}}},
		{name: "entry with keys and keyless", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {kms: \"awskms:///a\"}\n          keyless: {issuer: x, subject: s}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0]", msg: "exactly one of keys, keyless, certificates and attestor"}}},
		{name: "keys without a key", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {signatureAlgorithm: sha256}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys", msg: "keys needs publicKeys, secret or kms"}}},
		{name: "publicKeys not PEM", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {publicKeys: not-a-key}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.publicKeys", msg: "not a PEM public key", err: "no PEM block"}}},
		{name: "unknown signatureAlgorithm", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - signatureAlgorithm: md5\n          keys: {kms: \"awskms:///a\"}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].signatureAlgorithm", msg: `unsupported hash algorithm "md5" (want sha224, sha256, sha384 or sha512)`}}},
		{name: "unknown keys signatureAlgorithm", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {kms: \"awskms:///a\", signatureAlgorithm: sha1}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.signatureAlgorithm", msg: `unsupported hash algorithm "sha1"`}}},
		{name: "secret without namespace", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {secret: {name: cosign}}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.secret.namespace", msg: "secret has no namespace"}}},
		{name: "kms not a URI", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {kms: my-key}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.kms", msg: "is not a key URI"}}},
		{name: "keyless without roots or identity", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keyless: {rekor: {url: \"https://rekor.sigstore.dev\"}}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keyless", msg: "keyless needs roots or an issuer and subject"}}},
		{name: "malformed subjectRegExp", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keyless: {issuer: x, subjectRegExp: \"a(\"}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keyless.subjectRegExp", msg: "invalid regular expression", err: "missing closing )"}}},
		{name: "keyless roots not PEM", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keyless: {roots: nope}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keyless.roots", msg: "roots are not PEM certificates", err: "no PEM block found (want -----BEGIN CERTIFICATE-----)"}}},
		{name: "keyless roots with a public key", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keyless:\n            roots: |-\n" + key + "\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keyless.roots", msg: "roots are not PEM certificates", err: `PEM block 1: is a public key ("PUBLIC KEY"), not a certificate`}}},
		{name: "publicKeys with stray text after the key", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys:\n            publicKeys: |-\n" + key + "\n              junk\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.publicKeys", msg: "not a PEM public key", err: "unparseable data after PEM block 1"}}},
		{name: "rekor without url", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keyless: {issuer: x, subject: s, rekor: {pubkey: \"\"}}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keyless.rekor.url", msg: "rekor needs a url"}}},
		{name: "certificates without cert", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - certificates: {rekor: {ignoreTlog: true}}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].certificates", msg: "certificates needs cert or certChain"}}},
		{name: "nested attestor count", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - attestor:\n            count: 3\n            entries:\n            - keys: {kms: \"awskms:///a\"}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].attestor.count", msg: "count 3 exceeds the 1 entries"}}},
		{name: "attestation without type", entry: "      imageReferences: [\"*\"]\n      attestations:\n      - attestors:\n        - entries:\n          - keys: {kms: \"awskms:///a\"}\n",
			want: []wantErr{{field: f + ".attestations[0].type", msg: "attestation has no type"}}},
		{name: "attestation without attestors", entry: "      imageReferences: [\"*\"]\n      attestations:\n      - type: https://slsa.dev/provenance/v0.2\n",
			want: []wantErr{{field: f + ".attestations[0].attestors", msg: "attestation needs attestors"}}},
		{name: "attestation condition with unknown operator", entry: "      imageReferences: [\"*\"]\n      attestations:\n      - type: t\n        attestors:\n        - entries:\n          - keys: {kms: \"awskms:///a\"}\n        conditions:\n        - all:\n          - key: \"{{ builder.id }}\"\n            operator: Sorta\n            value: x\n",
			want: []wantErr{{field: f + ".attestations[0].conditions[0].all[0].operator", msg: `unknown operator "Sorta"`}}},
		{name: "attestation condition with bad JMESPath", entry: "      imageReferences: [\"*\"]\n      attestations:\n      - type: t\n        attestors:\n        - entries:\n          - keys: {kms: \"awskms:///a\"}\n        conditions:\n        - any:\n          - key: \"{{ builder.[ }}\"\n            operator: Equals\n            value: x\n",
			want: []wantErr{{field: f + ".attestations[0].conditions[0].any[0].key", msg: "invalid JMESPath", err: "SyntaxError"}}},
		{name: "Notary", entry: "      type: Notary\n      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - certificates: {cert: x}\n",
			want: []wantErr{{field: f + ".type", msg: "type Notary is not supported"},
				{field: f + ".attestors[0].entries[0].certificates.cert", msg: "cert is not a PEM certificate", err: "no PEM block found"}}},
		{name: "Audit with mutateDigest", entry: "      failureAction: Audit\n      imageReferences: [\"*\"]\n" + keys,
			want: []wantErr{{field: f + ".mutateDigest", msg: "mutateDigest must be set to false for 'Audit' failure action"}}},
		{name: "unknown field", entry: "      imageReferences: [\"*\"]\n      mutateDigests: false\n" + keys,
			want: []wantErr{{field: f + ".mutateDigests", msg: "unknown field"}}},
		{name: "unknown keys field", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: {kms: \"awskms:///a\", publicKey: x}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].keys.publicKey", msg: "unknown field"}}},
		{name: "deprecated key field", entry: "      imageReferences: [\"*\"]\n      key: x\n" + keys,
			want: []wantErr{{field: f + ".key", msg: "deprecated field is not supported"}}},
		{name: "attestor annotations unsupported", entry: "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - annotations: {team: a}\n          keys: {kms: \"awskms:///a\"}\n",
			want: []wantErr{{field: f + ".attestors[0].entries[0].annotations", msg: "not supported"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := ivPolicy(tc.entry)
			_, es := loadErrors(t, "iv.yaml", doc, Options{})
			if len(es) == 0 {
				t.Fatalf("loaded without error:\n%s", doc)
			}
			for _, w := range tc.want {
				w.policy, w.rule = "iv", "check"
				found := false
				for _, e := range es {
					if w.matches(e) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing %+v in%s", w, formatErrs(es))
				}
			}
			if len(es) != len(tc.want) {
				t.Errorf("got %d problems, want %d:%s", len(es), len(tc.want), formatErrs(es))
			}
		})
	}
}

// Examples from https://kyverno.io/docs/writing-policies/verify-images/sigstore/.
func TestVerifyImagesDocsExamplesLoad(t *testing.T) {
	key := testKeyPEM(t, 20)
	docs := map[string]string{
		"keys": `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image
spec:
  webhookTimeoutSeconds: 30
  rules:
    - name: check-image
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/kyverno/test-verify-image*"
        failureAction: Enforce
        attestors:
        - count: 1
          entries:
          - keys:
              publicKeys: |-
` + key + `
              rekor:
                url: https://rekor.sigstore.dev
                ignoreTlog: true
`,
		"keyless attestations": `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-slsa-attestations
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: check-builder-id-keyless
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/slsa-framework/*"
        attestations:
        - type: https://slsa.dev/provenance/v0.2
          attestors:
          - entries:
            - keyless:
                subject: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.4.0"
                issuer: "https://token.actions.githubusercontent.com"
                rekor:
                  url: https://rekor.sigstore.dev
          conditions:
          - all:
            - key: "{{ builder.id }}"
              operator: Equals
              value: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.4.0"
`,
		"audit without digest mutation": `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: audit-images
spec:
  rules:
    - name: audit
      match:
        any:
        - resources:
            kinds: [Pod]
      verifyImages:
      - imageReferences: ["ghcr.io/org/*"]
        skipImageReferences: ["ghcr.io/org/trusted/*"]
        mutateDigest: false
        verifyDigest: false
        required: false
        attestors:
        - entries:
          - keys:
              secret: {name: cosign-pub, namespace: kyverno}
          - keys:
              kms: gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k
          - keyless:
              issuerRegExp: "https://token\\.actions\\..*"
              subjectRegExp: "https://github\\.com/org/.*"
              ctlog: {ignoreSCT: true}
              rekor: {url: "https://rekor.sigstore.dev"}
          - attestor:
              count: 1
              entries:
              - keys: {kms: "awskms:///alias/a"}
              - keys: {kms: "awskms:///alias/b"}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			set, err := LoadBytes("doc.yaml", []byte(doc), Options{})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if !set.HasVerifyImages() {
				t.Fatal("HasVerifyImages = false")
			}
			// Autogen: the Pod rule is extended to pod controllers and CronJobs.
			var names []string
			for _, r := range set.Policies[0].Rules {
				names = append(names, r.Name())
				if len(r.Spec.VerifyImages) == 0 {
					t.Errorf("rule %s lost its verifyImages", r.Name())
				}
			}
			rule := set.Policies[0].Rules[0].Name()
			want := []string{rule, "autogen-" + rule, "autogen-cronjob-" + rule}
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("rules %v, want %v", names, want)
			}
			if got := set.RulesFor("Deployment"); len(got) != 1 || got[0].Autogen != AutogenControllers {
				t.Errorf("RulesFor(Deployment) = %v", got)
			}
		})
	}
	set, err := LoadBytes("plain.yaml", []byte(badRule("  - name: v\n    match: {any: [{resources: {kinds: [Pod]}}]}\n    validate: {pattern: {metadata: {name: \"?*\"}}}\n")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if set.HasVerifyImages() {
		t.Error("HasVerifyImages = true for a validate-only set")
	}
}

// TestVerifyImagesKeyScope: a namespaced Policy may name key Secrets of its
// own namespace only (keys.secret and k8s:// kms references), and keys.kms
// never names a file or URL, which the webhook would read.
func TestVerifyImagesKeyScope(t *testing.T) {
	const f = "spec.rules[0].verifyImages[0].attestors[0].entries[0].keys"
	namespaced := func(entry string) string {
		return strings.Replace(ivPolicy(entry), "kind: ClusterPolicy\nmetadata:\n", "kind: Policy\nmetadata:\n  namespace: team-a\n", 1)
	}
	entry := func(keys string) string {
		return "      imageReferences: [\"*\"]\n      attestors:\n      - entries:\n        - keys: " + keys + "\n"
	}
	tests := []struct {
		name, doc string
		want      []wantErr
	}{
		{name: "secret in another namespace", doc: namespaced(entry("{secret: {name: cosign, namespace: kube-system}}")),
			want: []wantErr{{field: f + ".secret.namespace", msg: "a Policy in namespace team-a can only read key Secrets of its own namespace, not kube-system"}}},
		{name: "k8s reference to another namespace", doc: namespaced(entry("{kms: \"k8s://kube-system/cosign\"}")),
			want: []wantErr{{field: f + ".kms", msg: "not kube-system"}}},
		{name: "file URI", doc: ivPolicy(entry("{kms: \"file:///etc/portcullis/key.pub\"}")),
			want: []wantErr{{field: f + ".kms", msg: "files and URLs are not read"}}},
		{name: "https URL", doc: ivPolicy(entry("{kms: \"https://example.com/key.pub\"}")),
			want: []wantErr{{field: f + ".kms", msg: "is not a key URI"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, es := loadErrors(t, "iv.yaml", tc.doc, Options{})
			if len(es) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:%s", len(es), len(tc.want), formatErrs(es))
			}
			for _, w := range tc.want {
				w.policy, w.rule = "iv", "check"
				found := false
				for _, e := range es {
					found = found || w.matches(e)
				}
				if !found {
					t.Errorf("missing %+v in%s", w, formatErrs(es))
				}
			}
		})
	}
	// What stays allowed: own namespace, a ClusterPolicy naming any
	// namespace, variables (checked at admission), KMS URIs.
	for name, doc := range map[string]string{
		"own namespace":      namespaced(entry("{secret: {name: cosign, namespace: team-a}}")),
		"own namespace k8s":  namespaced(entry("{kms: \"k8s://team-a/cosign\"}")),
		"cluster policy":     ivPolicy(entry("{secret: {name: cosign, namespace: kube-system}}")),
		"variable namespace": namespaced(entry("{secret: {name: cosign, namespace: \"{{ request.namespace }}\"}}")),
		"kms":                namespaced(entry("{kms: \"awskms:///alias/cosign\"}")),
	} {
		if _, es := loadErrors(t, "iv.yaml", doc, Options{}); len(es) != 0 {
			t.Errorf("%s: %s", name, formatErrs(es))
		}
	}
}
