//go:build !offline

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLibrary writes a one-control Kubescape library (C-9001, high) whose
// rule fails privileged Pods, with one rule test case per entry of cases
// (case name -> expected.json).
func writeLibrary(t *testing.T, cases map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"frameworks/fw.json":   `{"name": "FW", "activeControls": [{"controlID": "C-9001"}]}`,
		"controls/C-9001.json": `{"controlID": "C-9001", "name": "Privileged container", "baseScore": 8, "remediation": "Drop privileged.", "rulesNames": ["rule-privileged"]}`,
		"rules/rule-privileged/rule.metadata.json": `{"name": "rule-privileged", "ruleLanguage": "Rego",
			"match": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["Pod"]}]}`,
		"rules/rule-privileged/raw.rego": `package armo_builtins

deny[msga] {
	pod := input[_]
	container := pod.spec.containers[i]
	container.securityContext.privileged == true
	msga := {
		"alertMessage": sprintf("pod %v is privileged", [pod.metadata.name]),
		"packagename": "armo_builtins",
		"alertScore": 3,
		"failedPaths": [sprintf("spec.containers[%v].securityContext.privileged", [i])],
		"fixPaths": [],
		"alertObject": {"k8sApiObjects": [pod]},
	}
}
`,
		"default-config-inputs.json": `{"settings": {"postureControlInputs": {}}}`,
	}
	for name, expected := range cases {
		files["rules/rule-privileged/test/"+name+"/input/pod.yaml"] = libraryPrivilegedPod
		files["rules/rule-privileged/test/"+name+"/expected.json"] = expected
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const libraryPrivilegedPod = `apiVersion: v1
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
`

const expectedPrivileged = `[{"alertMessage": "pod priv is privileged", "failedPaths": ["spec.containers[0].securityContext.privileged"],
	"fixPaths": [], "ruleStatus": "", "packagename": "armo_builtins", "alertScore": 3,
	"alertObject": {"k8sApiObjects": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priv"}}]}}]`

func TestScanLibrary(t *testing.T) {
	lib := writeLibrary(t, nil)
	manifest := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(manifest, []byte(libraryPrivilegedPod), 0o644); err != nil {
		t.Fatal(err)
	}
	got := runCLI(t, "", "scan", "--library", lib, manifest, "--no-color", "--width", "0")
	if got.code != 1 {
		t.Fatalf("exit %d, want 1 (a failure)\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	for _, w := range []string{"Pod/default/priv", "C-9001", "high", "pod priv is privileged", "L11"} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, got.stdout)
		}
	}
	// The environment variable names the library too; --control-config
	// must be a readable file.
	t.Setenv("PORTCULLIS_LIBRARY", lib)
	if got := runCLI(t, "", "scan", manifest, "-o", "json"); got.code != 1 || !strings.Contains(got.stdout, `"policyKind":"KubescapeControl"`) {
		t.Errorf("PORTCULLIS_LIBRARY: exit %d\n%s", got.code, got.stdout)
	}
	if got := runCLI(t, "", "scan", manifest, "--control-config", filepath.Join(t.TempDir(), "none.json")); got.code != 2 {
		t.Errorf("missing --control-config: exit %d, want 2", got.code)
	}
	if got := runCLI(t, "", "scan", manifest, "--library", lib, "--policy", manifest); got.code != 2 || !strings.Contains(got.stderr, "cannot be combined") {
		t.Errorf("--library with --policy: exit %d, stderr %s", got.code, got.stderr)
	}
	t.Setenv("PORTCULLIS_LIBRARY", "")
	if got := runCLI(t, "", "scan", manifest, "--control-config", manifest); got.code != 2 || !strings.Contains(got.stderr, "give --library") {
		t.Errorf("--control-config without a library: exit %d, stderr %s", got.code, got.stderr)
	}
}

func TestTestLibrary(t *testing.T) {
	lib := writeLibrary(t, map[string]string{"right": expectedPrivileged, "wrong": `[]`})
	got := runCLI(t, "", "test", lib, "--detailed-results")
	if got.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", got.code, got.stdout, got.stderr)
	}
	for _, w := range []string{"rule-privileged  right", "rule-privileged  wrong", "expected.json differs",
		"Test Summary: 1 tests passed and 1 tests failed"} {
		if !strings.Contains(got.stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, got.stdout)
		}
	}
	ok := writeLibrary(t, map[string]string{"right": expectedPrivileged})
	if got := runCLI(t, "", "test", ok, "-o", "json"); got.code != 0 || !strings.Contains(got.stdout, `"summary": "Test Summary: 1 tests passed and 0 tests failed"`) {
		t.Errorf("exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}
