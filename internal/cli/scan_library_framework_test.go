//go:build !offline

package cli_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/kubescape"
	"github.com/portcullis/portcullis/internal/testing/corpus"
	yaml "go.yaml.in/yaml/v3"
	"golang.org/x/net/html"
)

// libraryWorkloads are manifests in the manner of the library's rule
// tests: a privileged Pod (C-0057, an NSA control), a Pod
// that is not (in another namespace), and a binding to cluster-admin.
const libraryWorkloads = `apiVersion: v1
kind: Pod
metadata:
  name: priv
  namespace: default
spec:
  containers:
  - name: c
    image: nginx
    securityContext:
      privileged: true
---
apiVersion: v1
kind: Pod
metadata:
  name: plain
  namespace: team-b
spec:
  containers:
  - name: c
    image: nginx
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: admin-binding
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: User
  name: alice
  apiGroup: rbac.authorization.k8s.io
`

// libraryScan scans libraryWorkloads with the shared Kubescape library.
func libraryScan(t *testing.T, args ...string) outcome {
	t.Helper()
	lib := corpus.Kubescape(t)
	file := filepath.Join(t.TempDir(), "workloads.yaml")
	if err := os.WriteFile(file, []byte(libraryWorkloads), 0o644); err != nil {
		t.Fatal(err)
	}
	return runCLI(t, "", append([]string{"scan", "--library", lib, file}, args...)...)
}

func scoreIDs(s frameworkSummary) []string {
	var ids []string
	for _, c := range s.Summary.ControlScores {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestScanLibraryFramework(t *testing.T) {
	t.Parallel()
	s := decodeFramework(t, libraryScan(t, "--framework", "nsa,MITRE", "-o", "json"))
	var names []string
	for _, f := range s.Summary.Frameworks {
		names = append(names, f.Name)
		if f.Score <= 0 || f.Score >= 100 {
			t.Errorf("framework %s scores %v, want between 0 and 100", f.Name, f.Score)
		}
	}
	if !slices.Equal(names, []string{"NSA", "MITRE"}) {
		t.Errorf("frameworks %v, want NSA and MITRE", names)
	}
	ids := scoreIDs(s)
	// C-0057 (privileged container) is an NSA control, C-0035
	// (administrative roles) one of both; C-0018 (readiness probe, which
	// both Pods fail) is in neither and must not run.
	for _, id := range []string{"C-0057", "C-0035"} {
		if !slices.Contains(ids, id) {
			t.Errorf("control %s not scored: %v", id, ids)
		}
	}
	if slices.Contains(ids, "C-0018") {
		t.Errorf("C-0018 ran, but is in neither framework: %v", ids)
	}
	for _, r := range s.Results {
		if !slices.Contains(ids, r.Control) {
			t.Errorf("result of unselected control %s", r.Control)
		}
	}
	if s.Summary.ComplianceScore == nil {
		t.Error("no compliance score")
	}
}

func TestScanLibraryControl(t *testing.T) {
	t.Parallel()
	out := libraryScan(t, "--control", "c-0057", "-o", "json")
	if out.code != cli.ExitFindings {
		t.Fatalf("exit %d, want 1\n%s", out.code, out.stderr)
	}
	s := decodeFramework(t, out)
	if ids := scoreIDs(s); !slices.Equal(ids, []string{"C-0057"}) {
		t.Fatalf("controls scored %v, want C-0057 alone", ids)
	}
	c := s.Summary.ControlScores[0]
	// Two Pods: one privileged. Score 1 of 2 passed = 50%.
	if c.Score != 50 {
		t.Errorf("C-0057 scores %v, want 50", c.Score)
	}
	failed := 0
	for _, r := range s.Results {
		if r.Control != "C-0057" {
			t.Errorf("result of control %s", r.Control)
		}
		failed++
	}
	if failed != 1 {
		t.Errorf("%d failures listed, want 1", failed)
	}
	// --exclude-namespaces leaves the privileged Pod out: nothing fails.
	out = libraryScan(t, "--control", "C-0057", "--exclude-namespaces", "default", "-o", "json")
	if out.code != 0 {
		t.Errorf("--exclude-namespaces default: exit %d, want 0\n%s", out.code, out.stdout)
	}
	// The compliance threshold decides the exit code with --fail-on none.
	if out := libraryScan(t, "--control", "C-0057", "--fail-on", "none", "--compliance-threshold", "60"); out.code != cli.ExitFindings ||
		!strings.Contains(out.stderr, "below --compliance-threshold") {
		t.Errorf("--compliance-threshold 60: exit %d\n%s", out.code, out.stderr)
	}
	if out := libraryScan(t, "--control", "C-0057", "--fail-on", "none", "--compliance-threshold", "40"); out.code != 0 {
		t.Errorf("--compliance-threshold 40: exit %d\n%s", out.code, out.stderr)
	}
}

func TestScanLibraryUnknown(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--framework", "nope"}, {"--control", "C-9999"}, {"-o", "yaml"}} {
		out := libraryScan(t, args...)
		if out.code != cli.ExitInvalid {
			t.Errorf("%v: exit %d, want 2\n%s", args, out.code, out.stderr)
		}
	}
	out := libraryScan(t, "--framework", "nope")
	for _, w := range []string{`unknown framework "nope"`, "NSA", "MITRE"} {
		if !strings.Contains(out.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, out.stderr)
		}
	}
}

// TestScanLibraryOutputs parses every output format of a library scan
// with the framework view.
func TestScanLibraryOutputs(t *testing.T) {
	t.Parallel()
	parse := map[string]func(t *testing.T, out string){
		"table": func(t *testing.T, out string) {
			for _, w := range []string{"C-0057", "Frameworks: NSA", "Compliance score"} {
				if !strings.Contains(out, w) {
					t.Errorf("table lacks %q", w)
				}
			}
		},
		"json": func(t *testing.T, out string) {
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Error(err)
			}
		},
		"sarif": func(t *testing.T, out string) {
			var log struct {
				Version string `json:"version"`
				Runs    []struct {
					Tool struct {
						Driver struct {
							Rules []struct {
								ID string `json:"id"`
							} `json:"rules"`
						} `json:"driver"`
					} `json:"tool"`
					Results []struct {
						RuleID     string         `json:"ruleId"`
						Properties map[string]any `json:"properties"`
						Fixes      []struct {
							ArtifactChanges []struct {
								Replacements []struct {
									DeletedRegion struct {
										StartLine, StartColumn, EndLine, EndColumn int
									} `json:"deletedRegion"`
									InsertedContent struct {
										Text string `json:"text"`
									} `json:"insertedContent"`
								} `json:"replacements"`
							} `json:"artifactChanges"`
						} `json:"fixes"`
						Locations []struct {
							Physical struct {
								Region struct {
									StartLine int `json:"startLine"`
								} `json:"region"`
							} `json:"physicalLocation"`
						} `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil {
				t.Fatal(err)
			}
			if log.Version != "2.1.0" || len(log.Runs) != 1 {
				t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
			}
			found := false
			for _, r := range log.Runs[0].Results {
				if r.RuleID == "C-0057" && len(r.Locations) > 0 && r.Locations[0].Physical.Region.StartLine == 11 {
					found = true
				}
			}
			if !found {
				t.Errorf("no C-0057 result at line 11:\n%.600s", out)
			}
			// The rule's fix paths are the result's fix (a JSON patch).
			const fix = `[{"op":"add","path":"/spec/containers/0/securityContext/readOnlyRootFilesystem","value":true}]`
			found = false
			for _, r := range log.Runs[0].Results {
				found = found || (r.RuleID == "C-0017" && r.Properties["fix"] == fix)
			}
			if !found {
				t.Errorf("no C-0017 result with the fix %s", fix)
			}
			// ... and its SARIF fix: readOnlyRootFilesystem inserted in
			// the securityContext of the privileged Pod, before its first
			// field (line 11, column 7).
			found = false
			for _, r := range log.Runs[0].Results {
				if r.RuleID != "C-0017" || len(r.Fixes) != 1 || len(r.Fixes[0].ArtifactChanges) != 1 {
					continue
				}
				reps := r.Fixes[0].ArtifactChanges[0].Replacements
				found = found || (len(reps) == 1 && reps[0].DeletedRegion.StartLine == 11 && reps[0].DeletedRegion.StartColumn == 7 &&
					reps[0].DeletedRegion.EndLine == 11 && reps[0].DeletedRegion.EndColumn == 7 &&
					reps[0].InsertedContent.Text == "readOnlyRootFilesystem: true\n      ")
			}
			if !found {
				t.Errorf("no C-0017 result with a SARIF fix inserting readOnlyRootFilesystem at 11:7:\n%s", out)
			}
		},
		"junit": func(t *testing.T, out string) {
			var suites struct {
				Suites []struct {
					Name  string `xml:"name,attr"`
					Cases []struct {
						Name    string    `xml:"name,attr"`
						Failure *struct{} `xml:"failure"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal([]byte(out), &suites); err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, s := range suites.Suites {
				if strings.Contains(s.Name, "C-0057") {
					for _, c := range s.Cases {
						if c.Failure != nil {
							failed++
						}
					}
				}
			}
			if failed != 1 {
				t.Errorf("C-0057 has %d failed testcases, want 1:\n%.800s", failed, out)
			}
		},
		"html": func(t *testing.T, out string) {
			if _, err := html.Parse(strings.NewReader(out)); err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"<!DOCTYPE html>", "C-0057", "NSA"} {
				if !strings.Contains(out, w) {
					t.Errorf("html lacks %q", w)
				}
			}
		},
		"policyreport": func(t *testing.T, out string) {
			dec := yaml.NewDecoder(bytes.NewReader([]byte(out)))
			kinds := 0
			for {
				var doc struct {
					APIVersion string `yaml:"apiVersion"`
					Kind       string `yaml:"kind"`
					Results    []struct {
						Policy string `yaml:"policy"`
						Result string `yaml:"result"`
					} `yaml:"results"`
				}
				err := dec.Decode(&doc)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if doc.APIVersion != "wgpolicyk8s.io/v1alpha2" {
					t.Errorf("apiVersion %q", doc.APIVersion)
				}
				kinds++
			}
			if kinds == 0 || !strings.Contains(out, "C-0057") {
				t.Errorf("%d reports, C-0057 named: %v", kinds, strings.Contains(out, "C-0057"))
			}
		},
	}
	for format, check := range parse {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			out := libraryScan(t, "--framework", "nsa", "-o", format, "--no-color", "--width", "0")
			if out.code != cli.ExitFindings {
				t.Fatalf("exit %d, want 1\n%s", out.code, out.stderr)
			}
			check(t, out.stdout)
		})
	}
}

func TestLibraryKinds(t *testing.T) {
	t.Parallel()
	lib, err := kubescape.Load(corpus.Kubescape(t))
	if err != nil {
		t.Fatal(err)
	}
	// C-0185 (cluster-admin role) reads RBAC objects, its rule matching
	// them in any group and version ("*"); C-0057 (privileged
	// container) the pod kinds.
	var got []string
	for _, g := range cli.LibraryKinds(lib, []string{"C-0185", "C-0057"}) {
		got = append(got, g.GroupVersion().String()+" "+g.Kind)
	}
	for _, want := range []string{"rbac.authorization.k8s.io/v1 ClusterRoleBinding", "rbac.authorization.k8s.io/v1 ClusterRole",
		"v1 Pod", "apps/v1 Deployment", "batch/v1 CronJob"} {
		if !slices.Contains(got, want) {
			t.Errorf("kinds lack %s: %v", want, got)
		}
	}
	for _, k := range got {
		if strings.Contains(k, "*") || strings.Contains(k, "hostdata") {
			t.Errorf("kind %q cannot be listed", k)
		}
	}
}

// TestScanLibraryCluster checks that --cluster goes to the cluster with
// a library: an unreachable one is an error naming it.
func TestScanLibraryCluster(t *testing.T) {
	t.Parallel()
	kc := unreachableKubeconfig(t)
	out := runCLI(t, "", "scan", "--library", corpus.Kubescape(t), "--framework", "nsa", "--cluster", "--kubeconfig", kc)
	if out.code != cli.ExitInvalid || !strings.Contains(out.stderr, "cannot reach the cluster gone") {
		t.Errorf("exit %d, stderr:\n%s", out.code, out.stderr)
	}
}
