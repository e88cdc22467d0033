package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/cli"
)

// TestScanTableWidth checks that --width cuts every finding line with an
// ellipsis, that --verbose keeps the messages whole, and that neither
// prints colours when the output is no terminal.
func TestScanTableWidth(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "scan", examplesDir, "--width", "72")
	if got.code != cli.ExitFindings {
		t.Fatalf("exit code %d: %s", got.code, got.stderr)
	}
	cut := 0
	for _, l := range strings.Split(got.stdout, "\n") {
		// The summary lines are whole at any width.
		if strings.HasPrefix(l, "Scanned ") || strings.HasPrefix(l, "Failures by severity") ||
			strings.HasPrefix(l, "Frameworks: ") || strings.HasPrefix(l, "Controls not run ") {
			continue
		}
		if n := utf8.RuneCountInString(l); n > 72 {
			t.Errorf("line of %d characters at --width 72: %q", n, l)
		}
		if strings.HasSuffix(l, "…") {
			cut++
		}
	}
	if cut == 0 {
		t.Errorf("no line was cut at --width 72:\n%s", got.stdout)
	}
	if strings.Contains(got.stdout, "\x1b[") {
		t.Errorf("colours in output that is no terminal")
	}
	verbose := runCLI(t, "", "scan", noncompliantPod, "--width", "72", "--verbose")
	for _, want := range []string{
		"Only capabilities from the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) may be added to a container.",
		"policy restrict-image-registries, rule validate-registries, path /spec/containers/0/image/",
	} {
		if !strings.Contains(verbose.stdout, want) {
			t.Errorf("--verbose lacks %q:\n%s", want, verbose.stdout)
		}
	}
}

// TestScanJSONLocations checks that every finding of `scan -o json` names
// its file, the line of the failing field and its control.
func TestScanJSONLocations(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "scan", noncompliantPod, "-o", "json")
	var out struct {
		Results []struct {
			Policy    string `json:"policy"`
			Path      string `json:"path"`
			File      string `json:"file"`
			Line      int    `json:"line"`
			ControlID string `json:"controlID"`
		} `json:"results"`
		Summary struct {
			Controls []struct {
				ID        string `json:"id"`
				Failures  int    `json:"failures"`
				Resources int    `json:"resources"`
			} `json:"controls"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, got.stdout)
	}
	lines := map[string]int{}
	for _, r := range out.Results {
		if r.File != noncompliantPod || r.Line < 5 || r.ControlID == "" {
			t.Errorf("result of %s at %s:%d (control %q): want the file, a line of the Pod and a control", r.Policy, r.File, r.Line, r.ControlID)
		}
		lines[r.Policy] = r.Line
		if r.Policy == "restrict-image-registries" && r.Path != "/spec/containers/0/image/" {
			t.Errorf("registry failure at path %q, want /spec/containers/0/image/", r.Path)
		}
	}
	// The file's lines: hostNetwork on 13, the image on 21, privileged on 27.
	for policy, want := range map[string]int{"disallow-host-namespaces": 13, "restrict-image-registries": 21, "disallow-privileged-containers": 27} {
		if lines[policy] != want {
			t.Errorf("%s at line %d, want %d", policy, lines[policy], want)
		}
	}
	if len(out.Summary.Controls) != len(out.Results) || out.Summary.Controls[0].Resources != 1 {
		t.Errorf("summary controls %+v for %d results", out.Summary.Controls, len(out.Results))
	}
}

// TestScanSARIF checks `scan -o sarif` end to end: a SARIF 2.1.0 log whose
// results point at the manifest lines (the report package checks the
// shape field by field).
func TestScanSARIF(t *testing.T) {
	t.Parallel()
	got := runCLI(t, "", "scan", examplesDir, "-o", "sarif")
	if got.code != cli.ExitFindings {
		t.Fatalf("exit code %d: %s", got.code, got.stderr)
	}
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
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(got.stdout), &log); err != nil {
		t.Fatalf("invalid SARIF: %v\n%s", err, got.stdout)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) != 21 || len(log.Runs[0].Results) != 29 {
		t.Fatalf("SARIF %s with %d runs; want 2.1.0, 21 rules (the built-in policies and kubernetes-schema) and the 29 failures", log.Version, len(log.Runs))
	}
	for _, r := range log.Runs[0].Results {
		pl := r.Locations[0].PhysicalLocation
		if !strings.HasPrefix(pl.ArtifactLocation.URI, "../../examples/manifests/") || pl.Region.StartLine < 1 {
			t.Errorf("result %s at %s:%d", r.RuleID, pl.ArtifactLocation.URI, pl.Region.StartLine)
		}
	}
}
