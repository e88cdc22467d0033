package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
)

const celPolicies = `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: cel-rules}
spec:
  rules:
  - name: tag-required
    match: {any: [{resources: {kinds: [Pod]}}]}
    celPreconditions:
    - {name: not-system, expression: "object.metadata.namespace != 'kube-system'"}
    validate:
      cel:
        variables:
        - {name: images, expression: "object.spec.containers.map(c, c.image)"}
        expressions:
        - expression: "variables.images.all(i, i.contains(':'))"
          messageExpression: "'untagged image in ' + object.metadata.name"
  - name: replicas
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "object.spec.missingField > 1"
          message: missing field
  - name: runaway
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        expressions:
        - expression: "object.spec.containers.all(a, object.spec.containers.all(b, object.spec.containers.all(c, object.spec.containers.all(d, a.name + b.name + c.name + d.name != 'x'))))"
  - name: with-params
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        paramRef: {name: limits}
        expressions:
        - expression: "params.data.max == '1'"
---
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vpol-registry}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  matchConditions:
  - {name: labelled, expression: "has(object.metadata.labels) && 'app' in object.metadata.labels"}
  variables:
  - {name: cm, expression: "resource.Get('v1', 'configmaps', 'default', 'registries')"}
  validations:
  - expression: "object.spec.containers.all(c, c.image.startsWith(variables.cm.data.prefix))"
    message: image from an unapproved registry
`

func celSet(t *testing.T) *policy.Set {
	t.Helper()
	set, err := policy.LoadBytes("cel.yaml", []byte(celPolicies), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func celPod(name, ns string, labels map[string]any, images ...string) map[string]any {
	var cs []any
	for i, img := range images {
		cs = append(cs, map[string]any{"name": "c" + string(rune('a'+i)), "image": img})
	}
	meta := map[string]any{"name": name, "namespace": ns}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": map[string]any{"containers": cs}}
}

func TestCELRulesAndValidatingPolicy(t *testing.T) {
	t.Parallel()
	set := celSet(t)
	store, err := cel.NewMemoryResources(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "registries", "namespace": "default"}, "data": map[string]any{"prefix": "ghcr.io/org/"}})
	if err != nil {
		t.Fatal(err)
	}
	many := make([]string, 60)
	for i := range many {
		many[i] = "ghcr.io/org/app:1"
	}
	cases := []struct {
		name string
		pod  map[string]any
		want map[string]Status // rule (or policy for the ValidatingPolicy) -> status
		msgs map[string]string
	}{
		{
			name: "compliant",
			pod:  celPod("ok", "default", map[string]any{"app": "x"}, "ghcr.io/org/app:1"),
			want: map[string]Status{"tag-required": StatusPass, "replicas": StatusFail, "runaway": StatusPass, "with-params": StatusError, "vpol-registry": StatusPass},
			msgs: map[string]string{"replicas": "no such key", "with-params": "params of kind v1 ConfigMap not found"},
		},
		{
			name: "untagged and unapproved",
			pod:  celPod("bad", "default", map[string]any{"app": "x"}, "docker.io/nginx"),
			want: map[string]Status{"tag-required": StatusFail, "vpol-registry": StatusFail},
			msgs: map[string]string{"tag-required": "untagged image in bad", "vpol-registry": "unapproved registry"},
		},
		{
			name: "celPreconditions not met, matchConditions not met",
			pod:  celPod("sys", "kube-system", nil, "docker.io/nginx"),
			want: map[string]Status{"tag-required": StatusSkip},
		},
		{
			name: "cost limit exceeded",
			pod:  celPod("big", "default", nil, many...),
			want: map[string]Status{"runaway": StatusFail},
			msgs: map[string]string{"runaway": "cost"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			results, err := New().Evaluate(context.Background(), set, Input{Resource: tc.pod, Resources: store})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Result{}
			for _, r := range results {
				key := r.Rule
				if r.Policy == "vpol-registry" {
					key = r.Policy
				}
				got[key] = r
			}
			if tc.name == "celPreconditions not met, matchConditions not met" {
				if _, ok := got["vpol-registry"]; ok {
					t.Errorf("ValidatingPolicy evaluated although its matchConditions do not hold")
				}
			}
			for k, want := range tc.want {
				r, ok := got[k]
				if !ok {
					t.Errorf("%s: no result", k)
					continue
				}
				if r.Status != want {
					t.Errorf("%s: status %s, want %s (%s)", k, r.Status, want, r.Message)
				}
				if m := tc.msgs[k]; m != "" && !strings.Contains(strings.ToLower(r.Message), strings.ToLower(m)) {
					t.Errorf("%s: message %q lacks %q", k, r.Message, m)
				}
			}
		})
	}
}

func TestValidatingPolicyAutogenOnDeployment(t *testing.T) {
	t.Parallel()
	set := celSet(t)
	store, _ := cel.NewMemoryResources(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "registries", "namespace": "default"}, "data": map[string]any{"prefix": "ghcr.io/org/"}})
	pod := celPod("tpl", "default", map[string]any{"app": "x"}, "docker.io/nginx")
	deploy := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "d", "namespace": "default"},
		"spec":     map[string]any{"template": map[string]any{"metadata": pod["metadata"], "spec": pod["spec"]}}}
	results, err := New().Evaluate(context.Background(), set, Input{Resource: deploy, Resources: store})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range results {
		if r.Policy == "vpol-registry" {
			found = true
			if r.Rule != "autogen-vpol-registry" || r.Status != StatusFail || !r.Autogen {
				t.Fatalf("result = %+v, want autogen-vpol-registry fail", r)
			}
		}
	}
	if !found {
		t.Fatal("the ValidatingPolicy did not apply to the Deployment's pod template")
	}
}
