package imageverify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/imagepolicy"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
)

func loadCIPs(t *testing.T, doc string) []*imagepolicy.Policy {
	t.Helper()
	docs, err := manifest.Decode("cip.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := imagepolicy.Load(docs)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func indent(pem []byte) string {
	return "        " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n        ")
}

func TestVerifyPolicies(t *testing.T) {
	reg := startRegistry(t)
	key, other := newKey(t), newKey(t)
	signed := reg.PushRandom(t, "team/app", "signed")
	reg.Sign(t, "team/app", signed, key, nil)
	reg.PushRandom(t, "team/app", "unsigned")
	host := reg.Host
	cip := fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: team-signed}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: other-key
    key:
      data: |
%s
  - name: team-key
    key:
      data: |
%s
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: keyless-warn}
spec:
  mode: warn
  images: [{glob: "%s/team/**"}]
  authorities:
  - keyless:
      url: https://fulcio.example
      identities: [{issuer: https://issuer.example, subject: ci@example.com}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: block-other}
spec:
  images: [{glob: "%s/other/**"}]
  authorities:
  - static: {action: fail, message: nothing from other}
`, host, indent(other.PublicPEM), indent(key.PublicPEM), host, host)
	policies := loadCIPs(t, cip)
	v := New(Options{})
	cases := []struct {
		name     string
		image    string
		allowed  bool
		policies int
		reason   string
		warning  string
	}{
		{"signed by the team key: second authority passes", reg.Ref("team/app", "signed"), true, 2, "", "not reachable offline"},
		{"unsigned: every authority fails", reg.Ref("team/app", "unsigned"), false, 2, "no signature", ""},
		{"static fail", host + "/other/thing:1", false, 1, "nothing from other", ""},
		{"no policy matches", host + "/elsewhere/app:1", true, 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := v.VerifyPolicies(withTimeout(t, 10*time.Second), tc.image, policies)
			if res.Allowed != tc.allowed || len(res.Policies) != tc.policies {
				t.Fatalf("result = %+v", res)
			}
			all := fmt.Sprintf("%+v", res.Policies)
			if tc.reason != "" && !strings.Contains(all, tc.reason) {
				t.Errorf("reasons %s lack %q", all, tc.reason)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %v lack %q", res.Warnings, tc.warning)
			}
			if tc.allowed && tc.policies > 0 {
				for _, p := range res.Policies {
					if p.Policy == "team-signed" && (p.Authority != "team-key" || res.Digest != signed.String()) {
						t.Errorf("passed by %q with digest %s, want team-key and %s", p.Authority, res.Digest, signed)
					}
				}
			}
		})
	}
}

// TestVerifyPoliciesKeyData: key.data is read as policy-controller reads
// it: several PEM keys (any one verifies) and PKCS#1 "RSA PUBLIC KEY"
// blocks. Before package keys, only the first key was used and a PKCS#1
// key passed validation but failed every verification as invalid.
func TestVerifyPoliciesKeyData(t *testing.T) {
	reg := startRegistry(t)
	key, other := newKey(t), newKey(t)
	rsaKey := registrytest.NewRSAKey(t)
	byKey := reg.PushRandom(t, "team/app", "by-key")
	reg.Sign(t, "team/app", byKey, key, nil)
	byRSA := reg.PushRandom(t, "team/app", "by-rsa")
	reg.Sign(t, "team/app", byRSA, rsaKey, nil)
	byOther := reg.PushRandom(t, "team/app", "by-other")
	reg.Sign(t, "team/app", byOther, other, nil)
	keyData := append(append(append([]byte{}, rsaKey.PublicPEM...), '\n'), key.PublicPEM...)
	policies := loadCIPs(t, fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: team-signed}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: team-keys
    key:
      data: |
%s
`, reg.Host, indent(keyData)))
	v := New(Options{})
	for tag, allowed := range map[string]bool{"by-key": true, "by-rsa": true, "by-other": false} {
		res := v.VerifyPolicies(withTimeout(t, 10*time.Second), reg.Ref("team/app", tag), policies)
		if res.Allowed != allowed {
			t.Errorf("%s: allowed = %v, want %v: %+v", tag, res.Allowed, allowed, res.Policies)
		}
		if !allowed && !strings.Contains(fmt.Sprintf("%+v", res.Policies), "no signature verifies with the key") {
			t.Errorf("%s: reason %+v", tag, res.Policies)
		}
	}
}
