package generate

import (
	"context"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	"sigs.k8s.io/yaml"
)

func load(t *testing.T, data string) *policy.Set {
	t.Helper()
	set, err := policy.LoadBytes("test.yaml", []byte(data), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func object(t *testing.T, data string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(data), &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestDesiredLabels checks the labels Kyverno puts on generated resources
// (policy, rule, trigger; managed-by ours) and the options carried with
// each object.
func TestDesiredLabels(t *testing.T) {
	set := load(t, `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: netpol}
spec:
  rules:
  - name: deny
    match: {any: [{resources: {kinds: [Namespace]}}]}
    generate:
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      name: default-deny
      namespace: "{{request.object.metadata.name}}"
      synchronize: true
      data:
        metadata: {labels: {own: "yes"}}
        spec: {podSelector: {}}
`)
	ns := object(t, `{apiVersion: v1, kind: Namespace, metadata: {name: team-a, uid: u-1}}`)
	objs, results, err := Desired(context.Background(), engine.New(), set, engine.Input{Resource: ns})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Status != engine.StatusPass || len(objs) != 1 {
		t.Fatalf("results %+v objects %d", results, len(objs))
	}
	o := objs[0]
	if !o.Synchronize || !o.DeleteWithPolicy || o.Policy != "netpol" || o.Rule != "deny" || o.PolicyKind != engine.KindClusterPolicy {
		t.Errorf("object options = %+v", o)
	}
	labels := o.Object["metadata"].(map[string]any)["labels"].(map[string]any)
	want := map[string]any{
		"own": "yes", LabelManagedBy: "portcullis", LabelPolicyName: "netpol", LabelPolicyNamespace: "",
		LabelPolicyKind: "ClusterPolicy", LabelRuleName: "deny", LabelTriggerGroup: "", LabelTriggerVersion: "v1",
		LabelTriggerKind: "Namespace", LabelTriggerNamespace: "", LabelTriggerName: "team-a", LabelTriggerUID: "u-1",
	}
	for k, v := range want {
		if labels[k] != v {
			t.Errorf("label %s = %v, want %v", k, labels[k], v)
		}
	}
	if len(labels) != len(want) {
		t.Errorf("labels = %v, want %v", labels, want)
	}
	if o.Kind() != "NetworkPolicy" || o.Namespace() != "team-a" || o.Name() != "default-deny" || o.APIVersion() != "networking.k8s.io/v1" {
		t.Errorf("identity = %s %s %s/%s", o.APIVersion(), o.Kind(), o.Namespace(), o.Name())
	}
}

// TestDesiredNamespacedPolicyStaysHome checks that a namespaced Policy
// whose variables send an object to another namespace gets an error
// result and no object.
func TestDesiredNamespacedPolicyStaysHome(t *testing.T) {
	set := load(t, `
apiVersion: kyverno.io/v1
kind: Policy
metadata: {name: copy, namespace: team-a}
spec:
  rules:
  - name: copy
    match: {any: [{resources: {kinds: [ConfigMap]}}]}
    generate:
      kind: ConfigMap
      name: copy
      namespace: "{{request.object.metadata.annotations.target}}"
      data: {data: {a: b}}
`)
	cm := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: team-a, annotations: {target: kube-system}}}`)
	objs, results, err := Desired(context.Background(), engine.New(), set, engine.Input{Resource: cm})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 0 || len(results) != 1 || results[0].Status != engine.StatusError || !strings.Contains(results[0].Message, "own namespace") {
		t.Fatalf("objects %v results %+v, want an error and no object", objs, results)
	}
}
