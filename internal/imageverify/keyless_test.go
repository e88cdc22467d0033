package imageverify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/testing/sigstoretest"
)

// TestKeylessPolicies verifies Fulcio-style signatures made in the test
// (own CA, CT log and Rekor keys) through ClusterImagePolicy keyless
// authorities, against the trust root given offline.
func TestKeylessPolicies(t *testing.T) {
	reg := startRegistry(t)
	stack := sigstoretest.NewStack(t)
	other := sigstoretest.NewStack(t)
	const issuer = "https://token.actions.example.com"
	const subject = "https://github.example.com/org/app/.github/workflows/release.yml@refs/heads/main"
	leaf := stack.Issue(t, sigstoretest.LeafOptions{URI: subject, Issuer: issuer, CTLog: stack.CTLog})
	foreign := other.Issue(t, sigstoretest.LeafOptions{URI: subject, Issuer: issuer, CTLog: other.CTLog})

	signed := reg.PushRandom(t, "team/app", "keyless")
	sigstoretest.SignKeyless(t, reg, "team/app", signed, leaf, sigstoretest.WithTlog(stack.Rekor, time.Now()))
	wrongCA := reg.PushRandom(t, "team/app", "foreign")
	// Logged in the trusted Rekor, but issued by a CA nobody trusts.
	sigstoretest.SignKeyless(t, reg, "team/app", wrongCA, foreign, sigstoretest.WithTlog(stack.Rekor, time.Now()))

	noTlog := reg.PushRandom(t, "team/app", "no-tlog")
	sigstoretest.SignKeyless(t, reg, "team/app", noTlog, leaf)
	otherLog := reg.PushRandom(t, "team/app", "other-log")
	sigstoretest.SignKeyless(t, reg, "team/app", otherLog, leaf, sigstoretest.WithTlog(other.Rekor, time.Now()))

	dir := t.TempDir()
	rootJSON := readFile(t, stack.WriteTrustedRoot(t, dir))
	v := New(Options{TrustRoots: map[string][]byte{"corp": rootJSON}})

	policy := func(identity string, trust string) string {
		return fmt.Sprintf(`apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: keyless}
spec:
  images: [{glob: "%s/team/**"}]
  authorities:
  - name: release-workflow
    keyless:
%s
      identities:
      - %s
`, reg.Host, trust, identity)
	}
	exact := fmt.Sprintf("{issuer: %q, subject: %q}", issuer, subject)
	byRoot := "      trustRootRef: corp"
	for _, tc := range []struct {
		name, ref, policy string
		allowed           bool
		reason            string
	}{
		{"exact identity", reg.Ref("team/app", "keyless"), policy(exact, byRoot), true, ""},
		{"regexp identity", reg.Ref("team/app", "keyless"), policy(fmt.Sprintf("{issuer: %q, subjectRegExp: %q}", issuer, `^https://github\.example\.com/org/.*$`), byRoot), true, ""},
		{"subject mismatch", reg.Ref("team/app", "keyless"), policy(fmt.Sprintf("{issuer: %q, subject: %q}", issuer, "https://github.example.com/evil/app"), byRoot), false, "expected identities"},
		{"issuer mismatch", reg.Ref("team/app", "keyless"), policy(fmt.Sprintf("{issuer: %q, subject: %q}", "https://accounts.example.org", subject), byRoot), false, "expected identities"},
		{"certificate from another CA", reg.Ref("team/app", "foreign"), policy(exact, byRoot), false, "trusted root"},
		{"no transparency-log entry", reg.Ref("team/app", "no-tlog"), policy(exact, byRoot), false, "transparency-log"},
		{"entry from an unknown log", reg.Ref("team/app", "other-log"), policy(exact, byRoot), false, "transparency-log"},
		{"unknown trust root", reg.Ref("team/app", "keyless"), policy(exact, "      trustRootRef: nowhere"), false, `trustRootRef "nowhere"`},
		{"public Fulcio unreachable offline", reg.Ref("team/app", "keyless"), policy(exact, ""), false, "not reachable offline"},
		{"ca-cert without CT log key needs insecureIgnoreSCT", reg.Ref("team/app", "keyless"),
			policy(exact, "      ca-cert:\n        data: |\n"+indentBy(stack.CA.BundlePEM(), 10)), false, "CT"},
		{"ca-cert with insecureIgnoreSCT", reg.Ref("team/app", "keyless"),
			policy(exact, "      insecureIgnoreSCT: true\n      ca-cert:\n        data: |\n"+indentBy(stack.CA.BundlePEM(), 10)), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := v.VerifyPolicies(withTimeout(t, 10*time.Second), tc.ref, loadCIPs(t, tc.policy))
			if res.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", res.Allowed, tc.allowed, res.Policies)
			}
			if !tc.allowed {
				reasons := strings.Join(res.Policies[0].Reasons, "; ")
				if !strings.Contains(reasons, tc.reason) || !strings.Contains(reasons, "release-workflow") {
					t.Fatalf("reasons %q do not contain %q", reasons, tc.reason)
				}
			}
		})
	}
}

func indentBy(pem []byte, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n"+pad)
}
