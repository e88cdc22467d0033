package serve

import (
	"encoding/json"
	"testing"

	"github.com/portcullis/portcullis/internal/policysource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestStatusPatch: the Ready condition goes to status.conditions of the
// Portcullis, kyverno.io and sigstore kinds, and to Kyverno's
// status.conditionStatus (conditions, ready, message) of the
// policies.kyverno.io kinds, where a Kyverno-installed CRD keeps it.
func TestStatusPatch(t *testing.T) {
	t.Parallel()
	conds := []metav1.Condition{{Type: conditionReady, Status: metav1.ConditionFalse, Reason: reasonCompile, Message: "bad"}}
	for group, want := range map[string]string{
		"portcullis.dev":      `{"status":{"conditions":[{"type":"Ready","status":"False","lastTransitionTime":null,"reason":"CompileFailed","message":"bad"}]}}`,
		"policy.sigstore.dev": `{"status":{"conditions":[{"type":"Ready","status":"False","lastTransitionTime":null,"reason":"CompileFailed","message":"bad"}]}}`,
		"policies.kyverno.io": `{"status":{"conditionStatus":{"conditions":[{"type":"Ready","status":"False","lastTransitionTime":null,"reason":"CompileFailed","message":"bad"}],"message":"bad","ready":false}}}`,
	} {
		b, err := json.Marshal(statusPatch(group, conds, false, "bad"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s: patch %s\nwant %s", group, b, want)
		}
		if got := policysource.ConditionsPath(group); (group == "policies.kyverno.io") != (len(got) == 3 && got[1] == "conditionStatus") {
			t.Errorf("%s: conditions read from %v", group, got)
		}
	}
}

// TestCELResources: the watched policies.kyverno.io kinds become the
// resources /validate-policy receives; other kinds are left out.
func TestCELResources(t *testing.T) {
	t.Parallel()
	got := celResources([]schema.GroupVersionKind{
		{Group: "portcullis.dev", Version: "v1", Kind: "ClusterPolicy"},
		{Group: "policies.kyverno.io", Version: "v1", Kind: "ValidatingPolicy"},
		{Group: "policies.kyverno.io", Version: "v1beta1", Kind: "PolicyException"},
		{Group: "kyverno.io", Version: "v2", Kind: "PolicyException"},
	})
	if len(got) != 2 || got[0] != "validatingpolicies" || got[1] != "policyexceptions" {
		t.Errorf("celResources = %v, want [validatingpolicies policyexceptions]", got)
	}
}
