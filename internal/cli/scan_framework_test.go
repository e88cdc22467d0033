package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
)

// twoNamespaces holds a privileged Pod in each of two namespaces.
const twoNamespaces = `apiVersion: v1
kind: Pod
metadata: {name: a, namespace: team-a}
spec:
  containers:
  - name: c
    image: ghcr.io/org/app:1.0
    securityContext: {privileged: true}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: team-b}
spec:
  containers:
  - name: c
    image: ghcr.io/org/app:1.0
    securityContext: {privileged: true}
`

// frameworkSummary is the part of -o json the framework tests read.
type frameworkSummary struct {
	Results []struct {
		Control  string `json:"control"`
		Resource struct {
			Namespace string `json:"namespace"`
		} `json:"resource"`
	} `json:"results"`
	Summary struct {
		Resources     int `json:"resources"`
		ControlScores []struct {
			ID    string  `json:"id"`
			Score float64 `json:"complianceScore"`
		} `json:"controlScores"`
		Frameworks []struct {
			Name     string  `json:"name"`
			Score    float64 `json:"complianceScore"`
			Controls int     `json:"controls"`
			NotRun   int     `json:"controlsNotRun"`
		} `json:"frameworks"`
		ComplianceScore *float64 `json:"complianceScore"`
	} `json:"summary"`
}

func decodeFramework(t *testing.T, out outcome) frameworkSummary {
	t.Helper()
	var s frameworkSummary
	if err := json.Unmarshal([]byte(out.stdout), &s); err != nil {
		t.Fatalf("exit %d: %v\n%s\n%s", out.code, err, out.stdout, out.stderr)
	}
	return s
}

func TestScanFramework(t *testing.T) {
	t.Parallel()
	t.Run("nsa selects its controls", func(t *testing.T) {
		t.Parallel()
		out := runCLI(t, "", "scan", examplesDir, "--framework", "NSA", "-o", "json", "--all")
		s := decodeFramework(t, out)
		if out.code != cli.ExitFindings {
			t.Fatalf("exit %d", out.code)
		}
		if len(s.Summary.Frameworks) != 1 || s.Summary.Frameworks[0].Name != "nsa" || s.Summary.ComplianceScore == nil {
			t.Fatalf("summary %+v", s.Summary)
		}
		ids := map[string]bool{}
		for _, c := range s.Summary.ControlScores {
			ids[c.ID] = true
		}
		if !ids["PC-0001"] || !ids["PSS-B-03"] || ids["RUNBOOK-02"] || ids["PSS-B-07"] {
			t.Errorf("controls %v: want the nsa controls only", ids)
		}
		for _, r := range s.Results {
			if !ids[r.Control] {
				t.Errorf("result of control %q outside the framework", r.Control)
			}
		}
	})
	t.Run("a plain scan summarises the frameworks", func(t *testing.T) {
		t.Parallel()
		out := runCLI(t, "", "scan", examplesDir, "-o", "json")
		s := decodeFramework(t, out)
		if out.code != cli.ExitFindings {
			t.Fatalf("exit %d, want 1 as without the summary", out.code)
		}
		if len(s.Summary.Frameworks) != 2 || s.Summary.Frameworks[0].Name != "nsa" || s.Summary.Frameworks[1].Name != "cis" ||
			s.Summary.ComplianceScore == nil {
			t.Fatalf("summary %+v: want the nsa and cis scores", s.Summary)
		}
		for _, f := range s.Summary.Frameworks {
			// The hardening controls are not in the default sets.
			if f.NotRun == 0 || f.Controls == 0 || f.Score <= 0 || f.Score >= 100 {
				t.Errorf("framework %+v", f)
			}
		}
		for _, c := range s.Summary.ControlScores {
			if strings.HasPrefix(c.ID, "PC-") {
				t.Errorf("control %s of a set that did not run is scored", c.ID)
			}
		}
		table := runCLI(t, "", "scan", examplesDir, "--no-color", "--fail-on", "none")
		if table.code != 0 {
			t.Fatalf("--fail-on none: exit %d", table.code)
		}
		lines := strings.Split(strings.TrimSpace(table.stdout), "\n")
		if n := len(lines); n < 4 || !strings.HasPrefix(lines[n-3], "Frameworks: nsa ") || !strings.Contains(lines[n-3], "not run); cis ") ||
			!strings.HasPrefix(lines[n-2], "Compliance score ") || !strings.Contains(lines[n-1], "--framework nsa,cis runs them all") {
			t.Errorf("the table does not end with the framework scores:\n%s", table.stdout)
		}
		if !strings.Contains(table.stdout, "Failed controls:") {
			t.Errorf("the failed controls are no longer listed:\n%s", table.stdout)
		}
		// Policies of the user's own have no framework.
		own := decodeFramework(t, runCLI(t, "", "scan", examplesDir, "--policy", validPolicyDir, "-o", "json"))
		if len(own.Summary.Frameworks) != 0 || own.Summary.ComplianceScore != nil {
			t.Errorf("--policy scan with a framework view: %+v", own.Summary)
		}
	})
	t.Run("control by ID", func(t *testing.T) {
		t.Parallel()
		out := runCLI(t, twoNamespaces, "scan", "-", "--control", "pss-b-03,PC-0005", "-o", "json")
		s := decodeFramework(t, out)
		if len(s.Summary.ControlScores) != 2 || len(s.Summary.Frameworks) != 0 {
			t.Fatalf("summary %+v", s.Summary)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want check
	}{
		{"unknown framework", []string{"--framework", "mitre"},
			check{code: cli.ExitInvalid, stderr: []string{`unknown framework "mitre" (known: nsa, cis)`}}},
		{"unknown control", []string{"--control", "C-0017"},
			check{code: cli.ExitInvalid, stderr: []string{`unknown control "C-0017"`}}},
		{"framework and policy", []string{"--framework", "nsa", "--policy", validPolicyDir},
			check{code: cli.ExitInvalid, stderr: []string{"cannot be combined with --policy"}}},
		{"compliance below the threshold", []string{"--framework", "nsa", "--fail-on", "none", "--compliance-threshold", "99"},
			check{code: cli.ExitFindings, stderr: []string{"is below --compliance-threshold 99%"}}},
		{"compliance above the threshold", []string{"--framework", "nsa", "--fail-on", "none", "--compliance-threshold", "10"},
			check{code: 0, stdout: []string{"Frameworks: nsa ", "Compliance score "}}},
		{"compliance threshold out of range", []string{"--compliance-threshold", "101"},
			check{code: cli.ExitInvalid, stderr: []string{"want a percentage from 0 to 100"}}},
		{"severity threshold above every failure", []string{"--framework", "cis", "--severity-threshold", "critical"},
			check{code: 0}},
		{"severity threshold", []string{"--framework", "cis", "--severity-threshold", "high"},
			check{code: cli.ExitFindings, stderr: []string{"at or above severity high"}}},
		{"severity threshold against fail-on", []string{"--severity-threshold", "high", "--fail-on", "low"},
			check{code: cli.ExitInvalid, stderr: []string{"the same setting"}}},
		{"kubeconfig without cluster", []string{"--context", "prod"},
			check{code: cli.ExitInvalid, stderr: []string{"apply to --cluster"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.verify(t, runCLI(t, "", append([]string{"scan", examplesDir}, tc.args...)...))
		})
	}
}

func TestScanExcludeNamespaces(t *testing.T) {
	t.Parallel()
	s := decodeFramework(t, runCLI(t, twoNamespaces, "scan", "-", "--set", "pss-baseline", "-o", "json", "--exclude-namespaces", "team-b,kube-system"))
	if s.Summary.Resources != 1 {
		t.Fatalf("%d resources, want team-a's only", s.Summary.Resources)
	}
	for _, r := range s.Results {
		if r.Resource.Namespace != "team-a" {
			t.Errorf("result of namespace %q", r.Resource.Namespace)
		}
	}
}

// unreachableKubeconfig writes a kubeconfig whose current context, gone,
// points at a closed port of 127.0.0.1, and returns its path.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	const config = `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: gone
  context: {cluster: gone, user: u}
current-context: gone
`
	if err := os.WriteFile(kc, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc
}

func TestScanClusterUnreachable(t *testing.T) {
	t.Parallel()
	kc := unreachableKubeconfig(t)
	check{code: cli.ExitInvalid, stderr: []string{"cannot reach the cluster gone at https://127.0.0.1:1"}}.
		verify(t, runCLI(t, "", "scan", "--cluster", "--kubeconfig", kc))
	check{code: cli.ExitInvalid, stderr: []string{"--cluster scans the cluster: give no PATH"}}.
		verify(t, runCLI(t, "", "scan", "--cluster", "--kubeconfig", kc, examplesDir))
}

func TestScanOutputFormats(t *testing.T) {
	t.Parallel()
	for _, f := range []struct{ format, want string }{
		{"junit", "<testsuites name=\"portcullis\""},
		{"html", "<!DOCTYPE html>"},
		{"policyreport", "kind: PolicyReport"},
	} {
		t.Run(f.format, func(t *testing.T) {
			t.Parallel()
			out := runCLI(t, "", "scan", examplesDir, "--framework", "nsa", "-o", f.format)
			if out.code != cli.ExitFindings || !strings.Contains(out.stdout, f.want) {
				t.Errorf("exit %d, output lacks %q:\n%.400s\n%s", out.code, f.want, out.stdout, out.stderr)
			}
		})
	}
}
