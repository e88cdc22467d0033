package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/policy"
	"sigs.k8s.io/yaml"
)

// loadSet loads policies from YAML text, failing the test on any problem.
func loadSet(t *testing.T, data string) *policy.Set {
	t.Helper()
	set, err := policy.LoadBytes("test.yaml", []byte(data), policy.Options{})
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	return set
}

// loadSetFile loads testdata/<name>.
func loadSetFile(t *testing.T, name string) *policy.Set {
	t.Helper()
	set, err := policy.LoadFiles([]string{filepath.Join("testdata", name)}, policy.Options{})
	if err != nil {
		t.Fatalf("load policies: %v", err)
	}
	return set
}

// resource decodes one YAML resource the way manifests are decoded.
func resource(t *testing.T, data string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(data), &obj); err != nil {
		t.Fatalf("decode resource: %v", err)
	}
	return obj
}

// resourceFile decodes testdata/<name>.
func resourceFile(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return resource(t, string(data))
}

// evaluate runs the engine and fails the test on an error.
func evaluate(t *testing.T, set *policy.Set, in Input) []Result {
	t.Helper()
	results, err := New().Evaluate(context.Background(), set, in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return results
}

// only returns the single result, failing the test otherwise.
func only(t *testing.T, results []Result) Result {
	t.Helper()
	if len(results) != 1 {
		t.Fatalf("got %d results, want 1: %+v", len(results), results)
	}
	return results[0]
}

// byRule returns the result of the named rule.
func byRule(t *testing.T, results []Result, rule string) Result {
	t.Helper()
	for _, r := range results {
		if r.Rule == rule {
			return r
		}
	}
	t.Fatalf("no result for rule %q in %+v", rule, results)
	return Result{}
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }

func TestPatternFailure(t *testing.T) {
	t.Parallel()
	set := loadSetFile(t, "run-as-non-root.yaml")
	r := only(t, evaluate(t, set, Input{Resource: resourceFile(t, "pod-root.yaml")}))
	want := Result{
		Policy:     "require-run-as-non-root",
		PolicyKind: KindClusterPolicy,
		Rule:       "run-as-non-root",
		Resource:   Resource{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "root"},
		Status:     StatusFail,
		Message:    "validation error: Running as root is not allowed. Set runAsNonRoot to true. rule run-as-non-root failed at path /spec/containers/1/securityContext/runAsNonRoot/",
		Path:       "/spec/containers/1/securityContext/runAsNonRoot/",
		Severity:   "medium",
		Category:   "Pod Security Standards (Restricted)",
		Enforce:    true,
	}
	if r != want {
		t.Errorf("result =\n\t%+v\nwant\n\t%+v", r, want)
	}
}

func TestPatternAutogen(t *testing.T) {
	t.Parallel()
	set := loadSetFile(t, "run-as-non-root.yaml")
	t.Run("Deployment", func(t *testing.T) {
		t.Parallel()
		r := only(t, evaluate(t, set, Input{Resource: resourceFile(t, "deployment-root.yaml")}))
		if r.Rule != "autogen-run-as-non-root" || !r.Autogen || r.Status != StatusFail {
			t.Fatalf("result = %+v", r)
		}
		wantPath := "/spec/template/spec/containers/0/securityContext/runAsNonRoot/"
		if r.Path != wantPath || r.Message != "validation error: Running as root is not allowed. Set runAsNonRoot to true. rule autogen-run-as-non-root failed at path "+wantPath {
			t.Errorf("path/message = %q / %q", r.Path, r.Message)
		}
	})
	t.Run("CronJob", func(t *testing.T) {
		t.Parallel()
		r := only(t, evaluate(t, set, Input{Resource: resourceFile(t, "cronjob-nonroot.yaml")}))
		if r.Rule != "autogen-cronjob-run-as-non-root" || !r.Autogen || r.Status != StatusPass {
			t.Fatalf("result = %+v", r)
		}
		if r.Message != "validation rule 'autogen-cronjob-run-as-non-root' passed." {
			t.Errorf("message = %q", r.Message)
		}
	})
}

// rulePolicy wraps one rule (YAML list item indented by two spaces) in a
// ClusterPolicy named "p" without autogen.
func rulePolicy(rule string) string {
	return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: p
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  rules:
` + rule
}

const cmPlain = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: apps
  labels: {team: payments, env: prod}
data:
  mode: fast
  replicas: "3"
`

func TestRuleOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		rule     string
		resource string
		input    func(*Input)
		status   Status
		message  string // exact, unless prefix is set
		prefix   bool
		path     string
	}{
		{
			name: "pattern pass",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: team label required
      pattern: {metadata: {labels: {team: "?*"}}}
`,
			status: StatusPass, message: "validation rule 'r' passed.",
		},
		{
			name: "pattern fail without message",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusFail, message: "validation error: rule r failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "pattern fail, message ending with a period",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "Mode must be slow."
      pattern: {data: {mode: slow}}
`,
			status: StatusFail, message: "validation error: Mode must be slow. rule r failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "pattern fail, message with variables",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "{{ request.object.metadata.name }} in {{ request.namespace }} must be slow, not {{ request.object.data.mode }}"
      pattern: {data: {mode: slow}}
`,
			status: StatusFail, message: "validation error: settings in apps must be slow, not fast. rule r failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "pattern with a resolved variable",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {name: "{{ request.object.metadata.labels.team }}"}}
`,
			status: StatusFail, message: "validation error: rule r failed at path /metadata/name/", path: "/metadata/name/",
		},
		{
			name: "pattern with an unresolved variable",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {name: "{{ request.object.metadata.labels.owner }}"}}
`,
			status: StatusError, message: "variable substitution failed for rule r: ", prefix: true,
		},
		{
			name: "pattern with a missing field",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: owner label required
      pattern: {metadata: {labels: {owner: "?*"}}}
`,
			status: StatusFail, message: "validation error: owner label required. rule r failed at path /metadata/labels/owner/", path: "/metadata/labels/owner/",
		},
		{
			name: "conditional anchor not met: skip",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern:
        metadata: {labels: {(env): dev}}
        data: {mode: slow}
`,
			status: StatusSkip, message: "conditional anchor mismatch", prefix: true,
		},
		{
			name: "preconditions false: skip",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.env }}"
        operator: Equals
        value: dev
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusSkip, message: "preconditions not met",
		},
		{
			name: "preconditions true",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      any:
      - key: "{{ request.object.metadata.labels.env }}"
        operator: Equals
        value: dev
      - key: "{{ request.operation }}"
        operator: AnyIn
        value: [CREATE, UPDATE]
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusFail, message: "validation error: rule r failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "preconditions as a plain list",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
    - key: "{{ request.object.data.replicas }}"
      operator: GreaterThan
      value: 5
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusSkip, message: "preconditions not met",
		},
		{
			// Current Kyverno propagates resolution errors from preconditions
			// (kyverno/kyverno#4217); older versions substituted "".
			name: "unresolved variable in preconditions",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.owner }}"
        operator: Equals
        value: ""
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusError, message: "failed to evaluate preconditions: ", prefix: true,
		},
		{
			name: "unresolved variable in preconditions with a default",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
      all:
      - key: "{{ request.object.metadata.labels.owner || '' }}"
        operator: Equals
        value: ""
    validate:
      pattern: {data: {mode: slow}}
`,
			status: StatusFail, message: "validation error: rule r failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "deny any: one condition holds",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "{{ request.object.data.mode }} mode is not allowed in {{ request.object.metadata.labels.env }}"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: slow}
          - {key: "{{ request.object.metadata.labels.env }}", operator: AnyIn, value: [prod, staging]}
`,
			status: StatusFail, message: "fast mode is not allowed in prod",
		},
		{
			name: "deny any: no condition holds",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: denied
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: slow}
          - {key: "{{ request.object.metadata.labels.env }}", operator: In, value: [dev]}
`,
			status: StatusPass, message: "validation rule 'r' passed.",
		},
		{
			name: "deny all: not every condition holds",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: denied
      deny:
        conditions:
          all:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: fast}
          - {key: "{{ request.object.data.replicas }}", operator: GreaterThan, value: 3}
`,
			status: StatusPass, message: "validation rule 'r' passed.",
		},
		{
			name: "deny all: every condition holds",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
          all:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: fast}
          - {key: "{{ request.object.data.replicas }}", operator: GreaterThanOrEquals, value: 3}
`,
			status: StatusFail, message: "validation error: rule r failed",
		},
		{
			name: "deny with a condition message",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: fast, message: "fast mode is forbidden"}
`,
			status: StatusFail, message: "fast mode is forbidden",
		},
		{
			name: "deny without conditions",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: configmaps are read-only
      deny: {}
`,
			status: StatusFail, message: "configmaps are read-only",
		},
		{
			name: "deny on the operation",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: no deletes
      deny:
        conditions:
          any:
          - {key: "{{ request.operation }}", operator: Equals, value: DELETE}
`,
			input:  func(in *Input) { in.Operation = "DELETE"; in.OldResource, in.Resource = in.Resource, nil },
			status: StatusFail, message: "no deletes",
		},
		{
			name: "deny comparing old and new objects",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap], operations: [UPDATE]}}]}
    validate:
      message: "mode is immutable ({{ request.oldObject.data.mode }} -> {{ request.object.data.mode }})"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: NotEquals, value: "{{ request.oldObject.data.mode }}"}
`,
			input: func(in *Input) {
				in.Operation = "UPDATE"
				in.OldResource = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "namespace": "apps"}, "data": map[string]any{"mode": "slow"}}
			},
			status: StatusFail, message: "mode is immutable (slow -> fast)",
		},
		{
			name: "unresolved variable in deny",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      deny:
        conditions:
          any:
          - {key: "{{ request.object.spec.missing }}", operator: Equals, value: x}
`,
			status: StatusError, message: "failed to substitute variables in deny conditions: ", prefix: true,
		},
		{
			name: "anyPattern: second pattern passes",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: mode must be slow or the team payments
      anyPattern:
      - data: {mode: slow}
      - metadata: {labels: {team: payments}}
`,
			status: StatusPass, message: "validation rule 'r' anyPattern[1] passed.",
		},
		{
			name: "anyPattern: every pattern fails",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: mode must be slow or the team platform
      anyPattern:
      - data: {mode: slow}
      - metadata: {labels: {team: platform}}
`,
			status: StatusFail, message: "validation error: mode must be slow or the team platform. rule r[0] failed at path /data/mode/ rule r[1] failed at path /metadata/labels/team/", path: "/data/mode/",
		},
		{
			name: "anyPattern: fail without message",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern:
      - data: {mode: slow}
      - data: {mode: medium}
`,
			status: StatusFail, message: "validation error: rule r[0] failed at path /data/mode/ rule r[1] failed at path /data/mode/", path: "/data/mode/",
		},
		{
			name: "anyPattern: every pattern skipped",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern:
      - metadata: {labels: {(env): dev}}
        data: {mode: slow}
      - metadata: {labels: {(env): staging}}
        data: {mode: slow}
`,
			status: StatusSkip, message: "rule r[0] skipped: ", prefix: true,
		},
		{
			name: "anyPattern: with variables",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      anyPattern:
      - metadata: {name: "{{ request.object.metadata.labels.team }}"}
      - metadata: {namespace: "{{ request.object.metadata.name }}"}
      - metadata: {namespace: "{{ request.namespace }}"}
`,
			status: StatusPass, message: "validation rule 'r' anyPattern[2] passed.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := loadSet(t, rulePolicy(tc.rule))
			res := tc.resource
			if res == "" {
				res = cmPlain
			}
			in := Input{Resource: resource(t, res)}
			if tc.input != nil {
				tc.input(&in)
			}
			r := only(t, evaluate(t, set, in))
			if r.Status != tc.status {
				t.Errorf("status = %s, want %s (message %q)", r.Status, tc.status, r.Message)
			}
			if tc.prefix {
				if !strings.HasPrefix(r.Message, tc.message) {
					t.Errorf("message = %q, want prefix %q", r.Message, tc.message)
				}
			} else if r.Message != tc.message {
				t.Errorf("message = %q, want %q", r.Message, tc.message)
			}
			if r.Path != tc.path {
				t.Errorf("path = %q, want %q", r.Path, tc.path)
			}
			if r.Policy != "p" || r.Rule != "r" || r.Enforce {
				t.Errorf("result identity = %+v", r)
			}
		})
	}
}

func TestForEach(t *testing.T) {
	t.Parallel()
	set := loadSetFile(t, "foreach.yaml")
	type want struct {
		status  Status
		message string
		path    string
	}
	cases := []struct {
		name     string
		resource string
		want     map[string]want
	}{
		{
			name:     "violations",
			resource: "pod-foreach.yaml",
			want: map[string]want{
				"no-latest":     {StatusFail, "validation failure: container 1 (proxy) uses a latest tag", "/spec/containers/1/"},
				"image-pattern": {StatusFail, "validation failure: validation error: images must come from registry.example.com. rule image-pattern failed at path /image/", "/spec/containers/2/image/"},
				// Nested foreach: element0 is the container, element1 the port.
				// Paths are the failing element's place in the Pod (the
				// message keeps Kyverno's element-relative wording).
				"privileged-ports": {StatusFail, "validation failure: validation failure: container sidecar-log port 443 is privileged", "/spec/containers/2/ports/0/"},
				"whole-resource":   {StatusPass, "rule passed", ""},
				"sidecars-only":    {StatusFail, "validation failure: validation error: sidecars must set resource limits. rule sidecars-only failed at path /resources/", "/spec/containers/2/resources/"},
				"init-containers":  {StatusFail, "validation failure: validation error: init containers must not be privileged. rule init-containers failed at path /securityContext/privileged/", "/spec/initContainers/0/securityContext/privileged/"},
			},
		},
		{
			name:     "clean",
			resource: "pod-foreach-clean.yaml",
			want: map[string]want{
				"no-latest":        {StatusPass, "rule passed", ""},
				"image-pattern":    {StatusPass, "rule passed", ""},
				"privileged-ports": {StatusPass, "rule passed", ""},
				// elementScope: false validates the whole Pod for each element.
				"whole-resource": {StatusFail, "validation failure: validation error: every pod with containers needs an app label. rule whole-resource failed at path /metadata/labels/", "/metadata/labels/"},
				"sidecars-only":  {StatusPass, "rule passed", ""},
				// spec.initContainers does not exist: the list does not resolve.
				"init-containers": {StatusSkip, "rule skipped", ""},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			results := evaluate(t, set, Input{Resource: resourceFile(t, tc.resource)})
			if len(results) != len(tc.want) {
				t.Fatalf("got %d results, want %d: %+v", len(results), len(tc.want), results)
			}
			for rule, w := range tc.want {
				r := byRule(t, results, rule)
				if r.Status != w.status || r.Message != w.message || r.Path != w.path {
					t.Errorf("%s: got %s %q %q\n\twant %s %q %q", rule, r.Status, r.Message, r.Path, w.status, w.message, w.path)
				}
			}
		})
	}
}

func TestForEachForms(t *testing.T) {
	t.Parallel()
	pod := resourceFile(t, "pod-foreach.yaml")
	cases := []struct {
		name    string
		rule    string
		status  Status
		message string
	}{
		{
			name: "every element skipped by preconditions",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      foreach:
      - list: "request.object.spec.containers"
        preconditions:
          any:
          - {key: "{{ element.name }}", operator: Equals, value: "db-*"}
        deny:
          conditions:
            any:
            - {key: "{{ element.name }}", operator: Equals, value: "db-*"}
`,
			status: StatusSkip, message: "rule skipped",
		},
		{
			name: "elementIndex in conditions",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "container {{ elementIndex }} is the third one"
      foreach:
      - list: "request.object.spec.containers"
        deny:
          conditions:
            all:
            - {key: "{{ elementIndex }}", operator: Equals, value: 2}
`,
			status: StatusFail, message: "validation failure: container 2 is the third one",
		},
		{
			name: "list that is not a list iterates once",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "app label {{ element.app }} is reserved"
      foreach:
      - list: "request.object.metadata.labels"
        deny:
          conditions:
            any:
            - {key: "{{ element.app }}", operator: Equals, value: multi}
`,
			status: StatusFail, message: "validation failure: app label multi is reserved",
		},
		{
			name: "list of strings with a pattern on the whole resource",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      foreach:
      - list: "request.object.spec.containers[].name"
        pattern:
          metadata:
            namespace: default
`,
			status: StatusPass, message: "rule passed",
		},
		{
			name: "elementScope true on strings",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      foreach:
      - list: "request.object.spec.containers[].name"
        elementScope: true
        pattern:
          name: "?*"
`,
			// Kyverno reports this error as is, without "validation failure: ".
			status: StatusError, message: "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps, expected type=map got type=string",
		},
		{
			name: "variable inside the list expression",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    context:
    - name: prefix
      variable: {value: sidecar-}
    validate:
      message: "{{ element.name }} is not allowed"
      foreach:
      - list: "request.object.spec.containers[?starts_with(name, '{{ prefix }}')]"
        deny:
          conditions:
            any:
            - {key: "{{ element.name }}", operator: NotEquals, value: ""}
`,
			status: StatusFail, message: "validation failure: sidecar-log is not allowed",
		},
		{
			// The list is a JMESPath expression: a whole "{{ }}" is not one, so
			// Kyverno cannot evaluate it and skips the entry.
			name: "list in braces",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      foreach:
      - list: "{{ request.object.spec.containers }}"
        deny:
          conditions:
            any:
            - {key: "{{ element.name }}", operator: Equals, value: app}
`,
			status: StatusSkip, message: "rule skipped",
		},
		{
			name: "foreach context entry per element",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "{{ element.name }} uses tag {{ tag }}"
      foreach:
      - list: "request.object.spec.containers"
        context:
        - name: tag
          variable:
            jmesPath: "split(element.image, ':')[1]"
        deny:
          conditions:
            any:
            - {key: "{{ tag }}", operator: Equals, value: latest}
`,
			status: StatusFail, message: "validation failure: proxy uses tag latest",
		},
		{
			name: "second foreach entry fails",
			rule: `  - name: r
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      message: "{{ element.name }} is privileged"
      foreach:
      - list: "request.object.spec.containers"
        deny:
          conditions:
            any:
            - {key: "{{ element.securityContext.privileged || false }}", operator: Equals, value: true}
      - list: "request.object.spec.initContainers"
        deny:
          conditions:
            any:
            - {key: "{{ element.securityContext.privileged || false }}", operator: Equals, value: true}
`,
			status: StatusFail, message: "validation failure: init is privileged",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := loadSet(t, rulePolicy(tc.rule))
			r := only(t, evaluate(t, set, Input{Resource: pod}))
			if r.Status != tc.status || !strings.HasPrefix(r.Message, tc.message) {
				t.Errorf("got %s %q, want %s %q", r.Status, r.Message, tc.status, tc.message)
			}
		})
	}
}

const contextRule = `  - name: ctx
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: maxReplicas
      variable:
        value: 3
    - name: team
      variable:
        jmesPath: request.object.metadata.labels.team
        default: none
    - name: owner
      variable:
        jmesPath: request.object.metadata.labels.owner
        default: nobody
    - name: allowed
      variable:
        value:
          modes: [slow, medium]
        jmesPath: modes
    - name: count
      variable:
        value: "{{ allowed }}"
        jmesPath: length(@)
    - name: settings
      configMap:
        name: mode-settings
        namespace: kube-system
    validate:
      message: "team={{ team }} owner={{ owner }} max={{ maxReplicas }} count={{ count }} mode={{ request.object.data.mode }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.data.mode }}"
            operator: AnyNotIn
            value: "{{ allowed }}"
          - key: "{{ request.object.data.replicas }}"
            operator: GreaterThan
            value: "{{ maxReplicas }}"
`

func TestContextVariables(t *testing.T) {
	t.Parallel()
	set := loadSet(t, rulePolicy(contextRule))
	r := only(t, evaluate(t, set, Input{Resource: resource(t, cmPlain)}))
	if want := "team=payments owner=nobody max=3 count=2 mode=fast"; r.Status != StatusFail || r.Message != want {
		t.Errorf("got %s %q, want fail %q", r.Status, r.Message, want)
	}
	slow := resource(t, strings.Replace(cmPlain, "mode: fast", "mode: slow", 1))
	if r := only(t, evaluate(t, set, Input{Resource: slow})); r.Status != StatusPass {
		t.Errorf("slow mode: got %s %q, want pass", r.Status, r.Message)
	}
}

func TestContextVariableErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, context, message string
	}{
		{
			name:    "jmesPath without default on a missing key",
			context: "    - name: owner\n      variable: {jmesPath: request.object.metadata.labels.owner}\n",
			message: `failed to load context: context entry "owner": `,
		},
		{
			name:    "value with an unresolved variable",
			context: "    - name: owner\n      variable: {value: \"{{ request.object.metadata.labels.owner }}\"}\n",
			message: `failed to load context: context entry "owner": substitute variables in value: `,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			set := loadSet(t, rulePolicy(`  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
`+tc.context+`    validate:
      deny:
        conditions:
          any:
          - {key: "{{ owner }}", operator: Equals, value: root}
`))
			r := only(t, evaluate(t, set, Input{Resource: resource(t, cmPlain)}))
			if r.Status != StatusError || !strings.HasPrefix(r.Message, tc.message) {
				t.Errorf("got %s %q, want error %q...", r.Status, r.Message, tc.message)
			}
		})
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	set := loadSet(t, rulePolicy(contextRule+`  - name: uses-configmap
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    context:
    - name: settings
      configMap:
        name: mode-settings
        namespace: kube-system
    validate:
      message: "mode {{ request.object.data.mode }} is not {{ settings.data.mode }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.data.mode }}"
            operator: NotEquals
            value: "{{ settings.data.mode }}"
  - name: operation
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "no {{ request.operation }}"
      deny:
        conditions:
          any:
          - {key: "{{ request.operation }}", operator: Equals, value: UPDATE}
`))
	res := resource(t, cmPlain)

	t.Run("without values", func(t *testing.T) {
		t.Parallel()
		results := evaluate(t, set, Input{Resource: res})
		if r := byRule(t, results, "uses-configmap"); r.Status != StatusError || !strings.HasPrefix(r.Message, "failed to substitute variables in deny conditions") {
			t.Errorf("configMap context entry without values: got %s %q, want error", r.Status, r.Message)
		}
		if r := byRule(t, results, "operation"); r.Status != StatusPass {
			t.Errorf("operation: got %s %q, want pass", r.Status, r.Message)
		}
	})
	t.Run("with values", func(t *testing.T) {
		t.Parallel()
		type call struct{ policy, rule, resource string }
		var calls []call
		values := ValuesFunc(func(policy, rule, resourceName string) map[string]any {
			calls = append(calls, call{policy, rule, resourceName})
			switch rule {
			case "ctx":
				// Overrides the context entry of the same name.
				return map[string]any{"allowed": []any{"fast"}, "team": "platform"}
			case "uses-configmap":
				return map[string]any{"settings": map[string]any{"data": map[string]any{"mode": "fast"}}}
			case "operation":
				return map[string]any{"request.operation": "UPDATE"}
			}
			return nil
		})
		results := evaluate(t, set, Input{Resource: res, Values: values})
		if r := byRule(t, results, "ctx"); r.Status != StatusPass {
			t.Errorf("ctx: got %s %q, want pass (allowed overridden)", r.Status, r.Message)
		}
		if r := byRule(t, results, "uses-configmap"); r.Status != StatusPass {
			t.Errorf("uses-configmap: got %s %q, want pass", r.Status, r.Message)
		}
		if r := byRule(t, results, "operation"); r.Status != StatusFail || r.Message != "no UPDATE" {
			t.Errorf("operation: got %s %q, want fail %q", r.Status, r.Message, "no UPDATE")
		}
		want := []call{{"p", "ctx", "settings"}, {"p", "uses-configmap", "settings"}, {"p", "operation", "settings"}}
		if !slices.Equal(calls, want) {
			t.Errorf("Values.For calls = %v, want %v", calls, want)
		}
	})
	t.Run("values override a computed variable only for its rule", func(t *testing.T) {
		t.Parallel()
		values := ValuesFunc(func(_, rule, _ string) map[string]any {
			if rule == "ctx" {
				return map[string]any{"maxReplicas": 1, "allowed": []any{"fast"}}
			}
			return nil
		})
		results := evaluate(t, set, Input{Resource: res, Values: values})
		if r := byRule(t, results, "ctx"); r.Status != StatusFail || r.Message != "team=payments owner=nobody max=1 count=1 mode=fast" {
			t.Errorf("ctx: got %s %q", r.Status, r.Message)
		}
		if r := byRule(t, results, "operation"); r.Status != StatusPass {
			t.Errorf("operation: got %s %q, want pass", r.Status, r.Message)
		}
	})
}

func TestScoredFalseTurnsFailIntoWarn(t *testing.T) {
	t.Parallel()
	set := loadSet(t, `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: advisory
  annotations:
    policies.kyverno.io/scored: "false"
spec:
  validationFailureAction: Enforce
  rules:
  - name: fast-mode
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: mode must be slow
      pattern: {data: {mode: slow}}
  - name: has-team
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {metadata: {labels: {team: "?*"}}}
  - name: skipped
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
    - {key: "{{ request.operation }}", operator: Equals, value: DELETE}
    validate:
      pattern: {data: {mode: slow}}
`)
	results := evaluate(t, set, Input{Resource: resource(t, cmPlain)})
	if len(results) != 3 {
		t.Fatalf("results = %+v", results)
	}
	if r := byRule(t, results, "fast-mode"); r.Status != StatusWarn || r.Message != "validation error: mode must be slow. rule fast-mode failed at path /data/mode/" || !r.Enforce {
		t.Errorf("fast-mode = %+v, want a warning keeping the failure message", r)
	}
	if r := byRule(t, results, "has-team"); r.Status != StatusPass {
		t.Errorf("has-team = %s, want pass", r.Status)
	}
	if r := byRule(t, results, "skipped"); r.Status != StatusSkip {
		t.Errorf("skipped = %s, want skip", r.Status)
	}
}

func TestApplyRulesOne(t *testing.T) {
	t.Parallel()
	policy := func(applyRules string) string {
		return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: first}
spec:
  applyRules: ` + applyRules + `
  rules:
  - name: not-applicable
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    preconditions:
    - {key: "{{ request.operation }}", operator: Equals, value: DELETE}
    validate:
      pattern: {data: {mode: slow}}
  - name: secrets-only
    match: {any: [{resources: {kinds: [Secret]}}]}
    validate:
      pattern: {data: {mode: slow}}
  - name: fails
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: slow}}
  - name: passes
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: fast}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: second}
spec:
  rules:
  - name: a
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: fast}}
  - name: b
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: fast}}
`
	}
	cases := []struct {
		applyRules string
		want       []string
	}{
		{"One", []string{"first/not-applicable:skip", "first/fails:fail", "second/a:pass", "second/b:pass"}},
		{"All", []string{"first/not-applicable:skip", "first/fails:fail", "first/passes:pass", "second/a:pass", "second/b:pass"}},
	}
	for _, tc := range cases {
		t.Run(tc.applyRules, func(t *testing.T) {
			t.Parallel()
			set := loadSet(t, policy(tc.applyRules))
			var got []string
			for _, r := range evaluate(t, set, Input{Resource: resource(t, cmPlain)}) {
				got = append(got, r.Policy+"/"+r.Rule+":"+string(r.Status))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("results = %v, want %v", got, tc.want)
			}
		})
	}
}

const (
	pssPolicy = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: psa}
spec:
  rules:
  - name: baseline
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      podSecurity:
        level: baseline
        version: latest
`
	privilegedPod = `apiVersion: v1
kind: Pod
metadata: {name: priv, namespace: default}
spec:
  containers:
  - name: c
    image: nginx
    securityContext:
      privileged: true
`
	plainPod = `apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: default}
spec:
  containers:
  - name: c
    image: nginx
`
)

func TestPodSecurity(t *testing.T) {
	t.Parallel()
	set := loadSet(t, pssPolicy)
	t.Run("pass", func(t *testing.T) {
		t.Parallel()
		r := only(t, evaluate(t, set, Input{Resource: resource(t, plainPod)}))
		if r.Status != StatusPass || r.Message != "Validation rule 'baseline' passed." {
			t.Errorf("got %s %q", r.Status, r.Message)
		}
	})
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		r := only(t, evaluate(t, set, Input{Resource: resource(t, privilegedPod)}))
		want := `Validation rule 'baseline' failed. It violates PodSecurity "baseline:latest": (Forbidden reason: privileged, field error list: [spec.containers[0].securityContext.privileged is forbidden, forbidden values found: true])`
		if r.Status != StatusFail || r.Message != want {
			t.Errorf("got %s %q\n\twant fail %q", r.Status, r.Message, want)
		}
	})
	t.Run("autogen Deployment", func(t *testing.T) {
		t.Parallel()
		dep := resource(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: default}
spec:
  template:
    spec:
      hostNetwork: true
      containers: [{name: c, image: nginx}]
`)
		r := only(t, evaluate(t, set, Input{Resource: dep}))
		if r.Rule != "autogen-baseline" || r.Status != StatusFail || !strings.Contains(r.Message, "spec.template.spec.hostNetwork") {
			t.Errorf("got %+v", r)
		}
	})
}

func TestDeleteRequests(t *testing.T) {
	t.Parallel()
	set := loadSet(t, rulePolicy(`  - name: pattern
    match: {any: [{resources: {kinds: [ConfigMap], operations: [CREATE, DELETE]}}]}
    validate:
      pattern: {data: {mode: slow}}
  - name: any-pattern
    match: {any: [{resources: {kinds: [ConfigMap], operations: [DELETE]}}]}
    validate:
      anyPattern:
      - data: {mode: slow}
  - name: unresolved
    match: {any: [{resources: {kinds: [ConfigMap], operations: [DELETE]}}]}
    validate:
      pattern: {data: {mode: "{{ request.object.data.missing }}"}}
  - name: deny
    match: {any: [{resources: {kinds: [ConfigMap], operations: [DELETE]}}]}
    validate:
      message: "{{ request.object.metadata.name }} cannot be deleted"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: fast}
`)+`---
`+pssPolicy)
	cm := resource(t, cmPlain)
	// Kyverno validates no pattern against a deleted resource (the rule gives
	// no response); variables still resolve against request.oldObject.
	var got []string
	for _, r := range evaluate(t, set, Input{OldResource: cm, Operation: "DELETE"}) {
		got = append(got, r.Rule+":"+string(r.Status)+":"+r.Message)
	}
	want := []string{
		"unresolved:error:variable substitution failed for rule unresolved: ",
		"deny:fail:settings cannot be deleted",
	}
	if len(got) != len(want) || !strings.HasPrefix(got[0], want[0]) || got[1] != want[1] {
		t.Errorf("DELETE results = %q, want %q", got, want)
	}
	if r := evaluate(t, set, Input{OldResource: resource(t, privilegedPod), Operation: "DELETE"}); len(r) != 0 {
		t.Errorf("podSecurity on DELETE: got %+v, want no result", r)
	}
	// The same rules on a CREATE.
	if r := byRule(t, evaluate(t, set, Input{Resource: cm}), "pattern"); r.Status != StatusFail {
		t.Errorf("pattern on CREATE: got %s", r.Status)
	}
}

func TestMessageSubstitutionFailure(t *testing.T) {
	t.Parallel()
	set := loadSet(t, rulePolicy(`  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "owner {{ request.object.metadata.labels.owner }} must set slow mode"
      pattern: {data: {mode: slow}}
  - name: d
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      message: "owner {{ request.object.metadata.labels.owner }} must set slow mode"
      deny:
        conditions:
          any:
          - {key: "{{ request.object.data.mode }}", operator: Equals, value: fast}
`))
	results := evaluate(t, set, Input{Resource: resource(t, cmPlain)})
	// Kyverno's wording for a pattern failure whose message cannot be substituted.
	if r := byRule(t, results, "r"); r.Status != StatusFail || !strings.HasPrefix(r.Message, "validation error: variables substitution error in rule r execution error: ") {
		t.Errorf("pattern: got %s %q", r.Status, r.Message)
	}
	// A deny rule keeps the message as written.
	if r := byRule(t, results, "d"); r.Status != StatusFail || r.Message != "owner {{ request.object.metadata.labels.owner }} must set slow mode" {
		t.Errorf("deny: got %s %q", r.Status, r.Message)
	}
}

func TestResultFields(t *testing.T) {
	t.Parallel()
	set := loadSet(t, `apiVersion: kyverno.io/v1
kind: Policy
metadata:
  name: team
  namespace: apps
  annotations:
    policies.kyverno.io/severity: high
    policies.kyverno.io/category: Ops
spec:
  validationFailureAction: Audit
  rules:
  - name: audit
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      pattern: {data: {mode: slow}}
  - name: enforce
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate:
      failureAction: Enforce
      pattern: {data: {mode: slow}}
  - name: mutate
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    mutate:
      patchStrategicMerge: {metadata: {labels: {mutated: "true"}}}
`)
	results := evaluate(t, set, Input{Resource: resource(t, cmPlain)})
	if len(results) != 2 {
		t.Fatalf("got %d results (mutate rules give none), want 2: %+v", len(results), results)
	}
	wantRes := Resource{APIVersion: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "settings"}
	for _, r := range results {
		if r.Policy != "apps/team" || r.Resource != wantRes || r.Severity != "high" || r.Category != "Ops" || r.Autogen {
			t.Errorf("result = %+v", r)
		}
	}
	if byRule(t, results, "audit").Enforce || !byRule(t, results, "enforce").Enforce {
		t.Errorf("Enforce flags wrong: %+v", results)
	}
	if got := wantRes.String(); got != "ConfigMap/apps/settings" {
		t.Errorf("Resource.String() = %q", got)
	}
	if got := (Resource{Kind: "Namespace", Name: "apps"}).String(); got != "Namespace/apps" {
		t.Errorf("Resource.String() = %q", got)
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	set := loadSet(t, rulePolicy(`  - name: r
    match: {any: [{resources: {kinds: ["*"]}}]}
    validate:
      pattern: {metadata: {name: "?*"}}
`))
	t.Run("no resource", func(t *testing.T) {
		t.Parallel()
		_, err := New().Evaluate(context.Background(), set, Input{})
		if !errors.Is(err, ErrNoResource) {
			t.Errorf("err = %v, want ErrNoResource", err)
		}
	})
	t.Run("resource without kind", func(t *testing.T) {
		t.Parallel()
		results, err := New().Evaluate(context.Background(), set, Input{Resource: map[string]any{"apiVersion": "v1", "metadata": map[string]any{"name": "x"}}})
		if err == nil || !strings.Contains(err.Error(), "no kind") || len(results) != 0 {
			t.Errorf("results, err = %v, %v; want a no-kind error", results, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := New().Evaluate(ctx, set, Input{Resource: resource(t, cmPlain)})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("empty set", func(t *testing.T) {
		t.Parallel()
		results, err := New().Evaluate(context.Background(), &policy.Set{}, Input{Resource: resource(t, cmPlain)})
		if err != nil || len(results) != 0 {
			t.Errorf("results, err = %v, %v", results, err)
		}
	})
}

func TestEngineConcurrentUse(t *testing.T) {
	t.Parallel()
	set := loadSetFile(t, "foreach.yaml")
	e := New()
	pod := resourceFile(t, "pod-foreach.yaml")
	want, err := e.Evaluate(context.Background(), set, Input{Resource: pod})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Result)
	for range 8 {
		go func() {
			got, _ := e.Evaluate(context.Background(), set, Input{Resource: pod})
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, want) {
			t.Errorf("concurrent result differs:\n%+v\n%+v", got, want)
		}
	}
}

func TestBackgroundSkipsAdmissionOnlyRules(t *testing.T) {
	t.Parallel()
	const policies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: both}
spec:
  rules:
  - name: plain
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: m, pattern: {metadata: {name: "x"}}}
  - name: who
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: "{{request.userInfo.username}}", pattern: {metadata: {name: "x"}}}
  - name: by-subject
    match: {any: [{resources: {kinds: [ConfigMap]}, subjects: [{kind: User, name: alice}]}]}
    validate: {message: m, pattern: {metadata: {name: "x"}}}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: admission-only}
spec:
  background: false
  rules:
  - name: r
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    validate: {message: m, pattern: {metadata: {name: "x"}}}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: {name: vpol-admission}
spec:
  evaluation: {background: {enabled: false}}
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [configmaps]}]
  validations: [{expression: "false"}]
`
	set, err := policy.LoadBytes("bg.yaml", []byte(policies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "y", "namespace": "ns"}}
	names := func(bg bool) []string {
		in := Input{Resource: cm, Background: bg, UserInfo: UserInfo{Username: "alice"}}
		results, err := New().Evaluate(context.Background(), set, in)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range results {
			out = append(out, r.Policy+"/"+r.Rule)
		}
		return out
	}
	if got := names(false); len(got) != 5 {
		t.Fatalf("admission results = %v, want all five rules", got)
	}
	if got := names(true); len(got) != 1 || got[0] != "both/plain" {
		t.Fatalf("background results = %v, want only both/plain", got)
	}
}
