package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/engine"
)

// catalog describes the policies of the fixtures: two with control IDs,
// one without, one with several rules.
var catalog = Catalog{
	"ClusterPolicy/disallow-host-namespaces":  {ControlID: "PSS-B-02", Title: "Disallow Host Namespaces", Severity: "high", Rules: 1},
	"ClusterPolicy/restrict-image-registries": {ControlID: "RUNBOOK-02", Title: "Restrict Image Registries", Severity: "medium", Rules: 1},
	"ClusterPolicy/require-team-label":        {Title: "Team label", Severity: "low", Rules: 1},
	"ClusterPolicy/best-practices":            {Severity: "medium", Rules: 2, LongestRule: 9},
}

func res(policy, rule string, status engine.Status, severity, name, msg, path string) engine.Result {
	return engine.Result{Policy: policy, PolicyKind: engine.KindClusterPolicy, Rule: rule, Status: status, Severity: severity,
		Resource: engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "apps", Name: name}, Message: msg, Path: path}
}

// resources are two Pods of one file: web fails three controls, db passes
// everything.
func resources() []*Resource {
	return []*Resource{
		{File: "deploy/pods.yaml", Line: 3, Document: 1, Lines: []int{14, 22, 0, 9, 0},
			Results: []engine.Result{
				res("restrict-image-registries", "validate-registries", engine.StatusFail, "medium", "web",
					"validation failure: validation error: Images must come from an approved registry. rule validate-registries failed at path /image/",
					"/spec/containers/0/image/"),
				res("disallow-host-namespaces", "host-namespaces", engine.StatusFail, "high", "web",
					"validation error: Host namespaces are not allowed: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false. rule host-namespaces failed at path /spec/hostNetwork/",
					"/spec/hostNetwork/"),
				res("require-team-label", "check-team", engine.StatusPass, "low", "web", "rule passed", ""),
				res("best-practices", "no-latest", engine.StatusFail, "medium", "web", "validation error: the latest tag is not allowed. rule no-latest failed at path /spec/containers/0/image/", "/spec/containers/0/image/"),
				res("require-team-label", "check-team", engine.StatusWarn, "low", "web", "The label team is required.", ""),
			}},
		{File: "deploy/pods.yaml", Line: 40, Document: 2,
			Results: []engine.Result{res("disallow-host-namespaces", "host-namespaces", engine.StatusPass, "high", "db", "rule passed", "")}},
	}
}

func write(t *testing.T, w Writer) {
	t.Helper()
	for _, r := range resources() {
		if err := w.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTableGroupedAtWidth(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	scan := NewScan(4, 5, catalog)
	write(t, NewTableWriter(&buf, scan, TableOptions{Width: 80}))
	want := `Pod/apps/web  deploy/pods.yaml:3
  FAIL  high     PSS-B-02                  L22  Host namespaces are not allowed…
  FAIL  medium   RUNBOOK-02                L14  Images must come from an approv…
  FAIL  medium   best-practices/no-latest  L9   the latest tag is not allowed.
  WARN  low      require-team-label        L3   The label team is required.

Failed controls:
  ID                        SEVERITY  RESOURCES  FAILURES  POLICY
  PSS-B-02                  high      1          1         disallow-host-namesp…
  RUNBOOK-02                medium    1          1         restrict-image-regis…
  best-practices/no-latest  medium    1          1         best-practices

Scanned 2 resources with 4 policies (5 rules): 2 passed, 3 failed, 1 warnings, 0 errors, 0 skipped. Score 33.3%.
Failures by severity: high 1, medium 2.
`
	want = strings.ReplaceAll(want, "1 warnings, 0 errors", "1 warning, 0 errors")
	if got := buf.String(); got != want {
		t.Fatalf("table at width 80:\n%s\nwant:\n%s", got, want)
	}
	for i, l := range strings.Split(buf.String(), "\n") {
		if n := len([]rune(l)); n > 80 && !strings.HasPrefix(l, "Scanned") {
			t.Errorf("line %d is %d characters wide: %q", i+1, n, l)
		}
	}
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("colours without Color:\n%s", buf.String())
	}
	if !scan.FailsAt(3) || scan.FailsAt(4) {
		t.Errorf("FailsAt(high)=%v FailsAt(critical)=%v, want true, false", scan.FailsAt(3), scan.FailsAt(4))
	}
}

func TestTableVerboseColorAll(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	write(t, NewTableWriter(&buf, NewScan(4, 5, catalog), TableOptions{Width: 60, Verbose: true, Color: true, All: true}))
	out := buf.String()
	for _, want := range []string{
		// Whole messages, the policy, rule and path on the next line.
		"Host namespaces are not allowed: spec.hostNetwork, spec.hostPID and spec.hostIPC must be unset or false.",
		"policy disallow-host-namespaces, rule host-namespaces, path /spec/hostNetwork/",
		// Colours: a red FAIL, a red high, a bold resource.
		"\x1b[31mFAIL \x1b[0m", "\x1b[31mhigh    \x1b[0m", "\x1b[1mPod/apps/web\x1b[0m",
		// All: the passing db Pod is listed.
		"\x1b[1mPod/apps/db\x1b[0m  deploy/pods.yaml:40", "PASS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose table lacks %q:\n%s", want, out)
		}
	}
}

func TestTableNothingFailed(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewTableWriter(&buf, NewScan(4, 5, catalog), TableOptions{})
	if err := w.Put(resources()[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "Scanned 1 resource with 4 policies (5 rules): 1 passed, 0 failed, 0 warnings, 0 errors, 0 skipped. Score 100.0%.\n"
	if buf.String() != want {
		t.Fatalf("table = %q, want %q", buf.String(), want)
	}
}

func TestJSONStreamsValidJSON(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{false, true} {
		var buf bytes.Buffer
		write(t, NewJSONWriter(&buf, NewScan(4, 5, catalog), all))
		var got struct {
			Policies int          `json:"policies"`
			Rules    int          `json:"rules"`
			Results  []JSONResult `json:"results"`
			Summary  Summary      `json:"summary"`
		}
		dec := json.NewDecoder(&buf)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("all=%v: invalid JSON: %v\n%s", all, err, buf.String())
		}
		if dec.More() {
			t.Fatalf("more than one JSON value")
		}
		want := 4
		if all {
			want = 6
		}
		if len(got.Results) != want || got.Policies != 4 || got.Rules != 5 {
			t.Fatalf("all=%v: %d results, policies %d, rules %d", all, len(got.Results), got.Policies, got.Rules)
		}
		first := got.Results[0]
		if first.Policy != "disallow-host-namespaces" || first.File != "deploy/pods.yaml" || first.Line != 22 || first.ControlID != "PSS-B-02" ||
			!strings.Contains(first.Message, "rule host-namespaces failed at path") {
			t.Errorf("first result %+v: want the high failure, located, with its full message", first)
		}
		s := got.Summary
		if s.Resources != 2 || s.Fail != 3 || s.Pass != 2 || s.Warn != 1 || s.BySeverity["high"] != 1 || s.Score != 33.3 {
			t.Errorf("summary %+v", s)
		}
		if len(s.Controls) != 3 || s.Controls[0].ID != "PSS-B-02" || s.Controls[0].Resources != 1 || s.Controls[0].Title != "Disallow Host Namespaces" {
			t.Errorf("controls %+v", s.Controls)
		}
	}
	// Nothing written before the first resource; Close alone gives a
	// complete, empty document.
	var buf bytes.Buffer
	w := NewJSONWriter(&buf, NewScan(0, 0, nil), false)
	if buf.Len() != 0 {
		t.Fatalf("wrote %q before any resource", buf.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var empty struct {
		Results []JSONResult `json:"results"`
		Summary Summary      `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &empty); err != nil || len(empty.Results) != 0 || empty.Summary.Score != 100 {
		t.Fatalf("empty scan: %v\n%s", err, buf.String())
	}
}

func TestShortMessage(t *testing.T) {
	t.Parallel()
	cases := []struct{ msg, want string }{
		{"validation failure: validation error: Images must come from an approved registry. rule validate-registries failed at path /image/",
			"Images must come from an approved registry."},
		{"validation error: Running as root is not allowed. rule run-as-non-root[0] failed at path /spec/securityContext/runAsNonRoot/ rule run-as-non-root[1] failed at path /spec/containers/0/securityContext/runAsNonRoot/",
			"Running as root is not allowed."},
		{"validation failure: validation failure: container sidecar port 443 is privileged", "container sidecar port 443 is privileged"},
		{"The label team\n  is required.", "The label team is required."},
		// A rule that is not Kyverno's path clause stays.
		{"the rule foo failed at least twice", "the rule foo failed at least twice"},
		{"validation error: ", "validation error:"},
	}
	for _, c := range cases {
		r := engine.Result{Message: c.msg}
		if got := ShortMessage(&r); got != c.want {
			t.Errorf("ShortMessage(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}

func TestParseFailOn(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"none": 0, "low": 1, "MEDIUM": 2, "high": 3, "critical": 4} {
		if got, err := ParseFailOn(s); err != nil || got != want {
			t.Errorf("ParseFailOn(%s) = %d, %v", s, got, err)
		}
	}
	if _, err := ParseFailOn("severe"); err == nil || !strings.Contains(err.Error(), "unknown severity") {
		t.Fatalf("ParseFailOn(severe) error = %v", err)
	}
}
