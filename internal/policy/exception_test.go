package policy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const goodException = `apiVersion: kyverno.io/v2
kind: PolicyException
metadata:
  name: allow-debug
  namespace: exceptions
spec:
  exceptions:
  - policyName: disallow-*
    ruleNames: [host-namespaces, autogen-host-namespaces]
  match:
    any:
    - resources:
        kinds: [Pod, Deployment]
        names: [debug-*]
  conditions:
    any:
    - key: "{{ request.object.metadata.labels.app || '' }}"
      operator: Equals
      value: debug
  podSecurity:
  - controlName: Host Namespaces
  - controlName: Capabilities
    images: [nginx*]
`

func TestLoadPolicyException(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"kyverno.io/v2", "kyverno.io/v2beta1"} {
		data := "apiVersion: " + version + goodException[len("apiVersion: kyverno.io/v2"):]
		set, err := LoadBytes("exc.yaml", []byte(data), Options{})
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if len(set.Exceptions) != 1 || set.Len() != 0 {
			t.Fatalf("%s: %d exceptions, Len %d; want 1 exception and no policy", version, len(set.Exceptions), set.Len())
		}
		x := set.Exceptions[0]
		if x.Key() != "exceptions/allow-debug" || len(x.PodSecurity) != 2 || !x.Background() {
			t.Errorf("%s: exception %s, %d podSecurity controls, background %v", version, x.Key(), len(x.PodSecurity), x.Background())
		}
		for _, c := range []struct {
			policy, rule string
			want         bool
		}{
			{"disallow-host-namespaces", "host-namespaces", true},
			{"disallow-host-namespaces", "autogen-host-namespaces", true},
			{"disallow-host-namespaces", "autogen-cronjob-host-namespaces", false},
			{"require-labels", "host-namespaces", false},
			{"team/disallow-x", "host-namespaces", false}, // a Policy is named namespace/name
		} {
			if got := x.Covers(c.policy, c.rule); got != c.want {
				t.Errorf("Covers(%s, %s) = %v, want %v", c.policy, c.rule, got, c.want)
			}
		}
		// Every subset of the set keeps the exceptions.
		if got := set.Select(func(string, string) bool { return false }); len(got.Exceptions) != 1 {
			t.Errorf("Select dropped the exceptions")
		}
	}
}

func TestLoadCELPolicyException(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"v1alpha1", "v1beta1", "v1"} {
		set, err := LoadBytes("exc.yaml", []byte(`apiVersion: policies.kyverno.io/`+version+`
kind: PolicyException
metadata:
  name: allow-debug
  namespace: exceptions
spec:
  policyRefs:
  - name: no-host-network
    kind: ValidatingPolicy
  matchConditions:
  - name: debug
    expression: "object.metadata.name.startsWith('debug-')"
`), Options{})
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		x := set.Exceptions[0]
		if !x.CoversPolicy("ValidatingPolicy", "no-host-network") || x.CoversPolicy("ValidatingPolicy", "other") || x.Program == nil {
			t.Errorf("%s: exception does not cover its policy or has no program", version)
		}
		if got := set.CELExceptionsFor("ValidatingPolicy", "no-host-network"); len(got) != 1 {
			t.Errorf("%s: CELExceptionsFor = %d, want 1", version, len(got))
		}
	}
}

func TestCELExceptionExpiry(t *testing.T) {
	t.Parallel()
	at := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	set, err := LoadBytes("exc.yaml", []byte(`apiVersion: policies.kyverno.io/v1
kind: PolicyException
metadata: {name: e, namespace: x}
spec:
  expiresAt: "2026-01-01T00:00:00Z"
  policyRefs: [{name: p, kind: ValidatingPolicy}]
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := set.Exceptions[0]
	if x.Expired(at.Add(-time.Second)) || !x.Expired(at.Time) {
		t.Errorf("expiry at %s not honoured", at)
	}
}

// excHead starts an invalid kyverno.io/v2 exception of the error tables; excRule adds the
// exception of rule r of policy p for Pods, for cases that break what follows.
const (
	excHead = "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {name: e, namespace: x}\nspec:\n"
	excRule = excHead + "  exceptions:\n  - policyName: p\n    ruleNames: [r]\n  match:\n    any:\n    - resources: {kinds: [Pod]}\n"
)

func TestLoadPolicyExceptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want []wantErr
	}{
		{
			name: "unknown field with the nearest name",
			data: excHead + `  exceptions:
  - policyName: p
    ruleName: [r]
  match:
    any:
    - resources: {kinds: [Pod]}
`,
			want: []wantErr{{field: "spec.exceptions[0].ruleName", policy: "e", msg: "did you mean ruleNames"}},
		},
		{
			name: "no policy named",
			data: excHead + `  exceptions:
  - ruleNames: [r]
  match:
    any:
    - resources: {kinds: [Pod]}
`,
			want: []wantErr{{field: "spec.exceptions[0].policyName", policy: "e", msg: "requires a policy name"}},
		},
		{
			name: "bad match",
			data: excHead + `  exceptions:
  - policyName: p
    ruleNames: [r]
  match:
    any:
    - resources:
        kinds: [Pod]
        operations: [PATCH]
`,
			want: []wantErr{{field: "spec.match.any[0].resources.operations[0]", policy: "e", msg: "unknown operation"}},
		},
		{
			name: "user info in a background exception",
			data: excRule + `      subjects: [{kind: User, name: alice}]
`,
			want: []wantErr{{field: "spec.match.any[0]", policy: "e", msg: "not allowed when background is true"}},
		},
		{
			name: "unknown podSecurity control",
			data: excRule + `  podSecurity:
  - controlName: Host Namespace
`,
			want: []wantErr{{field: "spec.podSecurity[0]", policy: "e", msg: "invalid podSecurity control", err: `unknown control "Host Namespace"`}},
		},
		{
			name: "container control without images",
			data: excRule + `  podSecurity:
  - controlName: Capabilities
`,
			want: []wantErr{{field: "spec.podSecurity[0]", policy: "e", msg: "invalid podSecurity control", err: "images: required"}},
		},
		{
			name: "bad condition operator",
			data: excRule + `  conditions:
    any:
    - key: a
      operator: Equalz
      value: b
`,
			want: []wantErr{{field: "spec.conditions.any[0].operator", policy: "e", msg: "unknown operator"}},
		},
		{
			name: "unserved apiVersion",
			data: `apiVersion: kyverno.io/v2alpha1
kind: PolicyException
metadata: {name: e, namespace: x}
spec: {}
`,
			want: []wantErr{{field: "apiVersion", policy: "e", msg: "unsupported apiVersion"}},
		},
		{
			name: "CEL exception: unknown kind and bad expression",
			data: `apiVersion: policies.kyverno.io/v1beta1
kind: PolicyException
metadata: {name: e, namespace: x}
spec:
  policyRefs:
  - name: p
    kind: ValidatingPolicies
  matchConditions:
  - name: c
    expression: "object.metadata.name +"
`,
			want: []wantErr{
				{field: "spec.policyRefs[0].kind", policy: "e", msg: "unknown policy kind"},
				{field: "spec.matchConditions[0].expression", policy: "e", msg: ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, es := loadErrors(t, "exc.yaml", tt.data, Options{})
			if len(es) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:%s", len(es), len(tt.want), formatErrs(es))
			}
			for i, w := range tt.want {
				if w.field == "spec.matchConditions[0].expression" {
					if es[i].Field != w.field || es[i].Policy != w.policy {
						t.Errorf("error %d = %+v [field=%s], want field %s", i, es[i], es[i].Field, w.field)
					}
					continue
				}
				if !w.matches(es[i]) {
					t.Errorf("error %d = %v [field=%s], want %+v", i, es[i], es[i].Field, w)
				}
			}
			if len(set.Exceptions) != 0 {
				t.Errorf("an invalid exception was loaded")
			}
			if es[0].Line == 0 {
				t.Errorf("error has no line: %v", es[0])
			}
		})
	}
}
