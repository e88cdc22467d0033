package engine

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const decidePolicies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: strict}
spec:
  validationFailureAction: Enforce
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: lenient}
spec:
  validationFailureAction: Enforce
  failurePolicy: Ignore
  rules:
  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate: {message: m, pattern: {metadata: {name: "?*"}}}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: lenient}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}]
  validations: [{expression: "true"}]
`

var pod = Resource{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "web"}

func TestDecide(t *testing.T) {
	t.Parallel()
	set := loadSet(t, decidePolicies)
	res := func(policy, kind, rule string, s Status, enforce bool, msg string) Result {
		return Result{Policy: policy, PolicyKind: kind, Rule: rule, Resource: pod, Status: s, Enforce: enforce, Message: msg}
	}
	patch := func(r Result, p string) Result { r.JSONPatch = p; return r }
	cip := func(s Status, enforce bool, msg string) Result {
		return res("team-signed", KindClusterImagePolicy, RuleVerifyImage, s, enforce, msg)
	}
	for _, tc := range []struct {
		name     string
		results  []Result
		allowed  bool
		message  string
		warnings []string
		events   []Event
		blocked  []string
		patches  []Patch
	}{
		{name: "nothing", allowed: true},
		{name: "pass and skip say nothing", allowed: true, results: []Result{
			res("strict", KindClusterPolicy, "r", StatusPass, true, "ok"), res("strict", KindClusterPolicy, "r", StatusSkip, true, "skipped")}},
		{name: "enforce fail denies", results: []Result{
			res("strict", KindClusterPolicy, "r", StatusFail, true, "validation error: m\nsecond line"),
			res("strict", KindClusterPolicy, "autogen-r", StatusFail, true, "again")},
			message: "resource Pod/ns/web was blocked due to the following policies\n\nstrict:\n  r: validation error: m\n    second line\n  autogen-r: again\n",
			blocked: []string{"strict/r", "strict/autogen-r"}},
		{name: "audit fail warns with an event", allowed: true, results: []Result{
			res("strict", KindClusterPolicy, "r", StatusFail, false, "bad")},
			warnings: []string{"strict/r: bad"},
			events:   []Event{{Resource: pod, Reason: ReasonPolicyViolation, Policy: "strict", Rule: "r", Message: "policy strict/r fail: bad"}}},
		{name: "warn warns, named by the policy when there is no rule", allowed: true, results: []Result{
			res("vp", KindValidatingPolicy, "", StatusWarn, true, "meh")},
			warnings: []string{"vp/vp: meh"},
			events:   []Event{{Resource: pod, Reason: ReasonPolicyViolation, Policy: "vp", Rule: "vp", Message: "policy vp/vp warn: meh"}}},
		{name: "error under failurePolicy Fail denies", results: []Result{
			res("strict", KindClusterPolicy, "r", StatusError, true, "boom")},
			message: "resource Pod/ns/web was blocked due to the following policies\n\nstrict:\n  r: evaluation error: boom\n",
			blocked: []string{"strict/r"}},
		{name: "error under failurePolicy Ignore warns", allowed: true, results: []Result{
			res("lenient", KindClusterPolicy, "r", StatusError, true, "boom")},
			warnings: []string{"lenient/r: evaluation error: boom"},
			events:   []Event{{Resource: pod, Reason: ReasonPolicyError, Policy: "lenient", Rule: "r", Message: "policy lenient/r error: evaluation error: boom"}}},
		{name: "failurePolicy is that of the result's kind", results: []Result{
			// The ValidatingPolicy "lenient" has no failurePolicy (Fail),
			// unlike the ClusterPolicy of the same name.
			res("lenient", KindValidatingPolicy, "", StatusError, true, "boom")},
			message: "resource Pod/ns/web was blocked due to the following policies\n\nlenient:\n  lenient: evaluation error: boom\n",
			blocked: []string{"lenient/lenient"}},
		{name: "audit error warns", allowed: true, results: []Result{
			res("strict", KindClusterPolicy, "r", StatusError, false, "boom")},
			warnings: []string{"strict/r: evaluation error: boom"},
			events:   []Event{{Resource: pod, Reason: ReasonPolicyError, Policy: "strict", Rule: "r", Message: "policy strict/r error: evaluation error: boom"}}},
		{name: "ClusterImagePolicy enforce failure denies, deduplicated", results: []Result{
			cip(StatusPass, true, "image a satisfies"),
			cip(StatusFail, true, "image b (spec.containers[1].image) fails ClusterImagePolicy team-signed: k: no signature"),
			cip(StatusFail, true, "image b (spec.containers[1].image) fails ClusterImagePolicy team-signed: k: no signature")},
			message: "resource Pod/ns/web was blocked by image policies:\n- image b (spec.containers[1].image) fails ClusterImagePolicy team-signed: k: no signature",
			blocked: []string{BlockedImagePolicies}},
		{name: "ClusterImagePolicy warn mode warns with an event", allowed: true, results: []Result{
			cip(StatusWarn, false, "image b fails ClusterImagePolicy team-warn: no signature"),
			cip(StatusWarn, false, "image b fails ClusterImagePolicy team-warn: no signature")},
			warnings: []string{"image b fails ClusterImagePolicy team-warn: no signature"},
			events: []Event{{Resource: pod, Reason: ReasonPolicyViolation, Policy: "team-signed", Rule: RuleVerifyImage,
				Message: "image b fails ClusterImagePolicy team-warn: no signature"}}},
		{name: "ClusterImagePolicy error fails closed, even in warn mode", results: []Result{
			cip(StatusError, false, "cannot read the images of Pod: x"), cip(StatusWarn, false, "cannot read the images of Pod: x")},
			message: "resource Pod/ns/web was blocked by image policies:\n- cannot read the images of Pod: x",
			blocked: []string{BlockedImagePolicies}},
		{name: "rule and image denials both reported", results: []Result{
			res("strict", KindClusterPolicy, "r", StatusFail, true, "bad"),
			cip(StatusFail, true, "image b fails")},
			message: "resource Pod/ns/web was blocked due to the following policies\n\nstrict:\n  r: bad\n\nresource Pod/ns/web was blocked by image policies:\n- image b fails",
			blocked: []string{"strict/r", BlockedImagePolicies}},
		{name: "patches of passing results, first per path", allowed: true, results: []Result{
			patch(res("kv", KindClusterPolicy, "verify", StatusPass, true, "ok"), `[{"op":"replace","path":"/spec/containers/0/image","value":"a@sha256:1"}]`),
			patch(cip(StatusPass, true, "pinned"), `[{"op":"replace","path":"/spec/containers/0/image","value":"a@sha256:2"}]`),
			patch(cip(StatusPass, true, "pinned"), `[{"op":"replace","path":"/spec/containers/1/image","value":"b@sha256:3"}]`),
			patch(res("kv", KindClusterPolicy, "verify", StatusFail, false, "no"), `[{"op":"replace","path":"/spec/containers/2/image","value":"c@sha256:4"}]`)},
			warnings: []string{"kv/verify: no"},
			events:   []Event{{Resource: pod, Reason: ReasonPolicyViolation, Policy: "kv", Rule: "verify", Message: "policy kv/verify fail: no"}},
			patches: []Patch{{Op: "replace", Path: "/spec/containers/0/image", Value: "a@sha256:1"},
				{Op: "replace", Path: "/spec/containers/1/image", Value: "b@sha256:3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(set, tc.results)
			want := Decision{Allowed: tc.allowed, Message: tc.message, Warnings: tc.warnings, Events: tc.events, Blocked: tc.blocked, Patches: tc.patches}
			if !reflect.DeepEqual(d, want) {
				t.Fatalf("Decide =\n\t%#v\nwant\n\t%#v", d, want)
			}
		})
	}
}

func TestDecideFailed(t *testing.T) {
	t.Parallel()
	err := errors.New("context deadline exceeded")
	audit := Result{Policy: "a", PolicyKind: KindClusterPolicy, Rule: "r", Resource: pod, Status: StatusFail, Message: "bad"}

	// An enforcing policy could apply to Pods: deny as an internal error.
	set := loadSet(t, decidePolicies)
	d := DecideFailed(set, "Pod", pod, []Result{audit}, err)
	if d.Allowed || !d.EvaluationFailed || d.Message != "resource Pod/ns/web was blocked: policy evaluation error: context deadline exceeded" ||
		!reflect.DeepEqual(d.Blocked, []string{BlockedEvaluationError}) || !reflect.DeepEqual(d.Warnings, []string{"a/r: bad"}) || d.Events != nil {
		t.Fatalf("fail closed: %#v", d)
	}
	// A denial by the results evaluated stands.
	enforced := audit
	enforced.Enforce = true
	if d := DecideFailed(set, "Pod", pod, []Result{enforced}, err); d.Allowed || d.EvaluationFailed || !strings.Contains(d.Message, "a:\n  r: bad") {
		t.Fatalf("denied by a rule: %#v", d)
	}
	// Nothing enforcing applies to ConfigMaps: admit with a warning and the events.
	set = loadSet(t, strings.Split(decidePolicies, "---")[0])
	d = DecideFailed(set, "ConfigMap", Resource{Kind: "ConfigMap", Name: "c"}, []Result{audit}, err)
	if !d.Allowed || d.EvaluationFailed || !reflect.DeepEqual(d.Warnings, []string{"a/r: bad", "policy evaluation error: context deadline exceeded"}) || len(d.Events) != 1 {
		t.Fatalf("fail open: %#v", d)
	}
}

func TestFailClosed(t *testing.T) {
	t.Parallel()
	if !FailClosed(loadSet(t, decidePolicies), "Pod") {
		t.Error("enforcing ClusterPolicy on Pods: want fail closed")
	}
	audit := loadSet(t, strings.ReplaceAll(strings.Split(decidePolicies, "---")[0], "Enforce", "Audit"))
	if FailClosed(audit, "Pod") {
		t.Error("audit policy: want fail open")
	}
	cips := func(mode string) string {
		return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: c}
spec:
  mode: ` + mode + `
  images: [{glob: "**"}]
  authorities: [{static: {action: pass}}]
`
	}
	if !FailClosed(loadSet(t, cips("enforce")), "Deployment") {
		t.Error("enforce ClusterImagePolicy, Deployment: want fail closed")
	}
	if FailClosed(loadSet(t, cips("enforce")), "ConfigMap") {
		t.Error("ClusterImagePolicy, ConfigMap (no pod spec): want fail open")
	}
	if FailClosed(loadSet(t, cips("warn")), "Pod") {
		t.Error("warn ClusterImagePolicy: want fail open")
	}
}

func TestDecideMergesAuditAnnotations(t *testing.T) {
	t.Parallel()
	failure := func(binding string) string {
		return `{"` + ValidationFailureAnnotation + `":"[{\"message\":\"m\",\"policy\":\"p\",\"binding\":\"` + binding +
			`\",\"expressionIndex\":0,\"validationActions\":[\"Audit\"]}]","p/k":"` + binding + `"}`
	}
	results := []Result{
		{Policy: "p", PolicyKind: KindValidatingAdmissionPolicy, Rule: "a", Status: StatusFail, AuditAnnotations: failure("a")},
		{Policy: "p", PolicyKind: KindValidatingAdmissionPolicy, Rule: "b", Status: StatusFail, AuditAnnotations: failure("b")},
		{Policy: "q", PolicyKind: KindValidatingAdmissionPolicy, Rule: "c", Status: StatusPass, AuditAnnotations: "not json"},
	}
	d := Decide(loadSet(t, decidePolicies), results)
	var fs []ValidationFailure
	if err := json.Unmarshal([]byte(d.AuditAnnotations[ValidationFailureAnnotation]), &fs); err != nil || len(fs) != 2 || fs[0].Binding != "a" || fs[1].Binding != "b" {
		t.Fatalf("merged failures = %+v (%v)", fs, err)
	}
	if d.AuditAnnotations["p/k"] != "a" || len(d.AuditAnnotations) != 2 {
		t.Errorf("audit annotations = %v; the first value of a key wins, an undecodable one is dropped", d.AuditAnnotations)
	}
}
