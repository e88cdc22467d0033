package webhookconfig

import (
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
)

// TestPolicyExceptionsValidated: with WatchExceptions the policy webhook
// also sends kyverno.io PolicyExceptions (v2, v2beta1) to
// /validate-policy; without it, not.
func TestPolicyExceptionsValidated(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	has := func(o Options) bool {
		for _, w := range Desired(set, []byte("CA"), o).Webhooks {
			if w.Name != "validate-policies.portcullis.dev" {
				continue
			}
			for _, r := range w.Rules {
				if slices.Equal(r.APIGroups, []string{"kyverno.io"}) && slices.Equal(r.Resources, []string{"policyexceptions"}) &&
					slices.Equal(r.APIVersions, []string{"v2", "v2beta1"}) {
					return true
				}
			}
		}
		return false
	}
	if !has(Options{Service: "portcullis", Namespace: "ns", WatchExceptions: true}) {
		t.Error("PolicyExceptions are not sent to /validate-policy")
	}
	if has(Options{Service: "portcullis", Namespace: "ns"}) {
		t.Error("PolicyExceptions sent to /validate-policy while exceptions are off")
	}
}
