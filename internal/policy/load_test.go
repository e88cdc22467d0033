package policy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goodPolicy returns a valid ClusterPolicy document named name.
func goodPolicy(name string) string {
	return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ` + name + `
spec:
  rules:
  - name: ok
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    validate:
      message: ok
      pattern:
        metadata:
          name: "?*"
`
}

// badRule wraps rules (YAML list items indented by two spaces, as they
// appear under spec.rules) in a ClusterPolicy named "bad".
func badRule(rules string) string {
	return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: bad
spec:
  rules:
` + rules
}

// wantErr describes one expected *Error. Msg and Err are substrings of
// Error.Msg and of Error.Err's text ("" for Err means Err must be nil).
type wantErr struct {
	field, policy, rule, msg, err string
}

func (w wantErr) matches(e *Error) bool {
	if e.Field != w.field || e.Policy != w.policy || e.Rule != w.rule || !strings.Contains(e.Msg, w.msg) {
		return false
	}
	if w.err == "" {
		return e.Err == nil
	}
	return e.Err != nil && strings.Contains(e.Err.Error(), w.err)
}

func formatErrs(es []*Error) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString("\n\t")
		b.WriteString(e.Error())
		b.WriteString(" [field=" + e.Field + " rule=" + e.Rule + "]")
	}
	return b.String()
}

// loadErrors loads data and returns the set and the problems, failing the
// test unless err is a policy.Errors.
func loadErrors(t *testing.T, source, data string, opts Options) (*Set, Errors) {
	t.Helper()
	set, err := LoadBytes(source, []byte(data), opts)
	if err == nil {
		return set, nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("LoadBytes error is %T (%v), want policy.Errors", err, err)
	}
	var one *Error
	if !errors.As(err, &one) {
		t.Fatalf("errors.As(*Error) failed on %v", err)
	}
	return set, es
}

func policyNames(s *Set) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, p := range s.Policies {
		out = append(out, p.Key())
	}
	return out
}

func TestLoadBytesErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		doc  string // the faulty document, loaded as document 2 of 3
		want []wantErr
	}{
		{
			name: "bad YAML syntax",
			doc:  "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken\nspec: [\n",
			want: []wantErr{{msg: "cannot parse document", err: "invalid YAML"}},
		},
		{
			name: "document not a mapping",
			doc:  "- apiVersion: kyverno.io/v1\n- kind: ClusterPolicy\n",
			want: []wantErr{{msg: "cannot parse document", err: "document is a list, want a mapping"}},
		},
		{
			name: "policy without name",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "metadata.name", msg: "policy has no name"}},
		},
		{
			name: "policy without spec",
			doc:  "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: bad}\n",
			want: []wantErr{{field: "spec", policy: "bad", msg: "policy has no spec"}},
		},
		{
			name: "policy without rules",
			doc:  "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: bad}\nspec:\n  rules: []\n",
			want: []wantErr{{field: "spec.rules", policy: "bad", msg: "policy has no rules"}},
		},
		{
			name: "rule is not a mapping",
			doc:  badRule("  - just-a-string\n"),
			want: []wantErr{
				{field: "spec.rules[0]", policy: "bad", msg: "want an object, got a string"},
			},
		},
		{
			name: "rule without name",
			doc: badRule(`  - match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].name", policy: "bad", msg: "rule has no name"}},
		},
		{
			name: "rule name too long",
			doc: badRule(`  - name: ` + strings.Repeat("r", 64) + `
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].name", policy: "bad", rule: strings.Repeat("r", 64), msg: "longer than 63"}},
		},
		{
			name: "duplicate rule names",
			doc: badRule(`  - name: twice
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
  - name: twice
    match: {any: [{resources: {kinds: [Secret]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[1].name", policy: "bad", rule: "twice", msg: "duplicate rule name"}},
		},
		{
			name: "rule without body",
			doc: badRule(`  - name: nobody
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
`),
			want: []wantErr{{field: "spec.rules[0]", policy: "bad", rule: "nobody", msg: "rule has no validate, mutate, generate or verifyImages body"}},
		},
		{
			name: "rule with two bodies",
			doc: badRule(`  - name: both
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
    mutate: {patchStrategicMerge: {metadata: {labels: {a: b}}}}
`),
			want: []wantErr{{field: "spec.rules[0]", policy: "bad", rule: "both", msg: "more than one of validate, mutate, generate and verifyImages"}},
		},
		{
			name: "empty validate body",
			doc: badRule(`  - name: empty
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {}
`),
			want: []wantErr{{field: "spec.rules[0].validate", policy: "bad", rule: "empty", msg: "validate has no pattern, anyPattern, deny"}},
		},
		{
			name: "validate with message only",
			doc: badRule(`  - name: msgonly
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: hello}
`),
			want: []wantErr{{field: "spec.rules[0].validate", policy: "bad", rule: "msgonly", msg: "validate has no pattern"}},
		},
		{
			name: "validate with two bodies",
			doc: badRule(`  - name: two
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {name: "?*"}}
      deny: {conditions: {any: [{key: a, operator: Equals, value: a}]}}
`),
			want: []wantErr{{field: "spec.rules[0].validate", policy: "bad", rule: "two", msg: "validate must have exactly one of"}},
		},
		{
			name: "anyPattern not a list",
			doc: badRule(`  - name: anyp
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern: {metadata: {name: "?*"}}
`),
			want: []wantErr{{field: "spec.rules[0].validate.anyPattern", policy: "bad", rule: "anyp", msg: "non-empty list"}},
		},
		{
			name: "unknown operator in preconditions",
			doc: badRule(`  - name: pre
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      all:
      - key: "{{ request.operation }}"
        operator: Matches
        value: CREATE
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].preconditions.all[0].operator", policy: "bad", rule: "pre", msg: `unknown operator "Matches"`}},
		},
		{
			name: "operator in wrong case in preconditions",
			doc: badRule(`  - name: pre
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
    - key: "{{ request.operation }}"
      operator: equals
      value: CREATE
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].preconditions[0].operator", policy: "bad", rule: "pre", msg: `unknown operator "equals"`}},
		},
		{
			name: "condition without operator",
			doc: badRule(`  - name: pre
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      any:
      - key: a
        value: a
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].preconditions.any[0].operator", policy: "bad", rule: "pre", msg: "condition has no operator"}},
		},
		{
			name: "unknown field in preconditions block",
			doc: badRule(`  - name: pre
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      one:
      - {key: a, operator: Equals, value: a}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].preconditions.one", policy: "bad", rule: "pre", msg: "unknown field (want any or all)"}},
		},
		{
			name: "unknown operator in deny conditions",
			doc: badRule(`  - name: deny
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
          any:
          - {key: a, operator: Equals, value: a}
          - {key: a, operator: IsIn, value: [a]}
`),
			want: []wantErr{{field: "spec.rules[0].validate.deny.conditions.any[1].operator", policy: "bad", rule: "deny", msg: `unknown operator "IsIn"`}},
		},
		{
			name: "unknown operator in foreach deny",
			doc: badRule(`  - name: fe
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      foreach:
      - list: "request.object.data"
        deny:
          conditions:
            all:
            - {key: "{{ element }}", operator: Contains, value: x}
`),
			want: []wantErr{{field: "spec.rules[0].validate.foreach[0].deny.conditions.all[0].operator", policy: "bad", rule: "fe", msg: `unknown operator "Contains"`}},
		},
		{
			name: "malformed condition anchor",
			doc: badRule(`  - name: pat
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        metadata:
          (name: "?*"
`),
			want: []wantErr{{field: "spec.rules[0].validate.pattern", policy: "bad", rule: "pat", msg: "invalid pattern", err: `/metadata/(name: malformed anchor "(name": missing closing parenthesis`}},
		},
		{
			name: "malformed negation anchor",
			doc: badRule(`  - name: pat
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        data:
          X(: "null"
`),
			want: []wantErr{{field: "spec.rules[0].validate.pattern", policy: "bad", rule: "pat", msg: "invalid pattern", err: `/data/X(: malformed anchor "X("`}},
		},
		{
			name: "bad range",
			doc: badRule(`  - name: pat
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        spec:
          replicas: "5-1"
`),
			want: []wantErr{{field: "spec.rules[0].validate.pattern", policy: "bad", rule: "pat", msg: "invalid pattern", err: `/spec/replicas: invalid range "5-1": lower bound exceeds upper bound`}},
		},
		{
			name: "less-than with a non-number",
			doc: badRule(`  - name: pat
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        spec:
          replicas: "<abc"
`),
			want: []wantErr{{field: "spec.rules[0].validate.pattern", policy: "bad", rule: "pat", msg: "invalid pattern", err: `operator "<" in "<abc" needs a number`}},
		},
		{
			name: "invalid pattern in anyPattern",
			doc: badRule(`  - name: anyp
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern:
      - metadata: {name: "?*"}
      - metadata: {"=(name": "x"}
`),
			want: []wantErr{{field: "spec.rules[0].validate.anyPattern[1]", policy: "bad", rule: "anyp", msg: "invalid pattern", err: "/metadata/=(name"}},
		},
		{
			name: "invalid pattern in foreach",
			doc: badRule(`  - name: fe
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      foreach:
      - list: "request.object.spec.items"
        pattern: {value: ">=x"}
`),
			want: []wantErr{{field: "spec.rules[0].validate.foreach[0].pattern", policy: "bad", rule: "fe", msg: "invalid pattern", err: `operator ">="`}},
		},
		{
			name: "invalid JMESPath in message",
			doc: badRule(`  - name: msg
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "name {{ request.object.metadata.name[ }} is bad"
      pattern: {metadata: {name: "?*"}}
`),
			want: []wantErr{{field: "spec.rules[0].validate.message", policy: "bad", rule: "msg", msg: "invalid JMESPath in {{ request.object.metadata.name[ }}", err: "SyntaxError"}},
		},
		{
			name: "invalid JMESPath in pattern value",
			doc: badRule(`  - name: pat
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        metadata:
          name: "{{ request.object.metadata.(name }}"
`),
			want: []wantErr{{field: "spec.rules[0].validate.pattern.metadata.name", policy: "bad", rule: "pat", msg: "invalid JMESPath in {{ request.object.metadata.(name }}", err: "SyntaxError"}},
		},
		{
			name: "invalid JMESPath in deny key",
			doc: badRule(`  - name: deny
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
          all:
          - key: "{{ request.object.data.[[ }}"
            operator: Equals
            value: x
`),
			want: []wantErr{{field: "spec.rules[0].validate.deny.conditions.all[0].key", policy: "bad", rule: "deny", msg: "invalid JMESPath in {{ request.object.data.[[ }}", err: "SyntaxError"}},
		},
		{
			name: "invalid JMESPath in foreach list",
			doc: badRule(`  - name: fe
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      foreach:
      - list: "request.object.spec.containers[?"
        pattern: {name: "?*"}
`),
			want: []wantErr{{field: "spec.rules[0].validate.foreach[0].list", policy: "bad", rule: "fe", msg: "invalid JMESPath", err: `invalid JMESPath expression "request.object.spec.containers[?"`}},
		},
		{
			name: "foreach without list",
			doc: badRule(`  - name: fe
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      foreach:
      - pattern: {name: "?*"}
`),
			want: []wantErr{{field: "spec.rules[0].validate.foreach[0].list", policy: "bad", rule: "fe", msg: "foreach needs a list expression"}},
		},
		{
			name: "invalid JMESPath in context variable",
			doc: badRule(`  - name: ctx
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: ok
      variable: {value: 1}
    - name: broken
      variable:
        jmesPath: "request.object.metadata.labels.|"
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].context[1].variable.jmesPath", policy: "bad", rule: "ctx", msg: "invalid JMESPath", err: `invalid JMESPath expression "request.object.metadata.labels.|"`}},
		},
		{
			name: "context entry without source",
			doc: badRule(`  - name: ctx
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: nothing
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].context[0]", policy: "bad", rule: "ctx", msg: "exactly one of variable, configMap"}},
		},
		{
			name: "empty kind",
			doc: badRule(`  - name: k
    match: {any: [{resources: {kinds: [""]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.kinds[0]", policy: "bad", rule: "k", msg: "invalid kind", err: "empty kind"}},
		},
		{
			name: "kind with too many parts",
			doc: badRule(`  - name: k
    match: {any: [{resources: {kinds: [ConfigMap, a/b/C/d/e]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.kinds[1]", policy: "bad", rule: "k", msg: "invalid kind", err: "too many parts"}},
		},
		{
			name: "lower-case kind",
			doc: badRule(`  - name: k
    match:
      resources:
        kinds: [pod]
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.resources.kinds[0]", policy: "bad", rule: "k", msg: "invalid kind", err: "upper-case"}},
		},
		{
			name: "kind with empty group part",
			doc: badRule(`  - name: k
    match: {all: [{resources: {kinds: [apps//Deployment]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.all[0].resources.kinds[0]", policy: "bad", rule: "k", msg: "invalid kind", err: "empty part"}},
		},
		{
			name: "invalid kind in exclude",
			doc: badRule(`  - name: k
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    exclude: {any: [{resources: {kinds: [configmap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].exclude.any[0].resources.kinds[0]", policy: "bad", rule: "k", msg: "invalid kind", err: "upper-case"}},
		},
		{
			name: "match with any and all",
			doc: badRule(`  - name: m
    match:
      any: [{resources: {kinds: [ConfigMap]}}]
      all: [{resources: {kinds: [ConfigMap]}}]
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match", policy: "bad", rule: "m", msg: "use either any or all, not both"}},
		},
		{
			name: "match with any and inline resources",
			doc: badRule(`  - name: m
    match:
      any: [{resources: {kinds: [ConfigMap]}}]
      resources: {kinds: [Secret]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match", policy: "bad", rule: "m", msg: "use either any/all or resources/subjects/roles, not both"}},
		},
		{
			name: "match with all and inline subjects",
			doc: badRule(`  - name: m
    match:
      all: [{resources: {kinds: [ConfigMap]}}]
      subjects: [{kind: User, name: alice}]
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match", policy: "bad", rule: "m", msg: "use either any/all or resources/subjects/roles, not both"}},
		},
		{
			name: "match with no kinds",
			doc: badRule(`  - name: m
    match:
      any:
      - resources: {names: [x]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.kinds", policy: "bad", rule: "m", msg: "match needs at least one kind"}},
		},
		{
			name: "empty match",
			doc: badRule(`  - name: m
    match: {}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match", policy: "bad", rule: "m", msg: "rule has no match block"}},
		},
		{
			name: "name and names together",
			doc: badRule(`  - name: m
    match: {any: [{resources: {kinds: [ConfigMap], name: a, names: [b]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources", policy: "bad", rule: "m", msg: "use either name or names"}},
		},
		{
			name: "unknown operation",
			doc: badRule(`  - name: m
    match: {any: [{resources: {kinds: [ConfigMap], operations: [CREATE, PATCH]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.operations[1]", policy: "bad", rule: "m", msg: `unknown operation "PATCH"`}},
		},
		{
			name: "unknown subject kind",
			doc: badRule(`  - name: m
    match:
      any:
      - resources: {kinds: [ConfigMap]}
        subjects: [{kind: Robot, name: r2d2}]
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].subjects[0].kind", policy: "bad", rule: "m", msg: `unknown subject kind "Robot"`}},
		},
		{
			name: "bad label selector operator",
			doc: badRule(`  - name: m
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          selector:
            matchExpressions:
            - {key: app, operator: Equals, values: [x]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.selector", policy: "bad", rule: "m", msg: "invalid label selector", err: `unknown operator "Equals"`}},
		},
		{
			name: "namespaceSelector In without values",
			doc: badRule(`  - name: m
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          namespaceSelector:
            matchExpressions:
            - {key: env, operator: In}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.namespaceSelector", policy: "bad", rule: "m", msg: "invalid label selector", err: "needs values"}},
		},
		{
			// A key the engine could never match would select nothing: a
			// silent pass (Kyverno's wildcards stay allowed, see below).
			name: "matchLabels key that is no label key",
			doc: badRule(`  - name: m
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          selector:
            matchLabels: {"bad key!": x, "app.kubernetes.io/*": "web-?"}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.selector", policy: "bad", rule: "m", msg: "invalid label selector", err: `matchLabels key "bad key!"`}},
		},
		{
			name: "matchExpressions value that is no label value",
			doc: badRule(`  - name: m
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          namespaceSelector:
            matchExpressions:
            - {key: env, operator: In, values: ["not a value!"]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].match.any[0].resources.namespaceSelector", policy: "bad", rule: "m", msg: "invalid label selector", err: `matchExpressions key "env"`}},
		},
		{
			name: "unknown validationFailureAction",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bad}
spec:
  validationFailureAction: Block
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "spec.validationFailureAction", policy: "bad", msg: `unknown failure action "Block"`}},
		},
		{
			name: "unknown rule failureAction",
			doc: badRule(`  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      failureAction: Deny
      pattern: {metadata: {name: "?*"}}
`),
			want: []wantErr{{field: "spec.rules[0].validate.failureAction", policy: "bad", rule: "r", msg: `unknown failure action "Deny"`}},
		},
		{
			name: "unknown failurePolicy",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bad}
spec:
  failurePolicy: Retry
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "spec.failurePolicy", policy: "bad", msg: `unknown failure policy "Retry"`}},
		},
		{
			name: "webhook settings out of range",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bad}
spec:
  webhookTimeoutSeconds: 0
  webhookConfiguration:
    failurePolicy: Sometimes
    timeoutSeconds: 45
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{
				{field: "spec.webhookTimeoutSeconds", policy: "bad", msg: "timeout 0 is out of range (want 1 to 30 seconds)"},
				{field: "spec.webhookConfiguration.failurePolicy", policy: "bad", msg: `unknown failure policy "Sometimes"`},
				{field: "spec.webhookConfiguration.timeoutSeconds", policy: "bad", msg: "timeout 45 is out of range"},
			},
		},
		{
			name: "webhook matchConditions that do not compile",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bad}
spec:
  webhookConfiguration:
    matchConditions:
    - {name: typo, expression: "object.metadata.name =="}
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "spec.webhookConfiguration.matchConditions[0].expression", policy: "bad", msg: "invalid CEL at 1:24", err: "Syntax error"}},
		},
		{
			name: "ValidatingPolicy webhook timeout out of range",
			doc: `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: bad}
spec:
  webhookConfiguration: {timeoutSeconds: 31}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  validations: [{expression: "true"}]
`,
			want: []wantErr{{field: "spec.webhookConfiguration.timeoutSeconds", policy: "bad", msg: "timeout 31 is out of range"}},
		},
		{
			name: "MutatingPolicy webhook timeout out of range",
			doc: `apiVersion: policies.kyverno.io/v1
kind: MutatingPolicy
metadata: {name: bad}
spec:
  webhookConfiguration: {timeoutSeconds: 0}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration: {expression: "Object{metadata: Object.metadata{labels: {'a': 'b'}}}"}
`,
			want: []wantErr{{field: "spec.webhookConfiguration.timeoutSeconds", policy: "bad", msg: "timeout 0 is out of range"}},
		},
		{
			name: "GeneratingPolicy webhook timeout out of range",
			doc: `apiVersion: policies.kyverno.io/v1
kind: GeneratingPolicy
metadata: {name: bad}
spec:
  webhookConfiguration: {timeoutSeconds: 60}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}]
  generate:
  - expression: 'generator.Apply(object.metadata.name, [{"kind": "ConfigMap"}])'
`,
			want: []wantErr{{field: "spec.webhookConfiguration.timeoutSeconds", policy: "bad", msg: "timeout 60 is out of range"}},
		},
		{
			name: "unknown applyRules",
			doc: `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: bad}
spec:
  applyRules: Some
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "spec.applyRules", policy: "bad", msg: `unknown value "Some"`}},
		},
		{
			name: "podSecurity unknown level",
			doc: badRule(`  - name: pss
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      podSecurity: {level: strict, version: latest}
`),
			// Reported once, not again for autogen-pss and autogen-cronjob-pss.
			want: []wantErr{{field: "spec.rules[0].validate.podSecurity", policy: "bad", rule: "pss", msg: "invalid podSecurity", err: `level "strict"`}},
		},
		{
			name: "podSecurity unknown version",
			doc: badRule(`  - name: pss
    match: {any: [{resources: {kinds: [Deployment]}}]}
    validate:
      podSecurity: {level: baseline, version: v2.x}
`),
			want: []wantErr{{field: "spec.rules[0].validate.podSecurity", policy: "bad", rule: "pss", msg: "invalid podSecurity", err: `version "v2.x"`}},
		},
		{
			name: "podSecurity unknown control",
			doc: badRule(`  - name: pss
    match: {any: [{resources: {kinds: [Deployment]}}]}
    validate:
      podSecurity:
        level: baseline
        version: latest
        exclude:
        - controlName: Teleportation
          images: ["*"]
`),
			want: []wantErr{{field: "spec.rules[0].validate.podSecurity", policy: "bad", rule: "pss", msg: "invalid podSecurity", err: "exclude[0]"}},
		},
		{
			name: "unknown rule field",
			doc: badRule(`  - name: typo
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validat: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{field: "spec.rules[0].validat", policy: "bad", rule: "typo", msg: "unknown field"}},
		},
		{
			name: "unknown validate field",
			doc: badRule(`  - name: typo
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      mesage: hi
      pattern: {metadata: {name: "?*"}}
`),
			want: []wantErr{{field: "spec.rules[0].validate.mesage", policy: "bad", rule: "typo", msg: "unknown field"}},
		},
		{
			name: "unknown condition field",
			doc: badRule(`  - name: typo
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
        - {key: a, operator: Equals, valeu: a}
`),
			want: []wantErr{{field: "spec.rules[0].validate.deny.conditions[0].valeu", policy: "bad", rule: "typo", msg: "unknown field"}},
		},
		{
			name: "schema mismatch",
			doc: badRule(`  - name: schema
    match: {any: [{resources: {kinds: ConfigMap}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`),
			want: []wantErr{{policy: "bad", rule: "schema", field: "spec.rules[0].match.any[0].resources.kinds", msg: "want a list, got a string"}},
		},
		{
			name: "unsupported apiVersion",
			doc: `apiVersion: kyverno.io/v9
kind: ClusterPolicy
metadata: {name: bad}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`,
			want: []wantErr{{field: "apiVersion", policy: "bad", msg: `unsupported apiVersion "kyverno.io/v9"`}},
		},
		{
			name: "unsupported policy kind",
			doc: `apiVersion: policies.kyverno.io/v1alpha1
kind: DeletingPolicy
metadata: {name: dpol}
spec:
  schedule: "* * * * *"
`,
			want: []wantErr{{field: "kind", policy: "dpol", msg: "policies.kyverno.io/v1alpha1 DeletingPolicy is not supported yet"}},
		},
		{
			name: "policy name used twice in one file",
			doc:  goodPolicy("good-a"),
			want: []wantErr{{field: "metadata.name", policy: "good-a", msg: "duplicate policy name, already defined in policies.yaml:1"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			input := goodPolicy("good-a") + "---\n" + tc.doc + "---\n" + goodPolicy("good-b")
			set, es := loadErrors(t, "policies.yaml", input, Options{})
			if len(es) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:%s", len(es), len(tc.want), formatErrs(es))
			}
			for _, w := range tc.want {
				found := false
				for _, e := range es {
					if w.matches(e) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("no error matches %+v; got:%s", w, formatErrs(es))
				}
			}
			for _, e := range es {
				if e.File != "policies.yaml" || e.Document != 2 {
					t.Errorf("error %q: File=%q Document=%d, want policies.yaml document 2", e, e.File, e.Document)
				}
				// Document 2 starts after good-a; the error is on its line
				// or below, and Error() names file:line.
				if first := strings.Count(goodPolicy("good-a"), "\n") + 2; e.Line < first {
					t.Errorf("error %q: Line=%d, want >= %d (document 2)", e, e.Line, first)
				}
				if want := fmt.Sprintf("policies.yaml:%d: ", e.Line); !strings.HasPrefix(e.Error(), want) {
					t.Errorf("Error() = %q, want it to start with %q", e.Error(), want)
				}
			}
			if got, want := policyNames(set), []string{"good-a", "good-b"}; !slices.Equal(got, want) {
				t.Errorf("loaded policies = %v, want %v", got, want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	e := &Error{File: "p.yaml", Document: 3, Policy: "pol", Rule: "r", Field: "spec.rules[0].match", Msg: "bad", Err: errors.New("cause")}
	want := `p.yaml (document 3): policy "pol": rule "r": spec.rules[0].match: bad: cause`
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(Errors{e}, e.Err) {
		t.Error("errors.Is does not see the cause through Errors")
	}
	if got := (&Error{Msg: "only"}).Error(); got != "only" {
		t.Errorf("Error() = %q, want %q", got, "only")
	}
	if AsErrors(nil) != nil {
		t.Error("AsErrors(nil) != nil")
	}
	if got := AsErrors(errors.New("plain")); len(got) != 1 || got[0].Msg != "plain" {
		t.Errorf("AsErrors(plain) = %v", got)
	}
}

func TestLoadMultipleErrorsInOneDocument(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "load", "three-problems.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	set, es := loadErrors(t, "three-problems.yaml", string(data), Options{})
	want := []wantErr{
		{field: "spec.validationFailureAction", policy: "three-problems", msg: `unknown failure action "Reject"`},
		{field: "spec.rules[0].match.any[0].resources.kinds[0]", policy: "three-problems", rule: "bad-kind", msg: "invalid kind", err: "upper-case"},
		{field: "spec.rules[1].validate.deny.conditions.any[0].operator", policy: "three-problems", rule: "bad-operator", msg: `unknown operator "Like"`},
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors, want %d:%s", len(es), len(want), formatErrs(es))
	}
	for _, w := range want {
		if !slices.ContainsFunc(es, w.matches) {
			t.Errorf("no error matches %+v; got:%s", w, formatErrs(es))
		}
	}
	if got, want := policyNames(set), []string{"still-good"}; !slices.Equal(got, want) {
		t.Errorf("loaded policies = %v, want %v", got, want)
	}
}

func TestLoadFilesErrors(t *testing.T) {
	t.Parallel()
	t.Run("duplicate policy names across files", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join("testdata", "load", "duplicate")
		set, err := LoadFiles([]string{dir}, Options{})
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("LoadFiles error = %v (%T), want policy.Errors", err, err)
		}
		if len(es) != 1 {
			t.Fatalf("got %d errors, want 1:%s", len(es), formatErrs(es))
		}
		e := es[0]
		first, second := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
		if e.File != second || e.Document != 2 || e.Policy != "require-labels" || e.Field != "metadata.name" ||
			!strings.Contains(e.Msg, "duplicate policy name, already defined in "+first+":1") {
			t.Errorf("unexpected error %+v", e)
		}
		if got, want := policyNames(set), []string{"other", "require-labels"}; !slices.Equal(got, want) {
			t.Errorf("loaded policies = %v, want %v", got, want)
		}
		if p := set.Policy("require-labels"); p == nil || p.File != first {
			t.Errorf("require-labels should come from %s, got %+v", first, p)
		}
	})
	t.Run("namespaced policies with the same name", func(t *testing.T) {
		t.Parallel()
		data := `apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: same, namespace: team-a}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: same, namespace: team-b}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: same}
spec:
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {pattern: {metadata: {name: "?*"}}}
`
		set, es := loadErrors(t, "ns.yaml", data, Options{})
		if len(es) != 0 {
			t.Fatalf("unexpected errors:%s", formatErrs(es))
		}
		if got, want := policyNames(set), []string{"same", "team-a/same", "team-b/same"}; !slices.Equal(got, want) {
			t.Errorf("loaded policies = %v, want %v", got, want)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		set, err := LoadFiles([]string{missing, filepath.Join("testdata", "load", "duplicate", "a.yaml")}, Options{})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Fatalf("LoadFiles error = %v, want one policy.Errors entry", err)
		}
		if es[0].File != missing || es[0].Msg != "cannot read policy path" || !errors.Is(es[0], os.ErrNotExist) {
			t.Errorf("unexpected error %+v", es[0])
		}
		if got, want := policyNames(set), []string{"require-labels"}; !slices.Equal(got, want) {
			t.Errorf("loaded policies = %v, want %v", got, want)
		}
	})
	t.Run("syntax error in one file", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(goodPolicy("fine")), 0o600); err != nil {
			t.Fatal(err)
		}
		broken := goodPolicy("first") + "---\nkind: [\n"
		if err := os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		set, err := LoadFiles([]string{dir}, Options{})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Fatalf("LoadFiles error = %v, want one policy.Errors entry", err)
		}
		e := es[0]
		if e.File != filepath.Join(dir, "b.yaml") || e.Document != 2 || e.Msg != "cannot parse document" {
			t.Errorf("unexpected error %+v", e)
		}
		// "kind: [" is on line 18 of the file (line 1 of document 2).
		if !strings.Contains(e.Error(), "b.yaml:18: cannot parse document") || e.Line != 18 {
			t.Errorf("Error() = %q", e.Error())
		}
		if got, want := policyNames(set), []string{"fine", "first"}; !slices.Equal(got, want) {
			t.Errorf("loaded policies = %v, want %v", got, want)
		}
	})
}

func TestLoadUnsupportedAndForeignDocuments(t *testing.T) {
	t.Parallel()
	data := `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: DeletingPolicy
metadata: {name: dpol}
spec: {}
---
apiVersion: kyverno.io/v2
kind: CleanupPolicy
metadata: {name: exc}
spec: {}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
` + goodPolicy("good")
	t.Run("reported by default", func(t *testing.T) {
		t.Parallel()
		set, es := loadErrors(t, "mixed.yaml", data, Options{})
		want := []wantErr{
			{field: "kind", policy: "dpol", msg: "DeletingPolicy is not supported yet"},
			{field: "kind", policy: "exc", msg: "CleanupPolicy is not supported yet"},
		}
		if len(es) != len(want) {
			t.Fatalf("got %d errors, want %d:%s", len(es), len(want), formatErrs(es))
		}
		for i, w := range want {
			if !w.matches(es[i]) {
				t.Errorf("error %d = %+v, want %+v", i, es[i], w)
			}
		}
		if es[0].Document != 2 || es[1].Document != 3 {
			t.Errorf("documents = %d, %d, want 2, 3", es[0].Document, es[1].Document)
		}
		if got := policyNames(set); !slices.Equal(got, []string{"good"}) {
			t.Errorf("loaded policies = %v, want [good]", got)
		}
		if len(set.Unsupported) != 0 {
			t.Errorf("Unsupported = %v, want none without SkipUnsupported", set.Unsupported)
		}
	})
	t.Run("skipped with SkipUnsupported", func(t *testing.T) {
		t.Parallel()
		set, err := LoadBytes("mixed.yaml", []byte(data), Options{SkipUnsupported: true})
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		want := []Unsupported{
			{File: "mixed.yaml", Kind: "DeletingPolicy", Name: "dpol"},
			{File: "mixed.yaml", Kind: "CleanupPolicy", Name: "exc"},
		}
		if !slices.Equal(set.Unsupported, want) {
			t.Errorf("Unsupported = %v, want %v", set.Unsupported, want)
		}
		if got := policyNames(set); !slices.Equal(got, []string{"good"}) {
			t.Errorf("loaded policies = %v, want [good]", got)
		}
	})
	t.Run("only foreign documents", func(t *testing.T) {
		t.Parallel()
		set, err := LoadBytes("cm.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n# comment only\n"), Options{})
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if set.Len() != 0 || set.NumRules() != 0 {
			t.Errorf("set = %d policies, %d rules, want empty", set.Len(), set.NumRules())
		}
	})
}

func TestLoadReader(t *testing.T) {
	t.Parallel()
	set, err := LoadReader("stdin", strings.NewReader(goodPolicy("from-reader")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := policyNames(set); !slices.Equal(got, []string{"from-reader"}) {
		t.Errorf("loaded policies = %v", got)
	}
	_, err = LoadReader("stdin", strings.NewReader("kind: ClusterPolicy\napiVersion: kyverno.io/v1\nmetadata: {name: x}\n"), Options{})
	es := AsErrors(err)
	if len(es) != 1 || es[0].File != "stdin" || es[0].Field != "spec" {
		t.Errorf("errors = %s", formatErrs(es))
	}
}

func TestLoadedPolicy(t *testing.T) {
	t.Parallel()
	data := `apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: team-policy
  annotations:
    policies.kyverno.io/scored: "false"
    policies.kyverno.io/severity: high
    policies.kyverno.io/category: Best Practices
    policies.kyverno.io/title: Team policy
spec:
  validationFailureAction: enforce
  rules:
  - name: audited
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      failureAction: Audit
      pattern: {metadata: {name: "?*"}}
  - name: enforced
    match: {any: [{resources: {kinds: ["*"]}}]}
    validate:
      message: "{{ request.object.metadata.name }}"
      pattern: {metadata: {name: "{{ request.object.metadata.name }}"}}
  - name: secrets
    match: {any: [{resources: {kinds: [v1/Secret]}}, {resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern:
      - metadata: {name: a*}
      - metadata: {name: b*}
`
	set, err := LoadBytes("team.yaml", []byte(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := set.Policy("default/team-policy")
	if p == nil || set.Policy("team-policy") != p {
		t.Fatalf("policy not found by key or name: %v", policyNames(set))
	}
	if p.Namespace() != "default" || p.Key() != "default/team-policy" {
		t.Errorf("namespace/key = %q/%q, want default/default/team-policy", p.Namespace(), p.Key())
	}
	if p.Scored || p.Severity != "high" || p.Category != "Best Practices" || p.Title != "Team policy" || p.File != "team.yaml" {
		t.Errorf("annotations not read: %+v", p)
	}
	if p.FailureAction != Enforce {
		t.Errorf("FailureAction = %q, want Enforce (normalised)", p.FailureAction)
	}
	if len(p.Rules) != 3 || set.NumRules() != 3 {
		t.Fatalf("rules = %d (NumRules %d), want 3", len(p.Rules), set.NumRules())
	}
	audited, enforced, secrets := p.Rules[0], p.Rules[1], p.Rules[2]
	if audited.FailureAction != Audit || enforced.FailureAction != Enforce {
		t.Errorf("rule actions = %q, %q, want Audit, Enforce", audited.FailureAction, enforced.FailureAction)
	}
	if audited.Pattern == nil {
		t.Error("a pattern without variables should be precompiled")
	}
	if enforced.Pattern != nil {
		t.Error("a pattern with variables must not be precompiled")
	}
	if len(secrets.AnyPatterns) != 2 || secrets.AnyPatterns[0] == nil {
		t.Error("anyPattern without variables should be precompiled")
	}
	if got := ruleNames(set.RulesFor("ConfigMap")); !slices.Equal(got, []string{"audited", "enforced", "secrets"}) {
		t.Errorf("RulesFor(ConfigMap) = %v", got)
	}
	if got := ruleNames(set.RulesFor("Secret")); !slices.Equal(got, []string{"enforced", "secrets"}) {
		t.Errorf("RulesFor(Secret) = %v", got)
	}
	if got := ruleNames(set.RulesFor("Pod")); !slices.Equal(got, []string{"enforced"}) {
		t.Errorf("RulesFor(Pod) = %v", got)
	}
	if m := secrets.Match; len(m.Any) != 2 || m.Any[0].Kinds[0] != (KindSelector{Version: "v1", Kind: "Secret", Group: "*"}) {
		t.Errorf("compiled match = %+v", m)
	}
}

func TestSetOnlyAndOrder(t *testing.T) {
	t.Parallel()
	data := goodPolicy("zeta") + "---\n" + goodPolicy("alpha") + "---\n" + strings.Replace(goodPolicy("mid"), "[ConfigMap]", "[\"*\"]", 1)
	set, err := LoadBytes("order.yaml", []byte(data), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := policyNames(set); !slices.Equal(got, []string{"alpha", "mid", "zeta"}) {
		t.Fatalf("policies not sorted: %v", got)
	}
	var pols []string
	for _, r := range set.RulesFor("ConfigMap") {
		pols = append(pols, r.Policy.Name())
	}
	if !slices.Equal(pols, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("RulesFor(ConfigMap) policy order = %v, want policy order", pols)
	}
	only := set.Only(set.Policy("zeta"))
	if only.Len() != 1 || only.NumRules() != 1 || len(only.RulesFor("ConfigMap")) != 1 || len(only.RulesFor("Secret")) != 0 {
		t.Errorf("Only(zeta) = %v, %d rules", policyNames(only), only.NumRules())
	}
	if set.Len() != 3 {
		t.Errorf("Only modified the original set")
	}
	if set.Policy("nope") != nil {
		t.Error("Policy(nope) != nil")
	}
}

func TestSetOnlyImage(t *testing.T) {
	t.Parallel()
	const cip = `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: signed
spec:
  images:
  - glob: "registry.example/**"
  authorities:
  - static:
      action: pass
`
	set, err := LoadBytes("mixed.yaml", []byte(goodPolicy("zeta")+"---\n"+cip), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ip := set.ImagePolicy("signed")
	if ip == nil {
		t.Fatal("ImagePolicy(signed) = nil")
	}
	only := set.OnlyImage(ip)
	if only.Len() != 1 || len(only.Images) != 1 || len(only.Policies) != 0 || only.ImagePolicy("signed") != ip {
		t.Errorf("OnlyImage(signed) = %d policies, %d image policies", len(only.Policies), len(only.Images))
	}
	if set.Len() != 2 {
		t.Errorf("OnlyImage modified the original set: %d", set.Len())
	}
}

func ruleNames(rules []*Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name())
	}
	return out
}
