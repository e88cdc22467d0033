package engine

import (
	"strings"
	"testing"
)

// webhookMatchPolicies are Kyverno policies with
// spec.webhookConfiguration.matchConditions: one that holds for every Pod
// but one named "exempt", and two whose condition cannot be evaluated on a
// Pod without labels (a missing map key), one failing closed and one
// with failurePolicy Ignore.
const webhookMatchPolicies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: named}
spec:
  validationFailureAction: Enforce
  webhookConfiguration:
    matchConditions:
    - {name: not-exempt, expression: "object.metadata.name != 'exempt'"}
  rules:
  - name: team
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "a team label is required", pattern: {metadata: {labels: {team: "?*"}}}}
  - name: owner
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: "an owner label is required", pattern: {metadata: {labels: {owner: "?*"}}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken-closed}
spec:
  validationFailureAction: Audit
  webhookConfiguration:
    matchConditions:
    - {name: tier, expression: "object.metadata.labels['tier'] == 'web'"}
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken-open}
spec:
  failurePolicy: Fail
  validationFailureAction: Enforce
  webhookConfiguration:
    failurePolicy: Ignore
    matchConditions:
    - {name: tier, expression: "object.metadata.labels['tier'] == 'web'"}
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {metadata: {name: "?*"}}}
`

func TestWebhookMatchConditions(t *testing.T) {
	t.Parallel()
	set := loadSet(t, webhookMatchPolicies)
	pod := func(name string, labels map[string]any) map[string]any {
		md := map[string]any{"name": name, "namespace": "ns"}
		if labels != nil {
			md["labels"] = labels
		}
		return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": md,
			"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}
	}
	byPolicy := func(results []Result) map[string][]Result {
		out := map[string][]Result{}
		for _, r := range results {
			out[r.Policy] = append(out[r.Policy], r)
		}
		return out
	}

	for _, background := range []bool{false, true} {
		// The conditions hold: every rule of the policy is evaluated.
		got := byPolicy(evaluate(t, set, Input{Resource: pod("web", map[string]any{"tier": "web"}), Background: background}))
		if n := len(got["named"]); n != 2 {
			t.Errorf("background=%v: named gave %d results on a matching Pod, want 2: %+v", background, n, got["named"])
		}
		for _, p := range []string{"broken-closed", "broken-open"} {
			if len(got[p]) != 1 || got[p][0].Status != StatusPass {
				t.Errorf("background=%v: %s on a Pod whose condition holds = %+v, want one pass", background, p, got[p])
			}
		}
		// A condition is false: the policy does not apply at all.
		got = byPolicy(evaluate(t, set, Input{Resource: pod("exempt", map[string]any{"tier": "db"}), Background: background}))
		if len(got["named"]) != 0 {
			t.Errorf("background=%v: named applied to the Pod its matchConditions exclude: %+v", background, got["named"])
		}
		if len(got["broken-closed"]) != 0 || len(got["broken-open"]) != 0 {
			t.Errorf("background=%v: a false condition gave results: %+v", background, got)
		}
	}

	// A condition that cannot be evaluated: one error result per policy,
	// which denies under failurePolicy Fail even for an Audit policy (the
	// API server rejects the request) and is a warning under Ignore.
	results := evaluate(t, set, Input{Resource: pod("nolabels", nil)})
	got := byPolicy(results)
	for _, p := range []string{"broken-closed", "broken-open"} {
		if len(got[p]) != 1 || got[p][0].Status != StatusError || !strings.HasPrefix(got[p][0].Message, MsgWebhookMatchError) {
			t.Fatalf("%s on a Pod its condition cannot be evaluated on = %+v, want one error result", p, got[p])
		}
	}
	d := Decide(set, results)
	if d.Allowed {
		t.Fatalf("a matchConditions error under failurePolicy Fail was allowed: %+v", d)
	}
	if !strings.Contains(d.Message, "broken-closed") || strings.Contains(d.Message, "broken-open") {
		t.Errorf("denial = %q, want broken-closed (Fail) and not broken-open (Ignore)", d.Message)
	}
	warned := false
	for _, w := range d.Warnings {
		warned = warned || strings.Contains(w, MsgWebhookMatchError)
	}
	if !warned {
		t.Errorf("the ignored matchConditions error of broken-open gave no warning: %v", d.Warnings)
	}
	failOpen := map[string]bool{}
	for _, p := range set.Policies {
		failOpen[p.Name()] = p.FailOpen()
	}
	if failOpen["broken-closed"] || !failOpen["broken-open"] {
		t.Errorf("FailOpen = %v, want broken-open only (webhookConfiguration.failurePolicy over spec.failurePolicy)", failOpen)
	}
}
