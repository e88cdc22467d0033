package imagepolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policyerr"
)

var testKeyPEM, testCertPEM = makeKeyAndCert()

func makeKeyAndCert() (string, string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
}

// doc builds a ClusterImagePolicy named "p" with the given spec YAML
// (indented by two spaces); @KEY@ and @CERT@ stand for the test key and CA
// certificate as quoted strings, @KEYJUNK@ and @CERTJUNK@ for them followed
// by stray text.
func doc(spec string) string {
	spec = strings.ReplaceAll(spec, "@KEY@", strconv.Quote(testKeyPEM))
	spec = strings.ReplaceAll(spec, "@CERT@", strconv.Quote(testCertPEM))
	spec = strings.ReplaceAll(spec, "@KEYJUNK@", strconv.Quote(testKeyPEM+"junk"))
	spec = strings.ReplaceAll(spec, "@CERTJUNK@", strconv.Quote(testCertPEM+"junk"))
	return "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: p\nspec:\n" + spec
}

func load(t *testing.T, yaml string, opts Options) ([]*Policy, []*policyerr.Error) {
	t.Helper()
	docs, err := manifest.Decode("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	ps, err := LoadWithOptions(docs, opts)
	return ps, policyerr.AsErrors(err)
}

const staticPass = "  authorities:\n  - static: {action: pass}\n"

func TestLoadRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, spec, field, reason string
	}{
		{"no images", "  authorities:\n  - static: {action: pass}\n", "spec.images", "at least one image glob is required"},
		{"empty glob", "  images: [{glob: ''}]\n" + staticPass, "spec.images[0].glob", "glob is required"},
		{"glob question mark", "  images: [{glob: 'ghcr.io/app?'}]\n" + staticPass, "spec.images[0].glob", "is not supported"},
		{"glob char class", "  images: [{glob: 'ghcr.io/[a-z]*'}]\n" + staticPass, "spec.images[0].glob", "is not allowed"},
		{"glob regexp", "  images: [{glob: '.+'}]\n" + staticPass, "spec.images[0].glob", "is not allowed"},
		{"glob digest", "  images: [{glob: 'ghcr.io/a@sha256:00'}]\n" + staticPass, "spec.images[0].glob", "is not allowed"},
		{"second glob invalid", "  images: [{glob: 'ghcr.io/**'}, {glob: 'a b'}]\n" + staticPass, "spec.images[1].glob", "is not allowed"},
		{"no authorities", "  images: [{glob: '**'}]\n", "spec.authorities", "at least one authority is required"},
		{"unknown mode", "  images: [{glob: '**'}]\n  mode: audit\n" + staticPass, "spec.mode", `unsupported mode "audit"`},
		{"authority empty", "  images: [{glob: '**'}]\n  authorities:\n  - name: a\n", "spec.authorities[0]", "expected exactly one of key, keyless, static, got none"},
		// policy-controller: an authority needs key, keyless or static; a
		// timestamp authority alone does not say who signed.
		{"timestamp only authority", "  images: [{glob: '**'}]\n  authorities:\n  - rfc3161timestamp: {trustRootRef: tsa}\n", "spec.authorities[0]", "expected exactly one of key, keyless, static, got none"},
		{"authority key and keyless", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    keyless: {identities: [{issuer: i, subject: s}]}\n", "spec.authorities[0]", "got key, keyless"},
		{"authority key and static", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    static: {action: pass}\n", "spec.authorities[0]", "got key, static"},
		{"authority all three", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    keyless: {identities: [{issuer: i, subject: s}]}\n    static: {action: pass}\n", "spec.authorities[0]", "got key, keyless, static"},
		{"static and timestamp", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: pass}\n    rfc3161timestamp: {trustRootRef: tr}\n", "spec.authorities[0]", "static cannot be combined with rfc3161timestamp"},
		{"key empty", "  images: [{glob: '**'}]\n  authorities:\n  - key: {hashAlgorithm: sha256}\n", "spec.authorities[0].key", "expected exactly one of data, kms, secretRef, got none"},
		{"key data and kms", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@, kms: 'gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k'}\n", "spec.authorities[0].key", "got data, kms"},
		{"key kms and secret", "  images: [{glob: '**'}]\n  authorities:\n  - key: {kms: 'hashivault://k', secretRef: {name: s}}\n", "spec.authorities[0].key", "got kms, secretRef"},
		{"key data not pem", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: 'not a key'}\n", "spec.authorities[0].key.data", "no PEM block found (want -----BEGIN PUBLIC KEY-----)"},
		{"key data with trailing text", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEYJUNK@}\n", "spec.authorities[0].key.data", "unparseable data after PEM block 1"},
		{"key data is a certificate", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @CERT@}\n", "spec.authorities[0].key.data", "PEM block 1: is a certificate, not a public key"},
		{"key data corrupt", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}\n", "spec.authorities[0].key.data", `PEM block 1: "PUBLIC KEY" does not parse`},
		{"key kms unknown scheme", "  images: [{glob: '**'}]\n  authorities:\n  - key: {kms: 'k8s://ns/secret'}\n", "spec.authorities[0].key.kms", "unsupported KMS reference"},
		{"key kms aws malformed", "  images: [{glob: '**'}]\n  authorities:\n  - key: {kms: 'awskms:///not-a-key'}\n", "spec.authorities[0].key.kms", "malformed AWS KMS reference"},
		{"key kms aws alias name", "  images: [{glob: '**'}]\n  authorities:\n  - key: {kms: 'awskms:///alias/mykey'}\n", "spec.authorities[0].key.kms", "must name a key ARN or an alias ARN"},
		{"key kms aws bad endpoint", "  images: [{glob: '**'}]\n  authorities:\n  - key: {kms: 'awskms://localhost/arn:aws:kms:us-east-2:111122223333:alias/x'}\n", "spec.authorities[0].key.kms", "malformed AWS KMS endpoint"},
		{"key unknown hash", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@, hashAlgorithm: md5}\n", "spec.authorities[0].key.hashAlgorithm", `unsupported hash algorithm "md5"`},
		{"key secret without name", "  images: [{glob: '**'}]\n  authorities:\n  - key: {secretRef: {namespace: x}}\n", "spec.authorities[0].key.secretRef.name", "secret name is required"},
		{"keyless url and ca-cert", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      url: https://fulcio.example\n      ca-cert: {data: @CERT@}\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless", "expected exactly one of url, ca-cert, got both"},
		{"keyless bad url", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      url: fulcio\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless.url", "absolute URL"},
		{"keyless ca-cert not pem", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      ca-cert: {data: 'junk'}\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless.ca-cert.data", "no PEM block found (want -----BEGIN CERTIFICATE-----)"},
		{"keyless ca-cert trailing text", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      ca-cert: {data: @CERTJUNK@}\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless.ca-cert.data", "unparseable data after PEM block 1"},
		{"keyless ca-cert bad key", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      ca-cert: {data: \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"}\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless.ca-cert.data", `PEM block 1: "PUBLIC KEY" does not parse`},
		{"keyless ca-cert empty", "  images: [{glob: '**'}]\n  authorities:\n  - keyless:\n      ca-cert: {}\n      identities: [{issuer: i, subject: s}]\n", "spec.authorities[0].keyless.ca-cert", "got none"},
		{"keyless no identities", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {url: 'https://fulcio.sigstore.dev'}\n", "spec.authorities[0].keyless.identities", "at least one identity is required"},
		{"identity no issuer", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{subject: s}]}\n", "spec.authorities[0].keyless.identities[0]", "one of issuer, issuerRegExp is required"},
		{"identity no subject", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{issuerRegExp: '.*'}]}\n", "spec.authorities[0].keyless.identities[0]", "one of subject, subjectRegExp is required"},
		{"identity issuer twice", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{issuer: i, issuerRegExp: 'i.*', subject: s}]}\n", "spec.authorities[0].keyless.identities[0]", "expected exactly one of issuer, issuerRegExp, got both"},
		{"identity subject twice", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{issuer: i, subject: s, subjectRegExp: 's.*'}]}\n", "spec.authorities[0].keyless.identities[0]", "expected exactly one of subject, subjectRegExp, got both"},
		{"identity bad issuer regexp", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{issuerRegExp: '(', subject: s}]}\n", "spec.authorities[0].keyless.identities[0].issuerRegExp", "invalid regular expression"},
		{"identity bad subject regexp", "  images: [{glob: '**'}]\n  authorities:\n  - keyless: {identities: [{issuer: i, subjectRegExp: 'a{2,1}'}]}\n", "spec.authorities[0].keyless.identities[0].subjectRegExp", "invalid regular expression"},
		{"static no action", "  images: [{glob: '**'}]\n  authorities:\n  - static: {message: m}\n", "spec.authorities[0].static.action", "action is required"},
		{"static bad action", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: allow}\n", "spec.authorities[0].static.action", `unsupported action "allow"`},
		{"static with attestations", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: pass}\n    attestations: [{name: a, predicateType: vuln}]\n", "spec.authorities[0].attestations", "static cannot be combined with attestations"},
		{"static with source", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: pass}\n    source: [{oci: ghcr.io/sigs}]\n", "spec.authorities[0].source", "static cannot be combined with source"},
		{"static with ctlog", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: fail}\n    ctlog: {url: 'https://rekor.sigstore.dev'}\n", "spec.authorities[0].ctlog", "static cannot be combined with ctlog"},
		{"ctlog bad url", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    ctlog: {url: 'rekor'}\n", "spec.authorities[0].ctlog.url", "absolute URL"},
		{"source bad oci", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    source: [{oci: 'gcr.io/test/*'}]\n", "spec.authorities[0].source[0].oci", "invalid OCI repository"},
		{"source secret without name", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    source: [{oci: ghcr.io/sigs, signaturePullSecrets: [{name: ok}, {}]}]\n", "spec.authorities[0].source[0].signaturePullSecrets[1].name", "secret name is required"},
		{"signature format", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    signatureFormat: dsse\n", "spec.authorities[0].signatureFormat", `unsupported signature format "dsse"`},
		{"attestation no name", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{predicateType: vuln}]\n", "spec.authorities[0].attestations[0].name", "attestation name is required"},
		{"attestation no predicate", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a}]\n", "spec.authorities[0].attestations[0].predicateType", "predicateType is required"},
		{"attestation bad predicate", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a, predicateType: sbom}]\n", "spec.authorities[0].attestations[0].predicateType", `unsupported predicate type "sbom"`},
		{"attestation policy type", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a, predicateType: vuln, policy: {type: opa, data: x}}]\n", "spec.authorities[0].attestations[0].policy.type", `unsupported policy type "opa"`},
		{"attestation policy no body", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a, predicateType: vuln, policy: {type: cue}}]\n", "spec.authorities[0].attestations[0].policy", "expected exactly one of data, configMapRef, remote, got none"},
		{"attestation policy fetchConfigFile", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a, predicateType: vuln, policy: {type: cue, data: x, fetchConfigFile: true}}]\n", "spec.authorities[0].attestations[0].policy.fetchConfigFile", "only allowed in spec.policy"},
		{"attestation policy includeSpec", "  images: [{glob: '**'}]\n  authorities:\n  - key: {data: @KEY@}\n    attestations: [{name: a, predicateType: vuln, policy: {type: rego, data: x, includeSpec: true}}]\n", "spec.authorities[0].attestations[0].policy.includeSpec", "only allowed in spec.policy"},
		{"spec policy type", "  images: [{glob: '**'}]\n" + staticPass + "  policy: {type: json, data: x}\n", "spec.policy.type", `unsupported policy type "json"`},
		{"spec policy two bodies", "  images: [{glob: '**'}]\n" + staticPass + "  policy: {type: cue, data: x, configMapRef: {name: c, key: k}}\n", "spec.policy", "got data, configMapRef"},
		{"spec policy configMap without key", "  images: [{glob: '**'}]\n" + staticPass + "  policy: {type: cue, configMapRef: {name: c}}\n", "spec.policy.configMapRef.key", "configMap key is required"},
		{"spec policy remote without url", "  images: [{glob: '**'}]\n" + staticPass + "  policy: {type: cue, remote: {sha256sum: abc}}\n", "spec.policy.remote.url", "url is required"},
		{"duplicate authority names", "  images: [{glob: '**'}]\n  authorities:\n  - {name: a, static: {action: pass}}\n  - {name: a, key: {data: @KEY@}}\n", "spec.authorities[1].name", `duplicate authority name "a"`},
		{"duplicate with default name", "  images: [{glob: '**'}]\n  authorities:\n  - static: {action: pass}\n  - {name: authority-0, key: {data: @KEY@}}\n", "spec.authorities[1].name", `duplicate authority name "authority-0"`},
		{"match unknown resource", "  images: [{glob: '**'}]\n" + staticPass + "  match: [{resource: services, version: v1}]\n", "spec.match[0].resource", `unsupported resource "services"`},
		{"match selector alone", "  images: [{glob: '**'}]\n" + staticPass + "  match: [{selector: {matchLabels: {a: b}}}]\n", "spec.match[0].selector", "needs a group, version or resource"},
		{"match selector invalid", "  images: [{glob: '**'}]\n" + staticPass + "  match: [{resource: pods, version: v1, selector: {matchExpressions: [{key: a, operator: Near}]}}]\n", "spec.match[0].selector", "invalid label selector"},
		{"unknown field", "  images: [{glob: '**'}]\n  authorities:\n  - keyles: {identities: [{issuer: i, subject: s}]}\n", "spec.authorities[0].keyles", "unknown field; did you mean keyless?"},
		{"unknown spec field", "  images: [{glob: '**'}]\n" + staticPass + "  enforce: true\n", "spec.enforce", "unknown field"},
		{"wrong type", "  images: ghcr.io/**\n" + staticPass, "spec.images", "want a list, got a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, errs := load(t, doc(c.spec), Options{})
			if len(ps) != 0 {
				t.Errorf("invalid policy was returned")
			}
			for _, e := range errs {
				if e.Field == c.field && strings.Contains(e.Msg, c.reason) {
					if e.File != "test.yaml" || e.Document != 1 || e.Policy != "p" {
						t.Errorf("error not located: %+v", e)
					}
					return
				}
			}
			t.Fatalf("want error at %s containing %q, got:\n%v", c.field, c.reason, policyerr.Errors(errs))
		})
	}
}

func TestLoadDocumentRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, field, reason string
	}{
		{"unknown api version", "apiVersion: policy.sigstore.dev/v1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec: {images: [{glob: '**'}]}\n", "apiVersion", "unsupported apiVersion"},
		{"no name", "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {}\nspec:\n  images: [{glob: '**'}]\n" + staticPass, "metadata.name", "name is required"},
		{"duplicate policy", doc("  images: [{glob: '**'}]\n"+staticPass) + "---\n" + doc("  images: [{glob: 'ghcr.io/**'}]\n"+staticPass), "metadata.name", "duplicate ClusterImagePolicy name, already defined in test.yaml:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, c.yaml, Options{})
			for _, e := range errs {
				if e.Field == c.field && strings.Contains(e.Msg, c.reason) {
					return
				}
			}
			t.Fatalf("want error at %s containing %q, got:\n%v", c.field, c.reason, policyerr.Errors(errs))
		})
	}
}

// Valid policies, modelled on the shapes shown in policy-controller's
// documentation.
func TestLoadValid(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"keyless github actions": `  images:
  - glob: "ghcr.io/example-org/**"
  authorities:
  - keyless:
      url: https://fulcio.sigstore.dev
      identities:
      - issuer: https://token.actions.githubusercontent.com
        subjectRegExp: "^https://github.com/example-org/.*/.github/workflows/release.yaml@refs/tags/v.*$"
    ctlog:
      url: https://rekor.sigstore.dev
`,
		"keyless default fulcio with trust root": `  images: [{glob: "registry.example.com/**"}]
  authorities:
  - name: private-fulcio
    keyless:
      trustRootRef: my-root
      insecureIgnoreSCT: true
      identities: [{issuerRegExp: ".*", subjectRegExp: ".*@example.com"}]
    ctlog: {trustRootRef: my-root}
    rfc3161timestamp: {trustRootRef: my-root}
    signatureFormat: bundle
`,
		"keyless ca-cert": `  images: [{glob: "**"}]
  authorities:
  - keyless:
      ca-cert: {data: @CERT@}
      identities: [{issuer: https://issuer.example, subject: builder@example.com}]
  - keyless:
      ca-cert: {secretRef: {name: ca, namespace: cosign-system}}
      identities: [{issuer: https://issuer.example, subject: builder@example.com}]
`,
		"inline key with sources": `  images: [{glob: "index.docker.io/example/*"}]
  authorities:
  - name: release-key
    key:
      data: @KEY@
      hashAlgorithm: sha512
    source:
    - oci: registry.example.com/signatures
      signaturePullSecrets: [{name: regcred}]
    - oci: localhost:5000
    ctlog: {}
`,
		"kms keys": `  images: [{glob: "**"}]
  authorities:
  - key: {kms: "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"}
  - key: {kms: "awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
  - key: {kms: "awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:alias/release"}
  - key: {kms: "azurekms://vault.vault.azure.net/key"}
  - key: {kms: "hashivault://transit-key"}
  - key: {secretRef: {name: cosign-pub}}
`,
		"static pass and fail": `  images: [{glob: "registry.k8s.io/**"}, {glob: "*"}]
  authorities:
  - static: {action: pass}
`,
		"static fail with message, warn mode": `  images: [{glob: "docker.io/untrusted/**"}]
  mode: warn
  authorities:
  - static: {action: fail, message: "images from untrusted are not allowed"}
`,
		"attestations with policies": `  images: [{glob: "ghcr.io/example-org/**"}]
  authorities:
  - name: keyless-att
    keyless:
      identities: [{issuer: https://accounts.google.com, subject: builder@example.com}]
    attestations:
    - name: must-have-vuln
      predicateType: vuln
      policy:
        type: cue
        data: |
          predicateType: "cosign.sigstore.dev/attestation/vuln/v1"
    - name: custom-url-predicate
      predicateType: https://slsa.dev/provenance/v1
      policy:
        type: rego
        configMapRef: {name: policies, namespace: cosign-system, key: slsa.rego}
    - name: no-policy
      predicateType: spdxjson
`,
		"cip level policy": `  images: [{glob: "**"}]
  authorities:
  - name: keyless
    keyless:
      identities: [{issuer: i, subject: s}]
  policy:
    type: cue
    fetchConfigFile: true
    includeSpec: true
    includeObjectMeta: true
    includeTypeMeta: true
    data: |
      authorityMatches: keyless: signatures: [{subject: "s"}]
`,
		"remote policy": `  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
  policy:
    type: rego
    remote: {url: "https://policies.example/cip.rego", sha256sum: "abcd"}
`,
		"match resources": `  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
  match:
  - version: v1
    resource: pods
    selector: {matchLabels: {verify: "true"}}
  - group: apps
    version: v1
    resource: deployments
  - group: batch
    version: v1
    resource: cronjobs
    selector:
      matchExpressions: [{key: team, operator: In, values: [a, b]}]
`,
		"exported with status": `  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
status:
  conditions: [{type: Ready, status: "True"}]
`,
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			ps, errs := load(t, doc(spec), Options{})
			if len(errs) > 0 {
				t.Fatalf("unexpected errors:\n%v", policyerr.Errors(errs))
			}
			if len(ps) != 1 || ps[0].Name() != "p" {
				t.Fatalf("got %d policies", len(ps))
			}
		})
	}
}

func TestLoadDefaultsAndAuthorities(t *testing.T) {
	t.Parallel()
	yaml := doc(`  images: [{glob: "ghcr.io/org/**"}]
  authorities:
  - keyless:
      identities:
      - issuer: https://token.actions.githubusercontent.com
        subjectRegExp: "^https://github.com/org/"
  - name: release
    key: {data: @KEY@, hashAlgorithm: SHA512}
  - static: {action: fail}
`) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n"
	ps, errs := load(t, yaml, Options{})
	if len(errs) > 0 {
		t.Fatalf("unexpected errors:\n%v", policyerr.Errors(errs))
	}
	if len(ps) != 1 {
		t.Fatalf("got %d policies, want 1 (ConfigMap ignored)", len(ps))
	}
	p := ps[0]
	if p.Mode() != sigv1.ModeEnforce || p.Object.Spec.Mode != sigv1.ModeEnforce {
		t.Errorf("mode = %q, want enforce", p.Mode())
	}
	as := p.Authorities()
	if len(as) != 3 {
		t.Fatalf("got %d authorities", len(as))
	}
	if as[0].Name != "authority-0" || as[1].Name != "release" || as[2].Name != "authority-2" {
		t.Errorf("names = %q, %q, %q", as[0].Name, as[1].Name, as[2].Name)
	}
	if as[0].Spec.Keyless.URL != DefaultFulcioURL {
		t.Errorf("keyless url = %q, want default", as[0].Spec.Keyless.URL)
	}
	id := as[0].Identities[0]
	if !id.Matches("https://token.actions.githubusercontent.com", "https://github.com/org/repo/.github/workflows/x.yaml@refs/heads/main") {
		t.Errorf("identity should match")
	}
	if id.Matches("https://token.actions.githubusercontent.com", "https://github.com/other/repo") || id.Matches("https://evil.example", "https://github.com/org/x") {
		t.Errorf("identity should not match")
	}
	if len(as[1].Keys) != 1 || as[1].Keys[0].Public == nil || as[1].Hash != crypto.SHA512 {
		t.Errorf("key not parsed: %v %v", as[1].Keys, as[1].Hash)
	}
	if as[2].Spec.Static == nil || as[2].Spec.Static.Action != "fail" {
		t.Errorf("static lost")
	}
	if !p.Matches("ghcr.io/org/app:v1") || p.Matches("ghcr.io/other/app") || p.Matches("nginx") {
		t.Errorf("Matches wrong")
	}
}

func TestLoadAllowEmptyAuthorities(t *testing.T) {
	t.Parallel()
	y := doc("  images: [{glob: '**'}]\n")
	if _, errs := load(t, y, Options{}); len(errs) == 0 {
		t.Fatal("want an error by default")
	}
	ps, errs := load(t, y, Options{AllowEmptyAuthorities: true})
	if len(errs) > 0 || len(ps) != 1 {
		t.Fatalf("got %d policies, errors %v", len(ps), policyerr.Errors(errs))
	}
}

func TestLoadKeepsValidPolicies(t *testing.T) {
	t.Parallel()
	y := doc("  images: [{glob: '**'}]\n"+staticPass) + "---\n" +
		strings.Replace(doc("  images: [{glob: '?'}]\n"+staticPass), "name: p", "name: q", 1)
	ps, errs := load(t, y, Options{})
	if len(ps) != 1 || ps[0].Name() != "p" {
		t.Fatalf("valid policy not kept: %d", len(ps))
	}
	if len(errs) != 1 || errs[0].Policy != "q" || errs[0].Document != 2 {
		t.Fatalf("errors = %v", policyerr.Errors(errs))
	}
	if got := errs[0].Error(); !strings.Contains(got, `test.yaml (document 2): policy "q": spec.images[0].glob: `) {
		t.Errorf("error text = %q", got)
	}
}

// TestKeyDataSeveralKeys: like policy-controller, key.data may hold several
// PEM keys, and every one of them is kept for verification.
func TestKeyDataSeveralKeys(t *testing.T) {
	other, _ := makeKeyAndCert()
	yaml := doc("  images: [{glob: '**'}]\n  authorities:\n  - key: {data: " + strconv.Quote(testKeyPEM+"\n"+other) + "}\n")
	ps, errs := load(t, yaml, Options{})
	if len(errs) > 0 || len(ps) != 1 {
		t.Fatalf("%d policies, errors:\n%v", len(ps), policyerr.Errors(errs))
	}
	ks := ps[0].Authorities()[0].Keys
	if len(ks) != 2 || string(ks[0].PEM) != testKeyPEM || string(ks[1].PEM) != other {
		t.Fatalf("keys: %d", len(ks))
	}
}
