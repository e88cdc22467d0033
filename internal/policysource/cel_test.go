package policysource

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// TestCELWanted: the CEL kinds are watched only with CELPolicies, and
// the group's PolicyException only with exceptions namespaces (as the
// kyverno.io one); both PolicyException kinds obey those namespaces.
func TestCELWanted(t *testing.T) {
	t.Parallel()
	w := &Watcher{}
	if got := w.celWanted(); len(got) != 0 {
		t.Errorf("without CELPolicies: %v", got)
	}
	w.opts.CELPolicies = true
	if got := strings.Join(w.celWanted(), ","); got != "ValidatingPolicy,MutatingPolicy,GeneratingPolicy" {
		t.Errorf("without exceptions namespaces: %s", got)
	}
	w.opts.ExceptionNamespaces = []string{"policy-exceptions"}
	if got := strings.Join(w.celWanted(), ","); got != "ValidatingPolicy,MutatingPolicy,GeneratingPolicy,PolicyException" {
		t.Errorf("with exceptions namespaces: %s", got)
	}
	for _, v := range CELVersions {
		if !isException(schema.GroupVersionKind{Group: "policies.kyverno.io", Version: v, Kind: "PolicyException"}) {
			t.Errorf("policies.kyverno.io/%s PolicyException is not filtered by namespace", v)
		}
	}
	if !isException(ExceptionGVK) || isException(schema.GroupVersionKind{Group: "policies.kyverno.io", Version: "v1", Kind: "ValidatingPolicy"}) {
		t.Error("isException misclassifies kinds")
	}
}

// TestNewCELNeedsDiscovery: CELPolicies without a discovery client is a
// configuration error, not a silent no-op.
func TestNewCELNeedsDiscovery(t *testing.T) {
	t.Parallel()
	var c cache.Cache = struct{ cache.Cache }{}
	if _, err := New(c, Options{CELPolicies: true}); err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Errorf("New without Discovery: err = %v", err)
	}
}
