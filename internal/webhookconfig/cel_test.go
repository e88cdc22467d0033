package webhookconfig

import (
	"fmt"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// celPolicies are a ValidatingPolicy with its own failurePolicy and
// timeout, one with the defaults, and a MutatingPolicy on Pods.
const celPolicies = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: lenient}
spec:
  failurePolicy: Ignore
  webhookConfiguration: {timeoutSeconds: 4}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "true"
---
apiVersion: policies.kyverno.io/v1beta1
kind: ValidatingPolicy
metadata: {name: strict}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: "true"
---
apiVersion: policies.kyverno.io/v1alpha1
kind: MutatingPolicy
metadata: {name: add-label}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"a": "b"}}}'
`

// TestCELPolicyWebhooks: a ValidatingPolicy's failurePolicy and
// webhookConfiguration.timeoutSeconds put its matchConstraints in the
// webhook of that group (as Kyverno groups its webhooks); a
// MutatingPolicy's matchConstraints (and its autogen pod controllers)
// are sent to /mutate; the watched policies.kyverno.io resources are
// validated by /validate-policy in every version policy.Compile reads.
func TestCELPolicyWebhooks(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("cel.yaml", []byte(celPolicies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Service: "svc", Namespace: "ns", CELPolicyResources: []string{"validatingpolicies", "mutatingpolicies"}}
	cfg := Desired(set, []byte("CA"), o)
	byName := map[string]admissionregistrationv1.ValidatingWebhook{}
	for _, w := range cfg.Webhooks {
		byName[w.Name] = w
	}
	ignore, ok := byName["validate-ignore-4s.portcullis.dev"]
	if !ok {
		t.Fatalf("no webhook for the Ignore/4s group; webhooks %v", names(cfg.Webhooks))
	}
	if *ignore.FailurePolicy != admissionregistrationv1.Ignore || *ignore.TimeoutSeconds != 4 || *ignore.ClientConfig.Service.Path != "/validate/ignore-4s" {
		t.Errorf("Ignore/4s webhook = %s %ds %s", *ignore.FailurePolicy, *ignore.TimeoutSeconds, *ignore.ClientConfig.Service.Path)
	}
	if r, ok := ruleFor(ignore.Rules, "", "configmaps"); !ok || fmt.Sprint(r.Operations) != "[CREATE]" {
		t.Errorf("Ignore/4s rules %+v, want configmaps on CREATE", ignore.Rules)
	}
	if _, ok := ruleFor(ignore.Rules, "apps", "deployments"); ok {
		t.Error("the default-group policy's deployments are in the Ignore/4s webhook")
	}
	def := byName["validate-fail-10s.portcullis.dev"]
	if _, ok := ruleFor(def.Rules, "apps", "deployments"); !ok {
		t.Errorf("default webhook rules %+v lack deployments", def.Rules)
	}

	pol := byName["validate-policies.portcullis.dev"]
	r, ok := ruleFor(pol.Rules, "policies.kyverno.io", "mutatingpolicies")
	if !ok || !slices.Equal(r.Resources, []string{"mutatingpolicies", "validatingpolicies"}) || !slices.Equal(r.APIVersions, []string{"v1", "v1beta1", "v1alpha1"}) {
		t.Errorf("/validate-policy rules %+v, want policies.kyverno.io mutatingpolicies and validatingpolicies in v1, v1beta1, v1alpha1", pol.Rules)
	}
	if off := Desired(set, []byte("CA"), Options{Service: "svc", Namespace: "ns"}); func() bool {
		_, ok := ruleFor(off.Webhooks[len(off.Webhooks)-1].Rules, "policies.kyverno.io", "validatingpolicies")
		return ok
	}() {
		t.Error("CEL policies sent to /validate-policy while none are watched")
	}

	m := DesiredMutating(set, []byte("CA"), o)
	if len(m.Webhooks) != 1 {
		t.Fatalf("mutating webhooks %+v, want one for the MutatingPolicy", m.Webhooks)
	}
	for _, res := range []string{"pods", "deployments", "cronjobs"} {
		if _, ok := ruleFor(m.Webhooks[0].Rules, map[string]string{"pods": "", "deployments": "apps", "cronjobs": "batch"}[res], res); !ok {
			t.Errorf("mutating rules %+v lack %s", m.Webhooks[0].Rules, res)
		}
	}
}

func names(ws []admissionregistrationv1.ValidatingWebhook) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}
