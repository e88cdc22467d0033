package engine

import (
	"strings"
	"testing"
)

// hostNSException is the body of an exception of disallow-host-namespaces's
// host-namespaces rule for every Pod; cases append conditions or podSecurity.
const hostNSException = `
  exceptions:
  - policyName: disallow-host-namespaces
    ruleNames: [host-namespaces]
  match:
    any:
    - resources:
        kinds: [Pod]`

// exceptionPolicies are a ClusterPolicy with a pattern rule (and its
// autogen rules), a deny rule and a podSecurity rule, and a namespaced
// Policy: the rules PolicyExceptions name in these tests.
const exceptionPolicies = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: disallow-host-namespaces
spec:
  validationFailureAction: Enforce
  rules:
  - name: host-namespaces
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: Sharing the host namespaces is disallowed.
      pattern:
        spec:
          =(hostNetwork): "false"
  - name: no-latest
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: no latest tag
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: Equals
            value: "*:latest"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: psa
spec:
  validationFailureAction: Enforce
  rules:
  - name: restricted
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      podSecurity:
        level: baseline
        version: latest
---
apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: team-rule
  namespace: team
spec:
  validationFailureAction: Enforce
  rules:
  - name: host-namespaces
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: no host network
      pattern:
        spec:
          =(hostNetwork): "false"
`

// badPod breaks host-namespaces (hostNetwork), no-latest (a latest
// image) and the baseline podSecurity controls Host Namespaces and
// Privileged Containers.
const badPod = `
apiVersion: v1
kind: Pod
metadata:
  name: debug-tool
  namespace: %s
  labels:
    app: debug
spec:
  hostNetwork: true
  containers:
  - name: c
    image: nginx:latest
    securityContext:
      privileged: true
`

func badPodIn(t *testing.T, ns string) map[string]any {
	return resource(t, strings.Replace(badPod, "%s", ns, 1))
}

func resultOf(t *testing.T, results []Result, policy, rule string) Result {
	t.Helper()
	for _, r := range results {
		if r.Policy == policy && r.Rule == rule {
			return r
		}
	}
	t.Fatalf("no result for %s/%s in %+v", policy, rule, results)
	return Result{}
}

func TestPolicyExceptionExemptsNamedRule(t *testing.T) {
	tests := []struct {
		name      string
		exception string
		ns        string
		in        func(*Input)
		// want maps "policy/rule" to the expected status.
		want map[string]Status
	}{
		{
			name: "named rule skipped, other rules still fail",
			exception: hostNSException + `
        names: [debug-*]`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusSkip, "disallow-host-namespaces/no-latest": StatusFail, "psa/restricted": StatusFail},
		},
		{
			name: "wildcard policy and rule names",
			exception: `
  exceptions:
  - policyName: disallow-*
    ruleNames: ["*"]
  match:
    any:
    - resources:
        kinds: [Pod]`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusSkip, "disallow-host-namespaces/no-latest": StatusSkip, "psa/restricted": StatusFail},
		},
		{
			name: "match does not select the resource",
			exception: hostNSException + `
        namespaces: [tools]`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusFail},
		},
		{
			name: "match all: every filter must select",
			exception: `
  exceptions:
  - policyName: disallow-host-namespaces
    ruleNames: [host-namespaces]
  match:
    all:
    - resources:
        kinds: [Pod]
    - resources:
        selector:
          matchLabels:
            app: other`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusFail},
		},
		{
			name: "conditions hold",
			exception: hostNSException + `
  conditions:
    any:
    - key: "{{ request.object.metadata.labels.app || '' }}"
      operator: Equals
      value: debug`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusSkip},
		},
		{
			name: "conditions do not hold",
			exception: hostNSException + `
  conditions:
    all:
    - key: "{{ request.object.metadata.labels.app || '' }}"
      operator: Equals
      value: web`,
			ns:   "default",
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusFail},
		},
		{
			name: "a namespaced Policy is named namespace/name",
			exception: `
  exceptions:
  - policyName: team/team-rule
    ruleNames: [host-namespaces]
  match:
    any:
    - resources:
        kinds: [Pod]`,
			ns:   "team",
			want: map[string]Status{"team/team-rule/host-namespaces": StatusSkip, "disallow-host-namespaces/host-namespaces": StatusFail},
		},
		{
			name: "background: false does not apply in background scans",
			exception: `
  background: false
  exceptions:
  - policyName: disallow-host-namespaces
    ruleNames: [host-namespaces]
  match:
    any:
    - resources:
        kinds: [Pod]`,
			ns:   "default",
			in:   func(in *Input) { in.Background = true },
			want: map[string]Status{"disallow-host-namespaces/host-namespaces": StatusFail},
		},
		{
			name: "podSecurity controls: the excluded control passes, the others still fail",
			exception: `
  exceptions:
  - policyName: psa
    ruleNames: [restricted]
  match:
    any:
    - resources:
        kinds: [Pod]
  podSecurity:
  - controlName: Host Namespaces`,
			ns:   "default",
			want: map[string]Status{"psa/restricted": StatusFail},
		},
		{
			name: "podSecurity controls: every failing control excluded",
			exception: `
  exceptions:
  - policyName: psa
    ruleNames: [restricted]
  match:
    any:
    - resources:
        kinds: [Pod]
  podSecurity:
  - controlName: Host Namespaces
  - controlName: Privileged Containers
    images: [nginx*]`,
			ns:   "default",
			want: map[string]Status{"psa/restricted": StatusSkip},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := loadSet(t, exceptionPolicies+`
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: allow-debug
  namespace: exceptions
spec:`+tt.exception)
			if len(set.Exceptions) != 1 {
				t.Fatalf("loaded %d exceptions, want 1", len(set.Exceptions))
			}
			in := Input{Resource: badPodIn(t, tt.ns)}
			if tt.in != nil {
				tt.in(&in)
			}
			results := evaluate(t, set, in)
			for key, want := range tt.want {
				i := strings.LastIndexByte(key, '/')
				got := resultOf(t, results, key[:i], key[i+1:])
				if got.Status != want {
					t.Errorf("%s: status %s (%s), want %s", key, got.Status, got.Message, want)
				}
				if want == StatusSkip {
					if !strings.Contains(got.Message, "due to policy exception") || !strings.Contains(got.Message, "exceptions/allow-debug") || got.Exceptions != "exceptions/allow-debug" {
						t.Errorf("%s: message %q, exceptions %q: want the exception named", key, got.Message, got.Exceptions)
					}
				} else if got.Exceptions != "" {
					t.Errorf("%s: Exceptions = %q on a result no exception exempted", key, got.Exceptions)
				}
			}
		})
	}
}

// TestPolicyExceptionPodSecurityPartialMessage checks that a podSecurity
// rule failing after an exception's exclusions names only the controls
// left, as Kyverno does.
func TestPolicyExceptionPodSecurityPartialMessage(t *testing.T) {
	set := loadSet(t, exceptionPolicies+`
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: allow-hostnet
  namespace: exceptions
spec:
  exceptions:
  - policyName: psa
    ruleNames: [restricted]
  match:
    any:
    - resources:
        kinds: [Pod]
  podSecurity:
  - controlName: Host Namespaces
`)
	got := resultOf(t, evaluate(t, set, Input{Resource: badPodIn(t, "default")}), "psa", "restricted")
	if got.Status != StatusFail {
		t.Fatalf("status %s, want fail", got.Status)
	}
	if strings.Contains(got.Message, "hostNetwork") || !strings.Contains(got.Message, "privileged") {
		t.Errorf("message %q: want the privileged failure only", got.Message)
	}
}

// TestPolicyExceptionAutogenRuleNames: Kyverno matches rule names
// literally (with wildcards), so an exception naming the Pod rule does not
// exempt a Deployment's autogen rule; one naming autogen-<rule> does.
func TestPolicyExceptionAutogenRuleNames(t *testing.T) {
	deploy := resource(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: debug
  namespace: default
spec:
  selector:
    matchLabels: {app: debug}
  template:
    metadata:
      labels: {app: debug}
    spec:
      hostNetwork: true
      containers:
      - name: c
        image: nginx:1.25
`)
	for _, tt := range []struct {
		rules string
		want  Status
	}{
		{"[host-namespaces]", StatusFail},
		{"[host-namespaces, autogen-host-namespaces]", StatusSkip},
		{`["*host-namespaces"]`, StatusSkip},
	} {
		t.Run(tt.rules, func(t *testing.T) {
			set := loadSet(t, exceptionPolicies+`
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: allow-debug
  namespace: exceptions
spec:
  exceptions:
  - policyName: disallow-host-namespaces
    ruleNames: `+tt.rules+`
  match:
    any:
    - resources:
        kinds: [Pod, Deployment]
`)
			got := resultOf(t, evaluate(t, set, Input{Resource: deploy}), "disallow-host-namespaces", "autogen-host-namespaces")
			if got.Status != tt.want {
				t.Errorf("status %s (%s), want %s", got.Status, got.Message, tt.want)
			}
		})
	}
}

// TestPolicyExceptionValidatingPolicy: a policies.kyverno.io exception
// names a ValidatingPolicy by policyRefs; its matchConditions select the
// requests exempted.
func TestPolicyExceptionValidatingPolicy(t *testing.T) {
	const vpol = `
apiVersion: policies.kyverno.io/v1beta1
kind: ValidatingPolicy
metadata:
  name: no-host-network
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  validations:
  - expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork"
    message: no host network
---
apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata:
  name: allow-debug
  namespace: exceptions
spec:
  policyRefs:
  - name: no-host-network
    kind: ValidatingPolicy
  matchConditions:
  - name: debug-only
    expression: "object.metadata.name.startsWith('debug-')"
`
	set := loadSet(t, vpol)
	got := only(t, evaluate(t, set, Input{Resource: badPodIn(t, "default")}))
	if got.Status != StatusSkip || got.Message != "rule is skipped due to policy exception: exceptions/allow-debug" || got.Exceptions != "exceptions/allow-debug" {
		t.Errorf("excepted pod: %+v", got)
	}
	other := badPodIn(t, "default")
	other["metadata"].(map[string]any)["name"] = "web"
	if got := only(t, evaluate(t, set, Input{Resource: other})); got.Status != StatusFail {
		t.Errorf("pod the exception does not select: %s (%s), want fail", got.Status, got.Message)
	}
	pass := loadSet(t, strings.Replace(vpol, "  policyRefs:", "  reportResult: pass\n  policyRefs:", 1))
	if got := only(t, evaluate(t, pass, Input{Resource: badPodIn(t, "default")})); got.Status != StatusPass || got.Message != "rule is passed due to policy exception: exceptions/allow-debug" {
		t.Errorf("reportResult pass: %+v", got)
	}
}

// TestPolicyExceptionVerifyImages: an excepted verifyImages rule gives one
// skip result and verifies nothing.
func TestPolicyExceptionVerifyImages(t *testing.T) {
	set := loadSet(t, `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: signed
spec:
  validationFailureAction: Enforce
  rules:
  - name: check-signature
    match:
      any:
      - resources:
          kinds: [Pod]
    verifyImages:
    - imageReferences: ["*"]
      attestors:
      - entries:
        - keys:
            publicKeys: |-
              -----BEGIN PUBLIC KEY-----
              MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETRmoOjanyFg0fjRdxZNv8q4PjMUr
              9l74iJRG64SiefiuofVQFemB0BLtCv35ozfH43NjbuG9qAl8qA/z48M3dw==
              -----END PUBLIC KEY-----
---
apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: unsigned-debug
  namespace: exceptions
spec:
  exceptions:
  - policyName: signed
    ruleNames: [check-signature]
  match:
    any:
    - resources:
        kinds: [Pod]
        names: [debug-*]
`)
	got := only(t, evaluate(t, set, Input{Resource: badPodIn(t, "default")}))
	if got.Status != StatusSkip || got.Message != MsgException+"exceptions/unsigned-debug" {
		t.Errorf("excepted verifyImages rule: %+v", got)
	}
}
