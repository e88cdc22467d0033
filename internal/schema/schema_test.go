package schema

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/manifest"
)

func decode(t *testing.T, text string) manifest.Document {
	t.Helper()
	docs, err := manifest.Decode("f.yaml", []byte(text))
	if err != nil || len(docs) != 1 {
		t.Fatalf("decode: %v (%d documents)", err, len(docs))
	}
	return docs[0]
}

func problems(errs []manifest.FieldError) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Path+": "+e.Msg)
	}
	return strings.Join(out, "\n")
}

func TestValidateBuiltin(t *testing.T) {
	t.Parallel()
	v := New()
	cases := []struct {
		name  string
		doc   string
		known bool
		want  []string // each a line of the problems; none: valid
	}{
		{"valid pod", `apiVersion: v1
kind: Pod
metadata: {name: p, labels: {app: x}}
spec:
  containers:
  - name: c
    image: nginx:1.27
    ports: [{containerPort: 80}]
    resources: {limits: {cpu: 500m, memory: 1Gi}}
    livenessProbe: {httpGet: {port: http}}
status: {phase: Running, anything: goes}
`, true, nil},
		{"kind Pod with nothing else", "kind: Pod\n", true, []string{
			"apiVersion: required field is missing",
			"metadata.name: required field is missing (or metadata.generateName)",
			"spec: required field is missing",
		}},
		{"pod without containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n", true, []string{
			"spec.containers: required field is missing",
		}},
		{"wrong types and unknown fields", `apiVersion: v1
kind: Pod
metadata: {name: p, labelz: {a: b}}
spec:
  containers:
  - name: c
    image: 5
    imagePullPolicy: Always
    ports: [{containerPort: "80"}]
    resources: {limits: {cpu: lots}}
    env: [{name: A, value: 1}]
  hostNetwork: "yes"
  restartPolicyy: Never
`, true, []string{
			"metadata.labelz: unknown field; did you mean labels?",
			"spec.containers[0].env[0].value: want a string, got a number",
			"spec.containers[0].image: want a string, got a number",
			"spec.containers[0].ports[0].containerPort: want an integer, got a string",
			"spec.containers[0].resources.limits.cpu: invalid value: quantities must match the regular expression",
			"spec.hostNetwork: want a boolean, got a string",
			"spec.restartPolicyy: unknown field; did you mean restartPolicy?",
		}},
		{"deployment without template", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}}\n", true, []string{
			"spec.template: required field is missing",
		}},
		{"deployment without spec", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", true, []string{
			"spec: required field is missing",
		}},
		{"cluster role without rules is valid", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n", true, nil},
		{"network policy without podSelector is valid", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {policyTypes: [Ingress]}\n", true, nil},
		{"secret data must be base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: 'not base64!'}\nstringData: {b: plain}\n", true, []string{
			"data.a: invalid base64 data",
		}},
		{"generateName names", "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\ndata: {a: b}\n", true, nil},
		{"unknown kind", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: 1}\n", false, nil},
		{"unknown kind without name", "apiVersion: example.com/v1\nkind: Widget\n", false, []string{
			"metadata.name: required field is missing",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs, known := v.Validate(decode(t, tc.doc).Object)
			if known != tc.known {
				t.Errorf("known = %v, want %v", known, tc.known)
			}
			got := problems(errs)
			if len(errs) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", got, len(tc.want), strings.Join(tc.want, "\n"))
			}
			for i, w := range tc.want {
				if l := errs[i].Path + ": " + errs[i].Msg; !strings.HasPrefix(l, w) {
					t.Errorf("problem %d = %q, want it to start with %q", i, l, w)
				}
			}
		})
	}
}

func TestValidateCRD(t *testing.T) {
	t.Parallel()
	crd := decode(t, `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer}
              mode: {type: string, enum: [fast, slow]}
              port: {x-kubernetes-int-or-string: true}
              labels: {type: object, additionalProperties: {type: string}}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
              items: {type: array, items: {type: object, properties: {name: {type: string}}}}
`)
	v := New()
	if n, err := v.AddCRDs([]manifest.Document{crd}); err != nil || n != 1 {
		t.Fatalf("AddCRDs = %d, %v", n, err)
	}
	errs, known := v.Validate(decode(t, `apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: ns}
spec:
  size: 3
  mode: fast
  port: http
  labels: {a: b}
  extra: {anything: [1, 2]}
  items: [{name: a}]
`).Object)
	if !known || len(errs) > 0 {
		t.Fatalf("valid widget: known %v, problems:\n%s", known, problems(errs))
	}
	errs, _ = v.Validate(decode(t, `apiVersion: example.com/v1
kind: Widget
metadata: {name: w, nmespace: ns}
spec:
  mode: medium
  port: 1.5
  labels: {a: 1}
  items: [{nam: a}]
  colour: red
`).Object)
	want := []string{
		"metadata.nmespace: unknown field; did you mean namespace?",
		"spec.colour: unknown field",
		"spec.items[0].nam: unknown field; did you mean name?",
		"spec.labels.a: want a string, got a number",
		`spec.mode: unsupported value "medium"; want one of fast, slow`,
		"spec.port: want an integer or a string, got a number",
		"spec.size: required field is missing",
	}
	if got := problems(errs); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// Another version of the group is not known.
	if _, known := v.Validate(map[string]any{"apiVersion": "example.com/v2", "kind": "Widget", "metadata": map[string]any{"name": "w"}}); known {
		t.Error("example.com/v2 Widget is known")
	}
}

func TestAddCRDsRefusesInvalidDefinitions(t *testing.T) {
	t.Parallel()
	docs, err := manifest.Decode("crd.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versionz: []
`))
	if err != nil {
		t.Fatal(err)
	}
	n, err := New().AddCRDs(docs)
	if n != 0 || err == nil || !strings.Contains(err.Error(), "crd.yaml:12: CustomResourceDefinition \"widgets.example.com\": spec.versionz: unknown field; did you mean versions?") {
		t.Fatalf("AddCRDs = %d, %v", n, err)
	}
}

// Hostile documents: deep nesting and many problems stay bounded.
func TestValidateHostile(t *testing.T) {
	t.Parallel()
	v := New()
	// A CustomResourceDefinition nested 300 levels deep in its schema.
	var props any = map[string]any{"type": "string"}
	for i := 0; i < 300; i++ {
		props = map[string]any{"type": "object", "properties": map[string]any{"x": props}}
	}
	crd := map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "deep.example.com"},
		"spec": map[string]any{"group": "example.com", "scope": "Namespaced",
			"names":    map[string]any{"kind": "Deep", "plural": "deeps"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true, "schema": map[string]any{"openAPIV3Schema": props}}}}}
	errs, _ := v.Validate(crd)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "nested more than") {
		t.Errorf("deep CRD: %s", problems(errs))
	}
	// A Pod with thousands of unknown fields reports MaxErrors and a count.
	spec := map[string]any{"containers": []any{map[string]any{"name": "c", "image": "i"}}}
	for i := 0; i < 5000; i++ {
		spec[fmt.Sprintf("field%d", i)] = i
	}
	errs, _ = v.Validate(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p"}, "spec": spec})
	if len(errs) != MaxErrors+1 || errs[len(errs)-1].Msg != fmt.Sprintf("and %d more schema problems", 5000-MaxErrors) {
		t.Errorf("got %d problems, last %+v", len(errs), errs[len(errs)-1])
	}
}

// TestValidateValidBuildsNoPaths checks that a valid document costs no
// path text: paths are written out only for problems. Before, every field
// and list element allocated its dotted path (44 allocations for this
// Pod).
func TestValidateValidBuildsNoPaths(t *testing.T) {
	v := New()
	doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns, labels: {app: x, team: z}}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers:\n  - name: c\n    image: nginx:1.27\n    ports: [{containerPort: 80}, {containerPort: 443}]\n    env: [{name: A, value: a}, {name: B, value: b}]\n    volumeMounts: [{name: v, mountPath: /v}]\n  volumes: [{name: v, emptyDir: {}}]\n"
	docs, err := manifest.Decode("p.yaml", []byte(doc))
	if err != nil || len(docs) != 1 {
		t.Fatalf("decode: %v", err)
	}
	obj := docs[0].Object
	if errs, known := v.Validate(obj); len(errs) > 0 || !known {
		t.Fatalf("Validate = %v, %v", errs, known)
	}
	allocs := testing.AllocsPerRun(20, func() { v.Validate(obj) })
	// 10 on 2026-12-05: slices of keys of the objects with more than
	// one field, the top-level copy, the walker and its path stack.
	if allocs > 15 {
		t.Errorf("Validate of a valid Pod: %.0f allocations, want at most 15", allocs)
	}
}
