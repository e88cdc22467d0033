package webhookconfig

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// onlyNamespaces returns the values of the webhook's In requirement on
// the namespace name ("" when it has none: every namespace not excluded).
func onlyNamespaces(t *testing.T, sel *metav1.LabelSelector) string {
	t.Helper()
	var only []string
	for _, r := range sel.MatchExpressions {
		if r.Key != "kubernetes.io/metadata.name" {
			t.Fatalf("selector %+v: unexpected key", sel)
		}
		switch r.Operator {
		case metav1.LabelSelectorOpNotIn:
		case metav1.LabelSelectorOpIn:
			only = append(only, strings.Join(r.Values, ","))
		default:
			t.Fatalf("selector %+v: unexpected operator", sel)
		}
	}
	return strings.Join(only, ";")
}

func hooks(t *testing.T, docs string, o Options) map[string]admissionregistrationv1.ValidatingWebhook {
	t.Helper()
	set, err := policy.LoadBytes("p.yaml", []byte(docs), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]admissionregistrationv1.ValidatingWebhook{}
	for _, w := range Desired(set, nil, o).Webhooks {
		if w.NamespaceSelector.MatchExpressions[0].Operator != metav1.LabelSelectorOpNotIn ||
			fmt.Sprint(w.NamespaceSelector.MatchExpressions[0].Values) != "[kube-system]" {
			t.Errorf("%s: the excluded namespaces are lost: %+v", w.Name, w.NamespaceSelector)
		}
		out[w.Name] = w
	}
	return out
}

const (
	teamPolicy = `apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: limits, namespace: team-a}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {spec: {containers: [{resources: {limits: {cpu: "?*"}}}]}}}
`
	listedPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: listed}
spec:
  rules:
  - name: r
    match:
      any:
      - resources: {kinds: [Pod], namespaces: [prod, staging]}
      - resources: {kinds: [Service], namespaces: [edge]}
    validate: {pattern: {metadata: {name: "?*"}}}
  - name: all
    match:
      all:
      - resources: {kinds: [ConfigMap]}
      - resources: {kinds: [ConfigMap], namespaces: [config]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
	everywherePolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: everywhere}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
	wildcardPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: wildcard}
spec:
  failurePolicy: Ignore
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod], namespaces: ["team-*"]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
)

// TestNamespaceScope: a webhook whose rules can only match resources in
// named namespaces (namespaced Policies, match filters listing namespaces
// exactly) is not called for the others; one rule that can match
// anywhere, a wildcard, a CEL policy or image policies keep every
// namespace, and each failurePolicy group is scoped on its own. Pods of
// those namespaces stay covered for ephemeral containers too.
func TestNamespaceScope(t *testing.T) {
	t.Parallel()
	const fail, ignore = "validate-fail-10s.portcullis.dev", "validate-ignore-10s.portcullis.dev"
	o := Options{URL: "https://x", ExcludeNamespaces: []string{"kube-system"}}
	for _, tc := range []struct {
		name, docs string
		o          Options
		want       map[string]string // webhook name -> In values
	}{
		{"namespaced Policy", teamPolicy, o, map[string]string{fail: "team-a"}},
		{"listed namespaces", listedPolicy, o, map[string]string{fail: "config,edge,prod,staging"}},
		{"both", teamPolicy + "---\n" + listedPolicy, o, map[string]string{fail: "config,edge,prod,staging,team-a"}},
		{"one rule everywhere", teamPolicy + "---\n" + everywherePolicy, o, map[string]string{fail: ""}},
		{"wildcard in its own group", teamPolicy + "---\n" + wildcardPolicy, o, map[string]string{fail: "team-a", ignore: ""}},
		{"image policies", teamPolicy, Options{URL: "https://x", ExcludeNamespaces: []string{"kube-system"}, ImagePolicies: true}, map[string]string{fail: ""}},
	} {
		got := hooks(t, tc.docs, tc.o)
		for name, want := range tc.want {
			w, ok := got[name]
			if !ok {
				t.Errorf("%s: no webhook %s in %v", tc.name, name, got)
				continue
			}
			if only := onlyNamespaces(t, w.NamespaceSelector); only != want {
				t.Errorf("%s: %s is called in namespaces %q, want %q", tc.name, name, only, want)
			}
			if _, ok := ruleFor(w.Rules, "", "pods/ephemeralcontainers"); !ok {
				t.Errorf("%s: %s lost pods/ephemeralcontainers: %+v", tc.name, name, w.Rules)
			}
		}
		if only := onlyNamespaces(t, got["validate-policies.portcullis.dev"].NamespaceSelector); only != "" {
			t.Errorf("%s: the policy webhook is scoped to %q", tc.name, only)
		}
	}

	// A verifyImages rule everywhere, in the same group as a validate rule
	// of one namespace: the group's path evaluates both, so it stays
	// unscoped (Pods reach it through the image policies' registration).
	const signedIgnore = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: signed}
spec:
  validationFailureAction: Enforce
  failurePolicy: Ignore
  rules:
  - name: listed
    match: {any: [{resources: {kinds: [Pod], namespaces: [prod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
` + verifyAnyImageRule
	if only := onlyNamespaces(t, hooks(t, signedIgnore, Options{URL: "https://x", ExcludeNamespaces: []string{"kube-system"}, ImagePolicies: true})[ignore].NamespaceSelector); only != "" {
		t.Errorf("a group with a verifyImages rule on every namespace is scoped to %q", only)
	}

	const vpol = `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vpol}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations: [{expression: "true"}]
`
	got := hooks(t, teamPolicy+"---\n"+vpol, o)
	for name, w := range got {
		if only := onlyNamespaces(t, w.NamespaceSelector); only != "" {
			t.Errorf("with a ValidatingPolicy: %s is scoped to %q", name, only)
		}
	}
}

// TestMutatingNamespaceScope: the mutating webhook is scoped like the
// validating ones, and image policies keep every namespace.
func TestMutatingNamespaceScope(t *testing.T) {
	t.Parallel()
	set, err := policy.LoadBytes("p.yaml", []byte(`apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: defaults, namespace: team-a}
spec:
  rules:
  - name: label
    match: {any: [{resources: {kinds: [Pod]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {a: b}}}
`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{URL: "https://x"}
	m := DesiredMutating(set, nil, o)
	if len(m.Webhooks) != 1 {
		t.Fatalf("webhooks %+v", m.Webhooks)
	}
	if only := onlyNamespaces(t, m.Webhooks[0].NamespaceSelector); only != "team-a" {
		t.Errorf("mutating webhook scoped to %q, want team-a", only)
	}
	o.ImagePolicies = true
	if only := onlyNamespaces(t, DesiredMutating(set, nil, o).Webhooks[0].NamespaceSelector); only != "" {
		t.Errorf("with image policies the mutating webhook is scoped to %q", only)
	}
}

// verifyAnyImageRule is a ClusterPolicy rule (YAML at the rules' indent)
// verifying every Pod's images with a cosign key.
const verifyAnyImageRule = `  - name: check
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |
              -----BEGIN PUBLIC KEY-----
              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8nXRh950IZbRj8Ra/N9sbqOPZrfM
              5/KAQN0/KjHcorm/J5yctVd7iEcnessRQjU917hmKO6JWVGHpDguIyakZA==
              -----END PUBLIC KEY-----
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`
