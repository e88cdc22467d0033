package webhookconfig

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

const policies = `apiVersion: portcullis.dev/v1
kind: ClusterPolicy
metadata: {name: pods}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: ingress-ignore}
spec:
  failurePolicy: Ignore
  webhookTimeoutSeconds: 5
  rules:
  - name: r
    match: {any: [{resources: {kinds: [networking.k8s.io/v1/Ingress], operations: [CREATE]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`

func TestDesired(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Desired(set, []byte("CA"), Options{Service: "portcullis", Namespace: "portcullis-system"})
	if cfg.Name != "portcullis" || len(cfg.Webhooks) != 3 {
		t.Fatalf("webhooks = %d (%+v), want Fail group, Ignore group, policy webhook", len(cfg.Webhooks), cfg.Webhooks)
	}
	byName := map[string]admissionregistrationv1.ValidatingWebhook{}
	for _, w := range cfg.Webhooks {
		byName[w.Name] = w
		if string(w.ClientConfig.CABundle) != "CA" || w.ClientConfig.Service == nil || *w.ClientConfig.Service.Port != 443 {
			t.Errorf("%s: client config %+v", w.Name, w.ClientConfig)
		}
		ex := w.NamespaceSelector.MatchExpressions[0]
		if strings.Join(ex.Values, ",") != "kube-system,portcullis-system" {
			t.Errorf("%s: excluded namespaces %v", w.Name, ex.Values)
		}
	}
	fail := byName["validate-fail-10s.portcullis.dev"]
	if len(fail.Rules) != 9 || *fail.FailurePolicy != admissionregistrationv1.Fail {
		t.Fatalf("fail group = %+v, want pods, pods/ephemeralcontainers and the 7 autogen controllers", fail.Rules)
	}
	ignore := byName["validate-ignore-5s.portcullis.dev"]
	if len(ignore.Rules) != 1 || ignore.Rules[0].APIGroups[0] != "networking.k8s.io" || ignore.Rules[0].Resources[0] != "ingresses" ||
		string(ignore.Rules[0].Operations[0]) != "CREATE" || *ignore.TimeoutSeconds != 5 {
		t.Fatalf("ignore group = %+v", ignore.Rules)
	}
	pol := byName["validate-policies.portcullis.dev"]
	if *pol.ClientConfig.Service.Path != ValidatePolicyPath || pol.Rules[0].APIGroups[0] != "portcullis.dev" {
		t.Fatalf("policy webhook = %+v", pol)
	}
}

// TestGroupPaths: each failurePolicy/timeout group calls its own path,
// which the admission handler parses back to the same group; the policy
// webhook keeps its path.
func TestGroupPaths(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{Service: "portcullis", Namespace: "portcullis-system"}, {URL: "https://127.0.0.1:9443/"}} {
		cfg := Desired(set, nil, o)
		paths := map[string]string{}
		for _, w := range cfg.Webhooks {
			var path string
			if s := w.ClientConfig.Service; s != nil {
				path = *s.Path
			} else {
				path = strings.TrimPrefix(*w.ClientConfig.URL, "https://127.0.0.1:9443")
			}
			paths[w.Name] = path
			if id, ok := strings.CutPrefix(path, ValidatePath+"/"); ok {
				g, err := admission.ParseWebhookGroup(id)
				if err != nil || g.FailurePolicy != *w.FailurePolicy || g.TimeoutSeconds != *w.TimeoutSeconds {
					t.Errorf("%s: path %s parses to %+v, %v; want the webhook's %s/%ds", w.Name, path, g, err, *w.FailurePolicy, *w.TimeoutSeconds)
				}
			}
		}
		want := map[string]string{
			"validate-fail-10s.portcullis.dev":  "/validate/fail-10s",
			"validate-ignore-5s.portcullis.dev": "/validate/ignore-5s",
			"validate-policies.portcullis.dev":  ValidatePolicyPath,
		}
		if fmt.Sprint(paths) != fmt.Sprint(want) {
			t.Errorf("paths = %v, want %v", paths, want)
		}
	}
}

func TestDesiredIncludesAutogenControllers(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Desired(set, nil, Options{URL: "https://127.0.0.1:9443"})
	var resources []string
	for _, r := range cfg.Webhooks[0].Rules {
		resources = append(resources, r.Resources...)
	}
	got := strings.Join(resources, ",")
	for _, want := range []string{"pods", "deployments", "cronjobs", "statefulsets"} {
		if !strings.Contains(got, want) {
			t.Errorf("rules %s lack %s", got, want)
		}
	}
	if u := *cfg.Webhooks[0].ClientConfig.URL; u != "https://127.0.0.1:9443/validate/fail-10s" {
		t.Errorf("url = %s", u)
	}
}

func TestDefaultFailurePolicy(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Desired(set, nil, Options{URL: "https://x", DefaultFailurePolicy: admissionregistrationv1.Ignore})
	var names []string
	for _, w := range cfg.Webhooks {
		names = append(names, w.Name)
	}
	// The policy without failurePolicy now joins the Ignore webhook; the
	// policy webhook itself always fails closed.
	if got := strings.Join(names, ","); got != "validate-ignore-5s.portcullis.dev,validate-ignore-10s.portcullis.dev,validate-policies.portcullis.dev" {
		t.Fatalf("webhooks = %s", got)
	}
}

// ruleFor is the rule of w registering resource, if any.
func ruleFor(rules []admissionregistrationv1.RuleWithOperations, group, resource string) (admissionregistrationv1.RuleWithOperations, bool) {
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if g == group && res == resource {
					return r, true
				}
			}
		}
	}
	return admissionregistrationv1.RuleWithOperations{}, false
}

// TestEphemeralContainersRegistered: every webhook that receives Pods
// (validate rules on Pods, a wildcard kind, image policies, the mutating
// webhook) also receives UPDATE of pods/ephemeralcontainers, and a group
// without Pods does not.
func TestEphemeralContainersRegistered(t *testing.T) {
	t.Parallel()
	const wildcard = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: everything}
spec:
  failurePolicy: Ignore
  webhookTimeoutSeconds: 7
  rules:
  - name: r
    match: {any: [{resources: {kinds: ["*"]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
	set, err := policy.LoadBytes("p.yaml", []byte(policies+"---\n"+wildcard), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{URL: "https://x", ImagePolicies: true}
	cfg := Desired(set, nil, o)
	want := map[string]bool{
		"validate-fail-10s.portcullis.dev":  true,  // Pod rule + image policies
		"validate-ignore-7s.portcullis.dev": true,  // kinds: ["*"]
		"validate-ignore-5s.portcullis.dev": false, // Ingress only
		"validate-policies.portcullis.dev":  false,
	}
	for _, w := range cfg.Webhooks {
		r, ok := ruleFor(w.Rules, "", "pods/ephemeralcontainers")
		if ok != want[w.Name] {
			t.Errorf("%s: pods/ephemeralcontainers registered = %v, want %v (%+v)", w.Name, ok, want[w.Name], w.Rules)
			continue
		}
		if ok && (len(r.Operations) != 1 || r.Operations[0] != admissionregistrationv1.Update) {
			t.Errorf("%s: pods/ephemeralcontainers operations %v, want UPDATE", w.Name, r.Operations)
		}
		if p, ok := ruleFor(w.Rules, "", "pods"); ok && !strings.Contains(fmt.Sprint(p.Operations), "UPDATE") {
			t.Errorf("%s: pods operations %v lack UPDATE (image changes in place)", w.Name, p.Operations)
		}
	}
	m := DesiredMutating(nil, nil, o)
	if _, ok := ruleFor(m.Webhooks[0].Rules, "", "pods/ephemeralcontainers"); !ok {
		t.Errorf("mutating webhook rules %+v lack pods/ephemeralcontainers", m.Webhooks[0].Rules)
	}
}

// The mutating webhook covers the kinds mutate rules match (and their
// autogen pod controllers), even without image policies; nothing to
// mutate means no webhook.
func TestDesiredMutatingCoversMutateRules(t *testing.T) {
	set, err := policy.LoadBytes("p.yaml", []byte(`apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: defaults}
spec:
  rules:
  - name: label
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {a: b}}}
  - name: ns
    match: {any: [{resources: {kinds: [Namespace], operations: [CREATE]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {a: b}}}
`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Name: "portcullis", Service: "svc", Namespace: "ns"}
	m := DesiredMutating(set, nil, o)
	if len(m.Webhooks) != 1 {
		t.Fatalf("webhooks %+v", m.Webhooks)
	}
	rules := m.Webhooks[0].Rules
	for _, res := range []string{"pods", "namespaces"} {
		if _, ok := ruleFor(rules, "*", res); !ok {
			t.Errorf("rules %+v lack %s", rules, res)
		}
	}
	if r, ok := ruleFor(rules, "*", "namespaces"); ok && fmt.Sprint(r.Operations) != "[CREATE]" {
		t.Errorf("namespaces operations %v, want [CREATE]", r.Operations)
	}
	if _, ok := ruleFor(rules, "*", "deployments"); !ok {
		t.Errorf("rules %+v lack the autogen deployments", rules)
	}
	if got := DesiredMutating(&policy.Set{}, nil, o); len(got.Webhooks) != 0 {
		t.Errorf("nothing to mutate: webhooks %+v", got.Webhooks)
	}
}

// A policy whose only rule verifies images, in a group of its own
// (failurePolicy Ignore, 15 s), is evaluated on that group's path: the
// group's webhook must register the Pods and pod controllers the rule
// matches (with ephemeral containers), or the API server never sends
// them there and the images are never verified.
func TestVerifyImagesOnlyPolicyRegistersItsGroup(t *testing.T) {
	t.Parallel()
	const signed = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: signed}
spec:
  validationFailureAction: Enforce
  failurePolicy: Ignore
  webhookTimeoutSeconds: 15
  rules:
` + verifyAnyImageRule
	set, err := policy.LoadBytes("p.yaml", []byte(signed), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, w := range Desired(set, nil, Options{URL: "https://x", ImagePolicies: true}).Webhooks {
		if w.Name != "validate-ignore-15s.portcullis.dev" {
			continue
		}
		found = true
		got := map[string]bool{}
		for _, r := range w.Rules {
			for _, res := range r.Resources {
				got[res] = true
			}
		}
		for _, res := range []string{"pods", "deployments", ephemeralContainers} {
			if !got[res] {
				t.Errorf("the verifyImages policy's group does not register %s: %+v", res, w.Rules)
			}
		}
	}
	if !found {
		t.Fatal("no webhook for the verifyImages policy's group (ignore, 15 s): its rule is never evaluated")
	}
}
