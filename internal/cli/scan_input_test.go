package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// writeTree writes files (path relative to dir -> content) below dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	compliantPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: good
  namespace: apps
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
  - name: app
    image: gcr.io/team/app:1.0
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 200m, memory: 128Mi}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities: {drop: [ALL]}
`
	configMapYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\ndata:\n  a: b\n"
)

// A repository mixing manifests with a Helm chart, values, a kustomization,
// a CI workflow and a kyverno test: only the manifests are scanned, the
// rest is listed with its reason.
func TestScanRealRepository(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"deploy/pod.yaml":                  compliantPodYAML,
		"deploy/config.yaml":               configMapYAML,
		"deploy/kustomization.yaml":        "resources:\n- pod.yaml\n- config.yaml\n",
		"overlays/prod/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../deploy]\n",
		"chart/Chart.yaml":                 "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
		"chart/values.yaml":                "replicaCount: 1\nimage: {repository: nginx}\n",
		"chart/templates/deployment.yaml":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n",
		"chart/templates/service.yaml":     "{{- if .Values.service }}\napiVersion: v1\nkind: Service\n{{- end }}\n",
		"chart/crds/widget.yaml":           "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n",
		"ci/build.yml":                     "name: build\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n    - uses: actions/checkout@v4\n",
		"policies/tests/kyverno-test.yaml": "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\npolicies: [p.yaml]\nresources: [r.yaml]\n",
		".github/workflows/ci.yml":         "name: ci\non: push\n",
	})
	got := runCLI(t, "", "scan", dir, "-o", "json")
	if got.code != cli.ExitOK {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	var out struct {
		Summary struct {
			Resources int `json:"resources"`
			Fail      int `json:"fail"`
		} `json:"summary"`
		Skipped []struct {
			Path      string `json:"path"`
			Reason    string `json:"reason"`
			Documents int    `json:"documents"`
		} `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatalf("JSON: %v\n%s", err, got.stdout)
	}
	// The pod, the ConfigMap and the chart's CRD.
	if out.Summary.Resources != 3 || out.Summary.Fail != 0 {
		t.Errorf("summary %+v, want 3 resources and no failure\n%s", out.Summary, got.stdout)
	}
	want := map[string]string{
		"chart/Chart.yaml":                 "Helm chart metadata",
		"chart/values.yaml":                "no kind",
		"chart/templates/deployment.yaml":  "Helm chart template",
		"chart/templates/service.yaml":     "Helm chart template",
		"ci/build.yml":                     "no kind",
		"deploy/kustomization.yaml":        "kustomize configuration",
		"overlays/prod/kustomization.yaml": "kustomize configuration",
		"policies/tests/kyverno-test.yaml": "Kyverno CLI file (Test)",
	}
	var paths []string
	for _, s := range out.Skipped {
		rel, _ := filepath.Rel(dir, s.Path)
		rel = filepath.ToSlash(rel)
		paths = append(paths, rel)
		if w, ok := want[rel]; !ok || !strings.Contains(s.Reason, w) {
			t.Errorf("skipped %s: %q, want a reason containing %q", rel, s.Reason, w)
		}
	}
	sort.Strings(paths)
	if len(paths) != len(want) {
		t.Errorf("skipped %v, want the %d files of %v", paths, len(want), want)
	}
	for _, n := range []string{"values.yaml:1: no kind: not a Kubernetes resource", "build.yml:1: no kind",
		"chart/templates: 2 Helm chart templates (render the chart: helm template CHART | portcullis scan -)"} {
		if !strings.Contains(got.stderr, n) {
			t.Errorf("stderr has no notice %q:\n%s", n, got.stderr)
		}
	}
	// The table run gives the same notices and passes.
	check{code: cli.ExitOK, stderr: []string{"notice: skipped", "kustomize configuration"},
		stdout: []string{"Scanned 3 resources"}}.verify(t, runCLI(t, "", "scan", dir))
}

// Nothing but non-resources is still an empty input.
func TestScanOnlyNonResources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
		"values.yaml":            "replicaCount: 1\n",
		"templates/pod.yaml":     "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}\n",
		"templates/_helpers.tpl": "{{- define \"x\" -}}{{- end -}}\n",
	})
	check{code: cli.ExitInvalid, stderr: []string{"no resources found", "3 files skipped", "templates: 1 Helm chart template"}}.verify(t, runCLI(t, "", "scan", dir))
	check{code: cli.ExitOK, stdout: []string{"Scanned 0 resources"}}.verify(t, runCLI(t, "", "scan", dir, "--allow-empty"))
}

func TestScanExclude(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badPod := "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: c\n    image: docker.io/x\n    securityContext: {privileged: true}\n"
	writeTree(t, dir, map[string]string{
		"app/pod.yaml":                   compliantPodYAML,
		"app/testdata/bad.yaml":          badPod,
		"vendor/lib/deep/bad.yaml":       badPod,
		"examples/bad.yaml":              badPod,
		"examples/keep/bad.yaml":         badPod,
		"broken.yaml":                    "kind: [\n",
		"generated/zz_generated.yaml":    badPod,
		"generated/zz_kept.yaml":         configMapYAML,
		".portcullisignore":              "# test data and vendored code\n**/testdata/\nvendor/\n\n*.generated.yaml\ngenerated/zz_*\n!generated/zz_kept.yaml\n",
		"other/.portcullisignore.yaml":   configMapYAML, // not an ignore file
		"other/nested/.portcullisignore": "*\n",         // only the scanned directory's file counts
	})
	// Without --exclude, examples/ and broken.yaml are scanned.
	check{code: cli.ExitInvalid, stderr: []string{"broken.yaml:1"}}.verify(t, runCLI(t, "", "scan", dir))
	got := runCLI(t, "", "scan", dir, "--exclude", "broken.yaml", "--exclude", "examples/**", "-o", "json", "--all")
	if got.code != cli.ExitOK {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	for _, s := range []string{"bad.yaml", "broken"} {
		if strings.Contains(got.stdout, s) || strings.Contains(got.stderr, s) {
			t.Errorf("output names excluded %s:\n%s\n%s", s, got.stdout, got.stderr)
		}
	}
	var out struct {
		Summary struct{ Resources int } `json:"summary"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatal(err)
	}
	// app/pod.yaml, generated/zz_kept.yaml (re-included) and other/.portcullisignore.yaml.
	if out.Summary.Resources != 3 {
		t.Errorf("%d resources scanned, want 3 (pod, kept ConfigMap, other ConfigMap):\n%s", out.Summary.Resources, got.stdout)
	}
	// "examples/**" leaves examples/keep too; a narrower pattern does not.
	check{code: cli.ExitFindings, stdoutRows: [][]string{{"Pod/bad"}}}.verify(t,
		runCLI(t, "", "scan", dir, "--exclude", "broken.yaml", "--exclude", "examples/*.yaml"))
	check{code: cli.ExitInvalid, stderr: []string{`invalid pattern "[x"`}}.verify(t, runCLI(t, "", "scan", dir, "--exclude", "[x"))
}

func TestScanSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"good.yaml": compliantPodYAML,
		"mixed.yaml": configMapYAML + `---
# a Pod whose image is a number and with a misspelt field
apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: apps
spec:
  containers:
  - name: app
    image: 5
    securityContext: {privileged: true}
  hostNetwrk: true
---
kind: Pod
metadata: {name: bare}
`,
		"widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: big}\n",
		"crd/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
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
          spec: {type: object, properties: {size: {type: integer}}}
`,
	})
	files := []string{filepath.Join(dir, "good.yaml"), filepath.Join(dir, "mixed.yaml"), filepath.Join(dir, "widget.yaml")}
	mixed := filepath.Join(dir, "mixed.yaml")
	got := runCLI(t, "", append([]string{"scan", "-o", "json"}, files...)...)
	if got.code != cli.ExitFindings {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	var out scanJSON
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatal(err)
	}
	var schemaMsgs []string
	for _, r := range out.Results {
		if r.Policy == "kubernetes-schema" {
			if r.Status != "fail" || r.Severity != "critical" {
				t.Errorf("schema result %+v is not a critical failure", r)
			}
			schemaMsgs = append(schemaMsgs, r.Message)
			continue
		}
		// No policy ran on the schema-invalid Pods.
		if r.Resource.Name == "broken" || r.Resource.Name == "bare" {
			t.Errorf("policy result on a schema-invalid document: %+v", r)
		}
	}
	want := []string{
		mixed + ":18: spec.containers[0].image: want a string, got a number",
		mixed + ":20: spec.hostNetwrk: unknown field; did you mean hostNetwork?",
		mixed + ":22: apiVersion: required field is missing",
		mixed + ":22: spec: required field is missing",
	}
	for _, w := range want {
		found := false
		for _, m := range schemaMsgs {
			found = found || m == w
		}
		if !found {
			t.Errorf("no schema result %q among %q", w, schemaMsgs)
		}
	}
	if len(schemaMsgs) != len(want) {
		t.Errorf("schema results %q, want %d", schemaMsgs, len(want))
	}
	if !strings.Contains(got.stderr, "notice: no schema for example.com/v1 Widget") {
		t.Errorf("no notice for the Widget kind:\n%s", got.stderr)
	}
	// The table names them too, at the line of each field, and the score
	// counts them as failures.
	check{code: cli.ExitFindings, stdoutRows: [][]string{{"Pod/apps/broken", "fail", "critical", "kubernetes-schema", "L18", "spec.containers[0].image:"},
		{"Pod/bare", "fail", "critical", "kubernetes-schema", "L22", "apiVersion:"}},
		stdout: []string{"Failures by severity: critical 4"}, notStdout: []string{mixed + ":18:"}}.verify(t, runCLI(t, "", append([]string{"scan", "--set", "pss-baseline"}, files...)...))
	// --no-schema evaluates the policies on every document instead.
	check{code: cli.ExitFindings, stdoutRows: [][]string{{"Pod/apps/broken", "fail", "high", "PSS-B-03"}},
		notStdout: []string{"kubernetes-schema"}}.verify(t, runCLI(t, "", append([]string{"scan", "--no-schema"}, files...)...))
	// With its CRD, the Widget is validated too.
	check{code: cli.ExitFindings, stdoutRows: [][]string{{"Widget/w", "fail", "critical", "kubernetes-schema", "L4", "spec.size:"}}}.verify(t,
		runCLI(t, "", "scan", filepath.Join(dir, "widget.yaml"), "--crd", filepath.Join(dir, "crd")))
	check{code: cli.ExitInvalid, stderr: []string{"no CustomResourceDefinition found"}}.verify(t,
		runCLI(t, "", "scan", filepath.Join(dir, "widget.yaml"), "--crd", filepath.Join(dir, "good.yaml")))
	check{code: cli.ExitInvalid, stderr: []string{"cannot be combined with --no-schema"}}.verify(t,
		runCLI(t, "", "scan", filepath.Join(dir, "widget.yaml"), "--crd", filepath.Join(dir, "crd"), "--no-schema"))
}

// Hostile input: a deeply nested document and one with thousands of
// unknown fields among valid ones finish quickly with bounded reports.
func TestScanHostileInputs(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("{a: ", 2000) + "1" + strings.Repeat("}", 2000)
	var wide strings.Builder
	for i := 0; i < 3000; i++ {
		wide.WriteString("  field" + strconv.Itoa(i) + ": 1\n")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"a-good.yaml": compliantPodYAML,
		"b-deep.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: deep, namespace: apps}\nspec:\n  containers: [{name: c, image: gcr.io/x/y:1}]\n  nested: " + deep + "\n",
		"c-wide.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: wide, namespace: apps}\nspec:\n  containers: [{name: c, image: gcr.io/x/y:1}]\n" + wide.String(),
		"d-crd.yaml":  "apiVersion: example.com/v1\nkind: Deep\nmetadata: {name: d}\nspec: " + deep + "\n",
	})
	got := runCLI(t, "", "scan", dir, "-o", "json", "--set", "pss-baseline")
	if got.code != cli.ExitFindings {
		t.Fatalf("exit code %d\nstderr:\n%s", got.code, got.stderr)
	}
	var out scanJSON
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for _, r := range out.Results {
		if r.Policy == "kubernetes-schema" {
			byName[r.Resource.Name]++
		}
	}
	// deep: one unknown field; wide: 50 problems and a count of the rest.
	if byName["deep"] != 1 || byName["wide"] != 51 || byName["good"] != 0 || out.Summary.Resources != 4 {
		t.Errorf("schema results by resource %v, %d resources", byName, out.Summary.Resources)
	}
}

// Skipped files and schema problems go through every streamed output: the
// table counts the skipped files, SARIF lists schema problems at their
// field's line under a kubernetes-schema rule and the skipped files as
// notifications, JSON lists both.
func TestScanSkippedAndSchemaOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"values.yaml": "replicaCount: 1\n",
		"pod.yaml":    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: typo\n  namespace: apps\nspec:\n  containers:\n  - name: app\n    image: 5\n",
	})
	check{code: cli.ExitFindings, stdout: []string{"Skipped 1 file (not scanned"},
		stdoutRows: [][]string{{"Pod/apps/typo", "fail", "critical", "kubernetes-schema", "L9"}}}.verify(t, runCLI(t, "", "scan", dir))

	got := runCLI(t, "", "scan", dir, "-o", "sarif")
	if got.code != cli.ExitFindings {
		t.Fatalf("exit code %d: %s", got.code, got.stderr)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID  string `json:"ruleId"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
			Invocations []struct {
				Notifications []struct {
					Message struct {
						Text string `json:"text"`
					} `json:"message"`
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct {
								URI string `json:"uri"`
							} `json:"artifactLocation"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"toolExecutionNotifications"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &log); err != nil || len(log.Runs) != 1 {
		t.Fatalf("invalid SARIF (%v):\n%s", err, got.stdout)
	}
	run := log.Runs[0]
	found := false
	for _, r := range run.Results {
		// The pseudo-policy has no control ID: its rule is named by kind and name.
		if r.RuleID == "Schema/kubernetes-schema" && len(r.Locations) == 1 && r.Locations[0].PhysicalLocation.Region.StartLine == 9 &&
			r.Message.Text == "spec.containers[0].image: want a string, got a number" {
			found = true
		}
	}
	if !found {
		t.Errorf("no kubernetes-schema result at line 9 (message without the location):\n%s", got.stdout)
	}
	if len(run.Invocations) != 1 || len(run.Invocations[0].Notifications) != 1 ||
		!strings.HasSuffix(run.Invocations[0].Notifications[0].Locations[0].PhysicalLocation.ArtifactLocation.URI, "/values.yaml") ||
		!strings.Contains(run.Invocations[0].Notifications[0].Message.Text, "no kind") {
		t.Errorf("skipped files not notified:\n%s", got.stdout)
	}

	got = runCLI(t, "", "scan", dir, "-o", "json")
	var out struct {
		Results []struct {
			Policy string `json:"policy"`
			Line   int    `json:"line"`
		} `json:"results"`
		Skipped []struct {
			Path string `json:"path"`
		} `json:"skipped"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatalf("invalid JSON (%v):\n%s", err, got.stdout)
	}
	if len(out.Skipped) != 1 || filepath.Base(out.Skipped[0].Path) != "values.yaml" || len(out.Results) != 1 ||
		out.Results[0].Policy != "kubernetes-schema" || out.Results[0].Line != 9 {
		t.Errorf("JSON results %+v, skipped %+v", out.Results, out.Skipped)
	}
}
