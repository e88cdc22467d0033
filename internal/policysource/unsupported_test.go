package policysource

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/manifest"
	"sigs.k8s.io/yaml"
)

func TestUnsupported(t *testing.T) {
	doc := func(s string) manifest.Document {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(s), &obj); err != nil {
			t.Fatal(err)
		}
		return manifest.Document{Source: "cluster:x", Index: 1, Object: obj}
	}
	for _, tc := range []struct {
		name string
		yaml string
		want []string // "field: kind" of each problem
	}{
		{"configMap and urlPath GETs are served", `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    context:
    - {name: v, variable: {value: 1}}
    - {name: cm, configMap: {name: c, namespace: default}}
    - {name: api, apiCall: {urlPath: /api/v1/namespaces}}
    - {name: pods, apiCall: {urlPath: "/api/v1/namespaces/{{ request.namespace }}/pods", jmesPath: "items | length(@)"}}
    - {name: dep, apiCall: {urlPath: "/apis/apps/v1/namespaces/{{ request.namespace }}/deployments/{{ request.object.metadata.name }}", method: GET}}
    validate: {deny: {conditions: {any: [{key: "{{ cm.data.x || 'ok' }}", operator: Equals, value: no}]}}}
`, nil},
		{"apiCall service, POST, query, subresource, non-resource path", `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    context:
    - {name: a, apiCall: {service: {url: "https://x.example/check"}}}
    - {name: b, apiCall: {urlPath: /api/v1/namespaces, method: POST}}
    - {name: c, apiCall: {urlPath: "/api/v1/pods?labelSelector=app"}}
    - {name: d, apiCall: {urlPath: "/api/v1/namespaces/{{ request.namespace }}/pods/x/log"}}
    - {name: e, apiCall: {urlPath: /version}}
`, []string{"spec.rules[0].context[0].apiCall", "spec.rules[0].context[1].apiCall", "spec.rules[0].context[2].apiCall", "spec.rules[0].context[3].apiCall", "spec.rules[0].context[4].apiCall"}},
		{"imageRegistry in a rule", `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    context:
    - {name: img, imageRegistry: {reference: "{{ element.image }}"}}
`, []string{"spec.rules[0].context[0].imageRegistry"}},
		{"globalReference in a nested foreach", `apiVersion: portcullis.dev/v1
kind: Policy
metadata: {name: p, namespace: n}
spec:
  rules:
  - name: r
    validate:
      foreach:
      - list: request.object.spec.containers
        foreach:
        - list: element.ports
          context: [{name: g, globalReference: {name: x}}]
          deny: {}
`, []string{"spec.rules[0].validate.foreach[0].foreach[0].context[0].globalReference"}},
		{"imageRegistry in a mutate foreach and a mutate target", `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    mutate:
      targets:
      - apiVersion: v1
        kind: Secret
        context: [{name: v, variable: {value: 1}}, {name: img, imageRegistry: {reference: x}}]
      foreach:
      - list: request.object.spec.containers
        context: [{name: img, imageRegistry: {reference: "{{ element.image }}"}}]
        patchStrategicMerge: {}
`, []string{"spec.rules[0].mutate.foreach[0].context[0].imageRegistry", "spec.rules[0].mutate.targets[0].context[1].imageRegistry"}},
		{"variables only", `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: r
    context: [{name: v, variable: {value: 1}}]
`, nil},
		{"not a Kyverno policy", `apiVersion: v1
kind: ConfigMap
metadata: {name: p}
spec: {rules: [{name: r, context: [{name: c, configMap: {name: x}}]}]}
`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := Unsupported(doc(tc.yaml))
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d problems %v, want %v", len(errs), errs, tc.want)
			}
			for i, e := range errs {
				if e.Field != tc.want[i] || e.Rule != "r" || e.Policy != "p" || !strings.Contains(e.Msg, "not supported in serve yet") {
					t.Errorf("problem %d = %+v, want field %s", i, e, tc.want[i])
				}
			}
		})
	}
}
