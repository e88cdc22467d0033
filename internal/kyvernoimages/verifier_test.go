package kyvernoimages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/imageverify"
	"github.com/portcullis/portcullis/internal/keyref"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

// keysPolicy is an Enforce ClusterPolicy verifying the images matching
// pattern with
// the attestor set given as YAML (indented for "      - ").
func keysPolicy(pattern, extra, attestors string) string {
	return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-images
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify-signature
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - imageReferences: ["%s"]
%s      attestors:
%s`, pattern, extra, attestors)
}

func keyEntry(k registrytest.Key) string {
	return "          - keys:\n              publicKeys: |-\n" + indent(k.PublicPEM, 16) + "\n"
}

func TestVerifySignatures(t *testing.T) {
	reg := registrytest.Start(t)
	signer, other := registrytest.NewKey(t), registrytest.NewKey(t)
	signed := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", signed, signer, nil)
	unsigned := reg.PushRandom(t, "app/unsigned", "v1")
	both := reg.PushRandom(t, "app/both", "v1")
	digests := map[string]string{reg.Ref("app/signed", "v1"): signed.String(),
		reg.Ref("app/unsigned", "v1"): unsigned.String(), reg.Ref("app/both", "v1"): both.String()}
	reg.Sign(t, "app/both", both, signer, nil)
	reg.Sign(t, "app/both", both, other, nil)
	third := registrytest.NewKey(t)
	// A PKCS#1 "RSA PUBLIC KEY", as cosign (and so Kyverno) accepts.
	rsaKey := registrytest.NewRSAKey(t)
	byRSA := reg.PushRandom(t, "app/rsa", "v1")
	reg.Sign(t, "app/rsa", byRSA, rsaKey, nil)
	digests[reg.Ref("app/rsa", "v1")] = byRSA.String()

	set := func(count string, keys ...registrytest.Key) string {
		s := "      - " + count + "entries:\n"
		for _, k := range keys {
			s += keyEntry(k)
		}
		return s
	}
	tests := []struct {
		name       string
		attestors  string
		extra      string
		image      string
		wantStatus engine.Status
		wantMsg    string
		wantPatch  bool
	}{
		{name: "signed image passes and is pinned to its digest", attestors: set("", signer), image: reg.Ref("app/signed", "v1"),
			wantStatus: engine.StatusPass, wantMsg: "verified image signatures for " + reg.Ref("app/signed", "v1"), wantPatch: true},
		{name: "signed image by digest passes without a patch", attestors: set("", signer), image: reg.Ref("app/signed", signed.String()),
			wantStatus: engine.StatusPass, wantMsg: "verified image signatures for " + reg.Ref("app/signed", signed.String())},
		{name: "unsigned image fails", attestors: set("", signer), image: reg.Ref("app/unsigned", "v1"),
			wantStatus: engine.StatusFail, wantMsg: "failed to verify image " + reg.Ref("app/unsigned", "v1") + ": .attestors[0].entries[0].keys: no signatures found"},
		{name: "wrong key fails", attestors: set("", other), image: reg.Ref("app/signed", "v1"),
			wantStatus: engine.StatusFail, wantMsg: "failed to verify image " + reg.Ref("app/signed", "v1") + ": .attestors[0].entries[0].keys: no matching signatures"},
		{name: "count 1 of 2 with one good key passes", attestors: set("count: 1\n        ", other, signer), image: reg.Ref("app/signed", "v1"),
			wantStatus: engine.StatusPass, wantPatch: true},
		{name: "all of 2 with one bad key fails", attestors: set("", signer, other), image: reg.Ref("app/signed", "v1"),
			wantStatus: engine.StatusFail, wantMsg: ".attestors[0].entries[1].keys: no matching signatures"},
		{name: "count 2 of 2 with both signatures passes", attestors: set("count: 2\n        ", signer, other), image: reg.Ref("app/both", "v1"),
			wantStatus: engine.StatusPass, wantPatch: true},
		{name: "count 2 of 3 with one bad key passes", attestors: set("count: 2\n        ", third, signer, other), image: reg.Ref("app/both", "v1"),
			wantStatus: engine.StatusPass, wantPatch: true},
		{name: "several PEM keys in one entry are several entries", image: reg.Ref("app/signed", "v1"),
			attestors: "      - count: 1\n        entries:\n          - keys:\n              publicKeys: |-\n" +
				indent(other.PublicPEM, 16) + "\n" + indent(signer.PublicPEM, 16) + "\n",
			wantStatus: engine.StatusPass, wantPatch: true},
		{name: "several PEM keys default to all of them", image: reg.Ref("app/signed", "v1"),
			attestors: "      - entries:\n          - keys:\n              publicKeys: |-\n" +
				indent(signer.PublicPEM, 16) + "\n" + indent(other.PublicPEM, 16) + "\n",
			wantStatus: engine.StatusFail, wantMsg: ".attestors[0].entries[1].keys: no matching signatures"},
		{name: "PKCS#1 RSA public key", attestors: set("", rsaKey), image: reg.Ref("app/rsa", "v1"),
			wantStatus: engine.StatusPass, wantMsg: "verified image signatures for " + reg.Ref("app/rsa", "v1"), wantPatch: true},
		{name: "nested attestor set", image: reg.Ref("app/signed", "v1"),
			attestors: "      - entries:\n          - attestor:\n              count: 1\n              entries:\n" +
				"              - keys:\n                  publicKeys: |-\n" + indent(other.PublicPEM, 20) + "\n" +
				"              - keys:\n                  publicKeys: |-\n" + indent(signer.PublicPEM, 20) + "\n",
			wantStatus: engine.StatusPass, wantPatch: true},
		{name: "skipImageReferences skips verification", attestors: set("", signer), image: reg.Ref("app/unsigned", "v1"),
			extra:      "      skipImageReferences: [\"" + reg.Host + "/app/unsigned*\"]\n",
			wantStatus: engine.StatusSkip, wantMsg: "skipping image reference image " + reg.Ref("app/unsigned", "v1"), wantPatch: true},
		{name: "verifyDigest fails a tag when mutateDigest is false", attestors: set("", signer), image: reg.Ref("app/signed", "v1"),
			extra:      "      mutateDigest: false\n",
			wantStatus: engine.StatusFail, wantMsg: "missing digest for " + reg.Ref("app/signed", "v1")},
		{name: "no digest needed with verifyDigest false", attestors: set("", signer), image: reg.Ref("app/signed", "v1"),
			extra:      "      mutateDigest: false\n      verifyDigest: false\n",
			wantStatus: engine.StatusPass},
		{name: "sha512 signature algorithm does not verify a sha256 signature", image: reg.Ref("app/signed", "v1"),
			attestors:  "      - entries:\n          - signatureAlgorithm: sha512\n            keys:\n              publicKeys: |-\n" + indent(signer.PublicPEM, 16) + "\n",
			wantStatus: engine.StatusFail, wantMsg: "no matching signatures"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := loadPolicy(t, keysPolicy(reg.Host+"/*", tc.extra, tc.attestors))
			r := one(t, evaluate(t, set, pod(tc.image), Options{}))
			if r.Status != tc.wantStatus || !strings.Contains(r.Message, tc.wantMsg) {
				t.Fatalf("status %s %q, want %s containing %q", r.Status, r.Message, tc.wantStatus, tc.wantMsg)
			}
			if !r.Enforce {
				t.Errorf("Enforce = false for an Enforce policy")
			}
			if r.Path != "/spec/containers/0/image" {
				t.Errorf("Path = %q", r.Path)
			}
			patches, err := r.Patches()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.wantPatch {
				if len(patches) != 0 {
					t.Fatalf("unexpected patches %+v", patches)
				}
				return
			}
			digest := digests[tc.image]
			want := engine.Patch{Op: "replace", Path: "/spec/containers/0/image", Value: tc.image + "@" + digest}
			if len(patches) != 1 || patches[0] != want {
				t.Fatalf("patches %+v, want [%+v]", patches, want)
			}
		})
	}
}

func TestImageSelection(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	set := loadPolicy(t, keysPolicy(reg.Host+"/app/signed*", "", "      - entries:\n"+keyEntry(signer)))

	// Only the images matching imageReferences are verified; init
	// containers come first, each result names its image field.
	p := pod(reg.Ref("app/signed", "v1"), "docker.io/nginx:1.25")
	spec := p["spec"].(map[string]any)
	spec["initContainers"] = []any{map[string]any{"name": "init", "image": reg.Ref("app/signed", d.String())}}
	res := evaluate(t, set, p, Options{})
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2: %+v", len(res), res)
	}
	if res[0].Path != "/spec/initContainers/0/image" || res[0].Status != engine.StatusPass || res[0].JSONPatch != "" {
		t.Errorf("init container: %+v", res[0])
	}
	if res[1].Path != "/spec/containers/0/image" || res[1].Status != engine.StatusPass || res[1].JSONPatch == "" {
		t.Errorf("container: %+v", res[1])
	}

	// A Pod without a matching image yields no result.
	if res := evaluate(t, set, pod("docker.io/nginx:1.25"), Options{}); len(res) != 0 {
		t.Errorf("unmatched images gave %+v", res)
	}
}

func TestAttestations(t *testing.T) {
	reg := registrytest.Start(t)
	signer, other := registrytest.NewKey(t), registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/built", "v1")
	attest(t, reg, "app/built", d, signer, "https://slsa.dev/provenance/v0.2",
		map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner"}, "buildType": "ci"})
	reg.PushRandom(t, "app/bare", "v1")

	policyWith := func(typ, conditions string, key registrytest.Key) string {
		return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-provenance
spec:
  rules:
  - name: provenance
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - imageReferences: ["%s/*"]
      failureAction: Enforce
      attestations:
      - type: %s
        attestors:
        - entries:
%s%s`, reg.Host, typ, keyEntry(key), conditions)
	}
	cond := func(key, op, value string) string {
		return "        conditions:\n        - all:\n          - key: \"" + key + "\"\n            operator: " + op + "\n            value: \"" + value + "\"\n"
	}
	const slsa = "https://slsa.dev/provenance/v0.2"
	tests := []struct {
		name       string
		doc        string
		image      string
		wantStatus engine.Status
		wantMsg    string
	}{
		{name: "condition on the predicate holds", doc: policyWith(slsa, cond("{{ builder.id }}", "Equals", "https://github.com/actions/runner"), signer),
			image: reg.Ref("app/built", "v1"), wantStatus: engine.StatusPass, wantMsg: "verified image attestations for " + reg.Ref("app/built", "v1")},
		{name: "no conditions: the type is enough", doc: policyWith(slsa, "", signer),
			image: reg.Ref("app/built", "v1"), wantStatus: engine.StatusPass},
		{name: "condition on the predicate fails", doc: policyWith(slsa, cond("{{ buildType }}", "Equals", "local"), signer),
			image: reg.Ref("app/built", "v1"), wantStatus: engine.StatusFail,
			wantMsg: "image attestations verification failed, verifiedCount: 0, requiredCount: 1, error: .attestations[0].attestors[0].entries[0].keys: attestation checks failed for " + reg.Ref("app/built", "v1") + " and predicate " + slsa},
		{name: "no attestation of the type", doc: policyWith("https://spdx.dev/Document", "", signer),
			image: reg.Ref("app/built", "v1"), wantStatus: engine.StatusFail, wantMsg: "attestions not found for predicate type https://spdx.dev/Document"},
		{name: "attestation signed by another key", doc: policyWith(slsa, "", other),
			image: reg.Ref("app/built", "v1"), wantStatus: engine.StatusFail, wantMsg: ".keys: no matching attestations"},
		{name: "image without attestations", doc: policyWith(slsa, "", signer),
			image: reg.Ref("app/bare", "v1"), wantStatus: engine.StatusFail, wantMsg: "verifiedCount: 0, requiredCount: 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := one(t, evaluate(t, loadPolicy(t, tc.doc), pod(tc.image), Options{}))
			if r.Status != tc.wantStatus || !strings.Contains(r.Message, tc.wantMsg) {
				t.Fatalf("status %s %q, want %s containing %q", r.Status, r.Message, tc.wantStatus, tc.wantMsg)
			}
			if !r.Enforce {
				t.Errorf("entry failureAction Enforce not applied")
			}
			if tc.wantStatus == engine.StatusPass && !strings.Contains(r.JSONPatch, d.String()) {
				t.Errorf("patch %q does not pin the digest", r.JSONPatch)
			}
		})
	}
}

func TestRegistryDown(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	set := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n"+keyEntry(signer)))
	reg.SetFault(func(*http.Request) (int, time.Duration) { return http.StatusServiceUnavailable, 0 })
	r := one(t, evaluate(t, set, pod(reg.Ref("app/signed", "v1")), Options{}))
	if r.Status != engine.StatusError || !strings.Contains(r.Message, "failed to verify image "+reg.Ref("app/signed", "v1")+": .attestors[0].entries[0].keys:") ||
		!strings.Contains(r.Message, "registry error") {
		t.Fatalf("status %s %q, want error naming the registry failure", r.Status, r.Message)
	}

	// Nothing answers at all.
	down := registrytest.FreeAddr(t)
	set = loadPolicy(t, keysPolicy(down+"/*", "", "      - entries:\n"+keyEntry(signer)))
	r = one(t, evaluate(t, set, pod(down+"/app/x:v1"), Options{}))
	if r.Status != engine.StatusError {
		t.Fatalf("unreachable registry: status %s %q, want error", r.Status, r.Message)
	}
}

func TestAuditDoesNotEnforce(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	reg.PushRandom(t, "app/unsigned", "v1")
	doc := keysPolicy(reg.Host+"/*", "      failureAction: Audit\n      mutateDigest: false\n", "      - entries:\n"+keyEntry(signer))
	r := one(t, evaluate(t, loadPolicy(t, doc), pod(reg.Ref("app/unsigned", "v1")), Options{}))
	if r.Status != engine.StatusFail || r.Enforce {
		t.Fatalf("status %s enforce %v, want a fail that does not enforce", r.Status, r.Enforce)
	}
}

// fakeKeys serves keys by reference, as internal/keyref would.
type fakeKeys map[string][][]byte

func (f fakeKeys) PublicKeys(_ context.Context, ref string) ([][]byte, error) {
	k, ok := f[ref]
	if !ok {
		return nil, errors.New("secret not found")
	}
	return k, nil
}

func TestKeyLoaderAndCertificates(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	secretSet := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keys:\n              secret: {name: cosign, namespace: security}\n"))
	kmsSet := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keys:\n              kms: awskms:///alias/cosign\n"))
	keylessSet := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keyless:\n              issuer: https://token.actions.githubusercontent.com\n              subject: https://github.com/org/*\n              rekor: {url: https://rekor.sigstore.dev}\n"))
	image := reg.Ref("app/signed", "v1")

	keys := fakeKeys{"k8s://security/cosign": {signer.PublicPEM}, "awskms:///alias/cosign": {registrytest.NewKey(t).PublicPEM, signer.PublicPEM}}
	for name, s := range map[string]*policy.Set{"secret": secretSet, "kms": kmsSet} {
		t.Run(name, func(t *testing.T) {
			if r := one(t, evaluate(t, s, pod(image), Options{Keys: keys})); r.Status != engine.StatusPass {
				t.Fatalf("with loader: %s %q", r.Status, r.Message)
			}
			r := one(t, evaluate(t, s, pod(image), Options{}))
			if r.Status != engine.StatusError || !strings.Contains(r.Message, "no key loader is configured") {
				t.Fatalf("without loader: %s %q", r.Status, r.Message)
			}
		})
	}
	t.Run("secret missing", func(t *testing.T) {
		r := one(t, evaluate(t, secretSet, pod(image), Options{Keys: fakeKeys{}}))
		if r.Status != engine.StatusError || !strings.Contains(r.Message, "load key k8s://security/cosign: secret not found") {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
	})
	t.Run("keyless without a trust factory", func(t *testing.T) {
		r := one(t, evaluate(t, keylessSet, pod(image), Options{}))
		if r.Status != engine.StatusError || !strings.Contains(r.Message, ".keyless: certificate verification is not configured") {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
	})
	t.Run("keyless factory receives the attestor", func(t *testing.T) {
		var got *kyvernov1.Attestor
		factory := func(_ context.Context, a *kyvernov1.Attestor) (imageverify.CertificateTrust, error) {
			got = a
			return nil, errors.New("no roots")
		}
		r := one(t, evaluate(t, keylessSet, pod(image), Options{Certificates: factory}))
		if r.Status != engine.StatusError || !strings.Contains(r.Message, "certificate trust: no roots") {
			t.Fatalf("%s %q", r.Status, r.Message)
		}
		if got == nil || got.Keyless == nil || got.Keyless.Issuer != "https://token.actions.githubusercontent.com" {
			t.Fatalf("factory got %+v", got)
		}
	})
}

func TestAutogenDeployment(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	reg.PushRandom(t, "app/unsigned", "v1")
	set := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n"+keyEntry(signer)))

	deployment := func(image string) map[string]any {
		return map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "default"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "web", "image": image}}}}},
		}
	}
	r := one(t, evaluate(t, set, deployment(reg.Ref("app/signed", "v1")), Options{}))
	if r.Rule != "autogen-verify-signature" || !r.Autogen || r.Status != engine.StatusPass {
		t.Fatalf("got %+v", r)
	}
	patches, err := r.Patches()
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Patch{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: reg.Ref("app/signed", "v1") + "@" + d.String()}
	if len(patches) != 1 || patches[0] != want {
		t.Fatalf("patches %+v, want %+v", patches, want)
	}
	r = one(t, evaluate(t, set, deployment(reg.Ref("app/unsigned", "v1")), Options{}))
	if r.Status != engine.StatusFail || !strings.Contains(r.Message, "no signatures found") {
		t.Fatalf("unsigned deployment: %s %q", r.Status, r.Message)
	}
}

func TestVariablesInAttestors(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	// The key comes from a context variable, substituted before verifying.
	doc := strings.Replace(keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keys:\n              publicKeys: \"{{ signingkey }}\"\n"),
		"    match:", "    context:\n    - name: signingkey\n      variable:\n        value: |-\n"+indent(signer.PublicPEM, 10)+"\n    match:", 1)
	r := one(t, evaluate(t, loadPolicy(t, doc), pod(reg.Ref("app/signed", "v1")), Options{}))
	if r.Status != engine.StatusPass {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
}

func TestSecretKeys(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	set := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keys:\n              secret: {name: cosign, namespace: security}\n"))
	secrets := keyref.SecretReaderFunc(func(_ context.Context, ns, name string) (*corev1.Secret, error) {
		if ns != "security" || name != "cosign" {
			return nil, fmt.Errorf("secret %s/%s not found", ns, name)
		}
		return &corev1.Secret{Data: map[string][]byte{"cosign.pub": signer.PublicPEM}}, nil
	})
	r := one(t, evaluate(t, set, pod(reg.Ref("app/signed", "v1")), Options{Keys: SecretKeys(secrets)}))
	if r.Status != engine.StatusPass {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
	other := loadPolicy(t, keysPolicy(reg.Host+"/*", "", "      - entries:\n          - keys:\n              secret: {name: missing, namespace: security}\n"))
	r = one(t, evaluate(t, other, pod(reg.Ref("app/signed", "v1")), Options{Keys: SecretKeys(secrets)}))
	if r.Status != engine.StatusError || !strings.Contains(r.Message, "security/missing not found") {
		t.Fatalf("missing secret: %s %q", r.Status, r.Message)
	}
}

// TestVerifyDigestAtAdmission: in the validating webhook (RequireDigests),
// a signed tag that the mutating phase did not pin fails under
// verifyDigest (what is verified must be what runs), the pinned image
// passes, verifyDigest: false keeps admitting the tag, and evaluation
// outside admission still verifies and pins the tag.
func TestVerifyDigestAtAdmission(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	tag := reg.Ref("app/signed", "v1")
	attestors := "      - entries:\n" + keyEntry(signer)
	admit := func(set *policy.Set, image string) engine.Result {
		t.Helper()
		eng := engine.New(engine.WithImageVerifier(New(imageverify.New(imageverify.Options{}), Options{})))
		res, err := eng.Evaluate(withTimeout(t, 20*time.Second), set, engine.Input{Resource: pod(image), RequireDigests: true})
		if err != nil {
			t.Fatal(err)
		}
		return one(t, res)
	}
	set := loadPolicy(t, keysPolicy(reg.Host+"/*", "", attestors))
	if r := admit(set, tag); r.Status != engine.StatusFail || !strings.HasPrefix(r.Message, "missing digest for "+tag) || r.JSONPatch != "" {
		t.Fatalf("unpinned tag at admission: %s %q (patch %q), want fail: missing digest", r.Status, r.Message, r.JSONPatch)
	}
	if r := admit(set, tag+"@"+d.String()); r.Status != engine.StatusPass {
		t.Fatalf("pinned image at admission: %s %q, want pass", r.Status, r.Message)
	}
	if r := admit(loadPolicy(t, keysPolicy(reg.Host+"/*", "      verifyDigest: false\n", attestors)), tag); r.Status != engine.StatusPass {
		t.Fatalf("verifyDigest false: %s %q, want pass", r.Status, r.Message)
	}
	if r := one(t, evaluate(t, set, pod(tag), Options{})); r.Status != engine.StatusPass || r.JSONPatch == "" {
		t.Fatalf("outside admission: %s %q, want pass with the pin", r.Status, r.Message)
	}
}

// TestInvalidReferenceDenied: under an Enforce verifyImages rule with
// imageReferences ["*"], an image reference that does not parse is a
// failure naming the reference and why, so it is denied even under
// failurePolicy Ignore (as an evaluation error it was admitted there).
func TestInvalidReferenceDenied(t *testing.T) {
	t.Parallel()
	key := registrytest.NewKey(t)
	doc := strings.Replace(keysPolicy("*", "", "      - entries:\n"+keyEntry(key)), "validationFailureAction: Enforce",
		"validationFailureAction: Enforce\n  failurePolicy: Ignore", 1)
	set := loadPolicy(t, doc)
	for _, tc := range []struct{ ref, why string }{
		{"ghcr.io/Org/App:1.2", "repository name must be lowercase"},
		{"ghcr.io/org/app@sha256:abc", `invalid digest "sha256:abc"`},
	} {
		res := evaluate(t, set, pod(tc.ref), Options{})
		d := engine.Decide(set, res)
		if d.Allowed || !strings.Contains(d.Message, tc.ref) || !strings.Contains(d.Message, tc.why) {
			t.Errorf("%q: decision %+v, want denied naming the reference and %q", tc.ref, d, tc.why)
		}
	}
}

// TestKeyScope: at admission a namespaced Policy's key Secret reference,
// resolved from variables, must stay in the policy's namespace (an error
// result, the Secret never read), and SecretKeys never reads files.
func TestKeyScope(t *testing.T) {
	reg := registrytest.Start(t)
	signer := registrytest.NewKey(t)
	d := reg.PushRandom(t, "app/signed", "v1")
	reg.Sign(t, "app/signed", d, signer, nil)
	var reads []string
	secrets := keyref.SecretReaderFunc(func(_ context.Context, ns, name string) (*corev1.Secret, error) {
		reads = append(reads, ns+"/"+name)
		return &corev1.Secret{Data: map[string][]byte{"cosign.pub": signer.PublicPEM}}, nil
	})
	doc := strings.Replace(keysPolicy(reg.Host+"/*", "",
		"      - entries:\n          - keys:\n              secret: {name: cosign, namespace: \"{{ request.object.metadata.annotations.keyns }}\"}\n"),
		"kind: ClusterPolicy\nmetadata:\n", "kind: Policy\nmetadata:\n  namespace: default\n", 1)
	set := loadPolicy(t, doc)
	annotated := func(ns string) map[string]any {
		p := pod(reg.Ref("app/signed", "v1"))
		p["metadata"].(map[string]any)["annotations"] = map[string]any{"keyns": ns}
		return p
	}
	r := one(t, evaluate(t, set, annotated("default"), Options{Keys: SecretKeys(secrets)}))
	if r.Status != engine.StatusPass {
		t.Fatalf("own namespace: %s %q", r.Status, r.Message)
	}
	r = one(t, evaluate(t, set, annotated("kube-system"), Options{Keys: SecretKeys(secrets)}))
	if r.Status != engine.StatusError || !r.Enforce || !strings.Contains(r.Message, "only read key Secrets of its own namespace") {
		t.Fatalf("other namespace: %s enforce %v %q", r.Status, r.Enforce, r.Message)
	}
	if len(reads) != 1 || reads[0] != "default/cosign" {
		t.Fatalf("secrets read %v, want only default/cosign", reads)
	}

	// A reference keyref would read as a file: refused even when the file
	// holds a good key.
	path := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(path, signer.PublicPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := SecretKeys(secrets).PublicKeys(context.Background(), path)
	if !errors.Is(err, keyref.ErrForbidden) {
		t.Fatalf("file reference: %v, want keyref.ErrForbidden", err)
	}
}
