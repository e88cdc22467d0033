package admission

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// groupedPolicies are three policies in two webhook groups: fail-10s
// (the defaults: require-team, Enforce, and warn-app, Audit) and
// ignore-5s (warn-owner, Audit).
const groupedPolicies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label team is required", pattern: {metadata: {labels: {team: "?*"}}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: warn-app}
spec:
  validationFailureAction: Audit
  rules:
  - name: app
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label app is recommended", pattern: {metadata: {labels: {app: "?*"}}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: warn-owner}
spec:
  validationFailureAction: Audit
  failurePolicy: Ignore
  webhookTimeoutSeconds: 5
  rules:
  - name: owner
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "label owner is recommended", pattern: {metadata: {labels: {owner: "?*"}}}}
`

const unlabelledPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: a, image: nginx}]
`

// TestGroupPathEvaluatesItsPolicies: the API server calls every webhook
// whose rules match, here both groups' paths for one Pod. Each path
// evaluates its own group's policies only, so every policy denies, warns
// and records its event exactly once over the two calls; plain /validate
// still evaluates every policy.
func TestGroupPathEvaluatesItsPolicies(t *testing.T) {
	t.Parallel()
	set := compile(t, groupedPolicies)
	events := &eventLog{}
	h := newHandler(t, HandlerOptions{Policies: NewAtomicSource(set), Recorder: events})
	srv := newTLSServer(t, h)
	d := GroupDefaults{}
	failGroup := d.Default()
	ignoreGroup := WebhookGroup{FailurePolicy: admissionregistrationv1.Ignore, TimeoutSeconds: 5}
	if p := d.PolicyGroup(set.Policy("warn-owner")); p != ignoreGroup {
		t.Fatalf("warn-owner group = %+v, want %+v", p, ignoreGroup)
	}

	var warnings []string
	var denials []string
	for _, g := range []WebhookGroup{failGroup, ignoreGroup} {
		resp := admit(t, srv, g.Path()+"?timeout="+g.ID()[strings.LastIndex(g.ID(), "-")+1:], reviewReq{kind: "Pod", namespace: "shop", name: "web", object: unlabelledPod})
		warnings = append(warnings, resp.Warnings...)
		if !resp.Allowed {
			denials = append(denials, resp.Result.Message)
		}
		if g == ignoreGroup && !resp.Allowed {
			t.Errorf("%s: denied by %q, but its only policy audits", g.Path(), resp.Result.Message)
		}
	}
	count := func(list []string, s string) int {
		n := 0
		for _, x := range list {
			n += strings.Count(x, s)
		}
		return n
	}
	if len(denials) != 1 || count(denials, "require-team") != 1 {
		t.Errorf("denials = %q, want one, by require-team", denials)
	}
	for _, p := range []string{"warn-app", "warn-owner"} {
		if n := count(warnings, p); n != 1 {
			t.Errorf("%d warnings name %s over both group paths, want 1: %q", n, p, warnings)
		}
	}
	perPolicy := map[string]int{}
	for _, ev := range events.all() {
		perPolicy[ev.Policy]++
	}
	for _, p := range []string{"warn-app", "warn-owner"} {
		if perPolicy[p] != 1 {
			t.Errorf("events of %s = %d, want 1 (all: %+v)", p, perPolicy[p], events.all())
		}
	}

	// Plain /validate: every policy, as before groups had paths.
	resp := admit(t, srv, PathValidate, reviewReq{kind: "Pod", namespace: "shop", name: "web", object: unlabelledPod})
	if resp.Allowed || count(resp.Warnings, "warn-app") != 1 || count(resp.Warnings, "warn-owner") != 1 {
		t.Errorf("/validate: allowed %v, warnings %q; want denied with both warnings", resp.Allowed, resp.Warnings)
	}

	// A group with no policies admits; a malformed group is not a path.
	if resp := admit(t, srv, "/validate/fail-30s", reviewReq{kind: "Pod", namespace: "shop", name: "web", object: unlabelledPod}); !resp.Allowed || len(resp.Warnings) != 0 {
		t.Errorf("/validate/fail-30s (no policies): %+v", resp)
	}
	for _, bad := range []string{"/validate/fail-31s", "/validate/fail-0s", "/validate/sometimes-10s", "/validate/fail-010s", "/validate/fail"} {
		if code, body := post(t, srv, bad, "application/json", reviewBody(t, reviewReq{kind: "Pod", object: unlabelledPod})); code != http.StatusNotFound {
			t.Errorf("POST %s: HTTP %d %s, want 404", bad, code, body)
		}
	}
}

// TestGroupSubsetsCached: a group's policies are selected once per set,
// not per request, and a new set replaces them.
func TestGroupSubsetsCached(t *testing.T) {
	t.Parallel()
	set := compile(t, groupedPolicies)
	c := &groupSets{defaults: GroupDefaults{}.WithDefaults()}
	g := c.defaults.Default()
	first := c.get(set, g)
	if names := policyNames(first); names != "require-team,warn-app" {
		t.Fatalf("fail-10s policies = %s", names)
	}
	if again := c.get(set, g); again != first {
		t.Error("the subset of the same set and group was rebuilt")
	}
	if ign := c.get(set, WebhookGroup{admissionregistrationv1.Ignore, 5}); policyNames(ign) != "warn-owner" {
		t.Errorf("ignore-5s policies = %s", policyNames(ign))
	}
	next := compile(t, groupedPolicies)
	if sub := c.get(next, g); sub == first || policyNames(sub) != "require-team,warn-app" {
		t.Errorf("a new set reused the old subset or changed it: %s", policyNames(sub))
	}
	// Other defaults move the policies that set none.
	ign := (&groupSets{defaults: GroupDefaults{FailurePolicy: admissionregistrationv1.Ignore, TimeoutSeconds: 5}}).get(set, WebhookGroup{admissionregistrationv1.Ignore, 5})
	if policyNames(ign) != "require-team,warn-app,warn-owner" {
		t.Errorf("with defaults Ignore/5s, ignore-5s policies = %s", policyNames(ign))
	}
}

func TestParseWebhookGroup(t *testing.T) {
	t.Parallel()
	for _, g := range []WebhookGroup{{admissionregistrationv1.Fail, 1}, {admissionregistrationv1.Ignore, 30}, {admissionregistrationv1.Fail, 10}} {
		got, err := ParseWebhookGroup(g.ID())
		if err != nil || got != g {
			t.Errorf("ParseWebhookGroup(%q) = %+v, %v", g.ID(), got, err)
		}
	}
	if p := (WebhookGroup{admissionregistrationv1.Ignore, 7}).Path(); p != "/validate/ignore-7s" {
		t.Errorf("path = %s", p)
	}
}

// policyNames lists the names of the Kyverno policies of set.
func policyNames(set *policy.Set) string {
	var names []string
	for _, p := range set.Policies {
		names = append(names, p.Name())
	}
	return strings.Join(names, ",")
}

// TestPolicyGroupWebhookConfiguration: spec.webhookConfiguration's
// failurePolicy and timeoutSeconds (Kyverno 1.13) choose the group over
// the deprecated failurePolicy and webhookTimeoutSeconds, and each alone
// falls back to the deprecated field, then to the defaults.
func TestPolicyGroupWebhookConfiguration(t *testing.T) {
	t.Parallel()
	set := compile(t, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: new-fields}
spec:
  failurePolicy: Fail
  webhookTimeoutSeconds: 20
  webhookConfiguration: {failurePolicy: Ignore, timeoutSeconds: 3}
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: timeout-only}
spec:
  failurePolicy: Ignore
  webhookConfiguration: {timeoutSeconds: 7}
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: conditions-only}
spec:
  webhookConfiguration:
    matchConditions: [{name: any, expression: "true"}]
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`)
	d := GroupDefaults{}
	for name, want := range map[string]WebhookGroup{
		"new-fields":      {FailurePolicy: admissionregistrationv1.Ignore, TimeoutSeconds: 3},
		"timeout-only":    {FailurePolicy: admissionregistrationv1.Ignore, TimeoutSeconds: 7},
		"conditions-only": d.Default(),
	} {
		if got := d.PolicyGroup(set.Policy(name)); got != want {
			t.Errorf("%s: group %+v, want %+v", name, got, want)
		}
	}
}
