package imagepolicy

import (
	"reflect"
	"strings"
	"testing"

	sigv1 "github.com/portcullis/portcullis/api/sigstore/v1beta1"
)

// v1alpha1Doc is a v1alpha1 policy with every field v1alpha1 has.
const v1alpha1Doc = `apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {name: alpha}
spec:
  mode: warn
  images: [{glob: "ghcr.io/org/**"}]
  match:
  - {group: apps, version: v1, resource: deployments, selector: {matchLabels: {verify: "true"}}}
  policy:
    type: cue
    data: 'authorityMatches: {}'
    fetchConfigFile: true
  authorities:
  - name: signed
    key: {data: @KEY@, hashAlgorithm: sha384}
    source: [{oci: registry.example.com/sigs, signaturePullSecrets: [{name: pull}]}]
    ctlog: {url: "https://rekor.example.com"}
    attestations:
    - name: prov
      predicateType: slsaprovenance
      policy: {type: cue, data: 'predicateType: "https://slsa.dev/provenance/v0.2"'}
  - name: fulcio
    keyless:
      ca-cert: {secretRef: {name: ca, namespace: cosign-system}}
      trustRootRef: root
      identities: [{issuer: "https://issuer.example", subjectRegExp: ".*@example.com"}]
    ctlog: {trustRootRef: root}
    rfc3161timestamp: {trustRootRef: tsa}
  - static: {action: pass}
`

func alphaDoc(from, to string) string {
	return strings.Replace(strings.ReplaceAll(v1alpha1Doc, "@KEY@", `"`+strings.ReplaceAll(testKeyPEM, "\n", `\n`)+`"`), from, to, 1)
}

func TestLoadV1alpha1ConvertsLikePolicyController(t *testing.T) {
	t.Parallel()
	ps, errs := load(t, alphaDoc("", ""), Options{})
	if len(errs) > 0 || len(ps) != 1 {
		t.Fatalf("errors %v, %d policies", errs, len(ps))
	}
	p := ps[0]
	if p.Object.APIVersion != sigv1.APIVersion || p.Name() != "alpha" || p.Mode() != "warn" || !p.Matches("ghcr.io/org/app:1") {
		t.Fatalf("policy = %+v", p.Object)
	}
	if !p.MatchesResource("apps", "v1", "deployments", map[string]string{"verify": "true"}) || p.MatchesResource("apps", "v1", "deployments", nil) {
		t.Error("match selector not converted")
	}
	a := p.Authorities()
	if len(a) != 3 || a[0].Name != "signed" || len(a[0].Keys) != 1 || a[0].Spec.Key.HashAlgorithm != "sha384" ||
		a[0].Spec.CTLog == nil || a[0].Spec.CTLog.URL != "https://rekor.example.com" ||
		!reflect.DeepEqual(a[0].Spec.Sources, []sigv1.Source{{OCI: "registry.example.com/sigs", SignaturePullSecrets: []sigv1.LocalObjectReference{{Name: "pull"}}}}) ||
		len(a[0].Spec.Attestations) != 1 || a[0].Spec.Attestations[0].Policy.Type != "cue" {
		t.Errorf("key authority = %+v", a[0].Spec)
	}
	k := a[1].Spec.Keyless
	if k == nil || k.TrustRootRef != "root" || k.CACert == nil || k.CACert.SecretRef.Name != "ca" || k.URL != "" ||
		len(a[1].Identities) != 1 || !a[1].Identities[0].Matches("https://issuer.example", "me@example.com") {
		t.Errorf("keyless authority = %+v", a[1].Spec)
	}
	// policy-controller drops a ctlog without url; the timestamp root stays.
	if a[1].Spec.CTLog != nil || a[1].Spec.RFC3161Timestamp == nil || a[1].Spec.RFC3161Timestamp.TrustRootRef != "tsa" {
		t.Errorf("keyless ctlog/timestamp = %+v / %+v", a[1].Spec.CTLog, a[1].Spec.RFC3161Timestamp)
	}
	if a[2].Name != "authority-2" || a[2].Spec.Static.Action != "pass" {
		t.Errorf("static authority = %+v", a[2].Spec)
	}
	if pol := p.Object.Spec.Policy; pol == nil || pol.FetchConfigFile == nil || !*pol.FetchConfigFile {
		t.Errorf("spec.policy = %+v", pol)
	}
}

func TestLoadV1alpha1Refusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, from, to, field, reason string
	}{
		// Fields v1beta1 added are not part of v1alpha1.
		{"v1beta1 static message", "{action: pass}", "{action: pass, message: hi}", "spec.authorities[2].static.message", "unknown field"},
		{"v1beta1 signatureFormat", "  - name: fulcio\n", "  - name: fulcio\n    signatureFormat: bundle\n", "spec.authorities[1].signatureFormat", "unknown field"},
		{"v1beta1 remote", "    fetchConfigFile: true\n", "    fetchConfigFile: true\n    remote: {url: 'https://x'}\n", "spec.policy.remote", "unknown field"},
		// The rules policy-controller applies to both versions.
		{"authority with none", "  - static: {action: pass}\n", "  - name: none\n    source: [{oci: registry.example.com/sigs}]\n", "spec.authorities[2]", "expected exactly one of key, keyless, static, got none"},
		{"timestamp only", "  - static: {action: pass}\n", "  - rfc3161timestamp: {trustRootRef: tsa}\n", "spec.authorities[2]", "expected exactly one of key, keyless, static, got none"},
		{"key and static", "  - static: {action: pass}\n", "  - static: {action: pass}\n    key: {kms: 'hashivault://k'}\n", "spec.authorities[2]", "got key, static"},
		{"bad static action", "{action: pass}", "{action: allow}", "spec.authorities[2].static.action", `unsupported action "allow"`},
		{"bad predicate type", "predicateType: slsaprovenance", "predicateType: ''", "spec.authorities[0].attestations[0].predicateType", ""},
		{"policy url and data", "    fetchConfigFile: true\n", "    fetchConfigFile: true\n    url: 'https://example.com/p.cue'\n", "spec.policy", "expected exactly one of data, configMapRef, url, got data, url"},
		{"policy bad url", "    data: 'authorityMatches: {}'\n", "    url: 'not a url'\n", "spec.policy.url", ""},
		{"no images", `  images: [{glob: "ghcr.io/org/**"}]`, "  images: []", "spec.images", "at least one image glob is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := alphaDoc(c.from, c.to)
			if d == alphaDoc("", "") {
				t.Fatal("replacement did not apply")
			}
			_, errs := load(t, d, Options{})
			for _, e := range errs {
				if e.Field == c.field && strings.Contains(e.Msg, c.reason) {
					return
				}
			}
			t.Fatalf("want an error at %s containing %q, got %v", c.field, c.reason, errs)
		})
	}
}
