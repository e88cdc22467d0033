package kyvernoimages

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/testing/registrytest"
	"github.com/portcullis/portcullis/internal/testing/sigstoretest"
)

// TestOfflineKeylessTrust verifies keyless attestors (roots, Rekor and CT
// log keys given inline) against Fulcio-style signatures made in the test.
func TestOfflineKeylessTrust(t *testing.T) {
	reg := registrytest.Start(t)
	stack := sigstoretest.NewStack(t)
	const issuer, subject = "https://issuer.example.com", "release@example.com"
	leaf := stack.Issue(t, sigstoretest.LeafOptions{Email: subject, Issuer: issuer, CTLog: stack.CTLog})
	d := reg.PushRandom(t, "team/app", "keyless")
	sigstoretest.SignKeyless(t, reg, "team/app", d, leaf, sigstoretest.WithTlog(stack.Rekor, time.Now()))
	pemOf := func(l *sigstoretest.Log) []byte { return l.PublicPEM }
	doc := func(subj, extra string) string {
		return fmt.Sprintf(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: keyless}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["%s/team/*"]
      attestors:
      - entries:
        - keyless:
            issuer: %s
            subject: %s
            roots: |
%s
%s`, reg.Host, issuer, subj, indent(stack.CA.BundlePEM(), 14), extra)
	}
	logs := fmt.Sprintf("            rekor:\n              url: https://rekor.example.com\n              pubkey: |\n%s\n            ctlog:\n              pubkey: |\n%s\n",
		indent(pemOf(stack.Rekor), 16), indent(pemOf(stack.CTLog), 16))
	opts := Options{Certificates: OfflineTrust()}
	img := reg.Ref("team/app", "keyless")

	r := one(t, evaluate(t, loadPolicy(t, doc(subject, logs)), pod(img), opts))
	if r.Status != engine.StatusPass {
		t.Fatalf("matching identity: %s %s", r.Status, r.Message)
	}
	r = one(t, evaluate(t, loadPolicy(t, doc("someone-else@example.com", logs)), pod(img), opts))
	if r.Status != engine.StatusFail || !strings.Contains(r.Message, "identit") {
		t.Fatalf("other subject: %s %s", r.Status, r.Message)
	}
	// Without the CT log key the SCT cannot be checked: the trust is refused.
	r = one(t, evaluate(t, loadPolicy(t, doc(subject, "")), pod(img), opts))
	if r.Status == engine.StatusPass || !strings.Contains(r.Message, "CT") {
		t.Fatalf("no CT key: %s %s", r.Status, r.Message)
	}
}
