package kubescape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/portcullis/portcullis/internal/engine"
)

// lib is a small control library written into a temporary directory.
type lib map[string]string // relative path -> content

func (l lib) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range l {
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

const podMatch = `"match": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["Pod"]}]`

const privilegedRego = `package armo_builtins

deny[msga] {
	pod := input[_]
	pod.kind == "Pod"
	container := pod.spec.containers[i]
	container.securityContext.privileged == true
	path := sprintf("spec.containers[%v].securityContext.privileged", [i])
	msga := {
		"alertMessage": sprintf("the following pods are defined as privileged: %v", [pod.metadata.name]),
		"packagename": "armo_builtins",
		"alertScore": 3,
		"failedPaths": [path],
		"fixPaths": [],
		"alertObject": {"k8sApiObjects": [pod]},
	}
}
`

// baseLib is a library with one control (C-9001, baseScore 7.5) and its rule.
func baseLib() lib {
	return lib{
		"frameworks/test.json":                     `{"name": "TestFW", "activeControls": [{"controlID": "C-9001"}]}`,
		"controls/C-9001.json":                     `{"controlID": "C-9001", "name": "Privileged container", "baseScore": 7.5, "remediation": "Remove privileged.", "rulesNames": ["rule-privileged"]}`,
		"rules/rule-privileged/rule.metadata.json": `{"name": "rule-privileged", "ruleLanguage": "Rego", ` + podMatch + `}`,
		"rules/rule-privileged/raw.rego":           privilegedRego,
		"default-config-inputs.json":               `{"settings": {"postureControlInputs": {"x": ["default"]}}}`,
	}
}

func pod(name string, privileged bool) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "ns"},
		"spec": map[string]any{"containers": []any{map[string]any{
			"name": "c", "image": "nginx",
			"securityContext": map[string]any{"privileged": privileged},
		}}},
	}
}

func load(t *testing.T, l lib, opts ...Option) *Library {
	t.Helper()
	got, err := Load(l.write(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestLoadCatalog(t *testing.T) {
	l := load(t, baseLib())
	fw := l.Framework("testfw")
	if fw == nil || len(fw.Controls) != 1 || fw.Controls[0] != "C-9001" {
		t.Fatalf("framework = %+v", fw)
	}
	c := l.Controls["C-9001"]
	if c == nil || c.Severity != "high" || c.Name != "Privileged container" || c.Rules[0] != "rule-privileged" {
		t.Fatalf("control = %+v", c)
	}
	if _, err := l.ControlsOf("nope"); err == nil || !strings.Contains(err.Error(), "TestFW") {
		t.Fatalf("unknown framework: %v", err)
	}
}

func TestLoadReportsBadFiles(t *testing.T) {
	cases := map[string]struct {
		edit func(lib)
		want []string
	}{
		"malformed metadata": {func(l lib) {
			l["rules/rule-privileged/rule.metadata.json"] = "{\n\"name\": \"rule-privileged\",\n\"match\": [\n}"
		}, []string{"rule-privileged/rule.metadata.json", "line 4"}},
		"rego syntax error": {func(l lib) {
			l["rules/rule-privileged/raw.rego"] = "package armo_builtins\n\ndeny[msga] {\n\tmsga := \n"
		}, []string{"rule-privileged/raw.rego:"}},
		"rego that does not compile": {func(l lib) {
			l["rules/rule-privileged/raw.rego"] = "package armo_builtins\n\ndeny[msga] {\n\tmsga := no_such_function(input)\n}\n"
		}, []string{"rule-privileged/raw.rego:4", "no_such_function"}},
		"missing raw.rego": {func(l lib) {
			delete(l, "rules/rule-privileged/raw.rego")
		}, []string{"rule rule-privileged without raw.rego"}},
		"missing metadata": {func(l lib) {
			delete(l, "rules/rule-privileged/rule.metadata.json")
		}, []string{"rule-privileged: rule without rule.metadata.json"}},
		"wrong package": {func(l lib) {
			l["rules/rule-privileged/raw.rego"] = strings.Replace(privilegedRego, "armo_builtins", "other", 1)
		}, []string{"raw.rego: package other, want armo_builtins"}},
		"malformed control": {func(l lib) {
			l["controls/C-9001.json"] = `{"controlID": `
		}, []string{"controls/C-9001.json"}},
		"malformed framework": {func(l lib) {
			l["frameworks/test.json"] = `[]`
		}, []string{"frameworks/test.json"}},
		"malformed config inputs": {func(l lib) {
			l["default-config-inputs.json"] = `{"settings": {"postureControlInputs": {"x": "not a list"}}}`
		}, []string{"default-config-inputs.json"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			l := baseLib()
			tc.edit(l)
			_, err := Load(l.write(t))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestScanResults(t *testing.T) {
	l := load(t, baseLib())
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cm"}}
	fs, err := l.Scan(context.Background(), []map[string]any{pod("bad", true), pod("good", false), cm}, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2 (the ConfigMap is not matched): %+v", len(fs), fs)
	}
	bad, good := fs[0], fs[1]
	want := engine.Result{Policy: "C-9001", PolicyKind: engine.KindKubescapeControl, Control: "C-9001", Rule: "rule-privileged",
		Resource: engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "ns", Name: "bad"}, Status: engine.StatusFail,
		Message: "the following pods are defined as privileged: bad", Path: "/spec/containers/0/securityContext/privileged/",
		Severity: "high", Remediation: "Remove privileged."}
	if bad.Result != want {
		t.Errorf("fail result\n got %+v\nwant %+v", bad.Result, want)
	}
	if bad.Response == nil || bad.Response.FailedPaths[0] != "spec.containers[0].securityContext.privileged" || bad.Response.AlertScore != 3 {
		t.Errorf("response = %+v", bad.Response)
	}
	if good.Status != engine.StatusPass || good.Resource.Name != "good" || good.Response != nil {
		t.Errorf("pass result = %+v", good)
	}
}

func TestScanSkipsWhatItCannotEvaluate(t *testing.T) {
	l := baseLib()
	l["controls/C-9002.json"] = `{"controlID": "C-9002", "name": "Kubelet", "baseScore": 4, "rulesNames": ["kubelet-rule"]}`
	l["rules/kubelet-rule/rule.metadata.json"] = `{"name": "kubelet-rule", "match": [{"apiGroups": [], "apiVersions": [], "resources": []}],
		"dynamicMatch": [{"apiGroups": ["hostdata.kubescape.cloud"], "apiVersions": ["v1beta0"], "resources": ["KubeletInfo"]}]}`
	l["rules/kubelet-rule/raw.rego"] = "package armo_builtins\n\ndeny[msga] {\n\tobj := input[_]\n\tobj.kind == \"KubeletInfo\"\n\tnot obj.data.ok\n\tmsga := {\"alertMessage\": \"kubelet\", \"alertObject\": {\"externalObjects\": obj}}\n}\n"
	l["controls/C-9003.json"] = `{"controlID": "C-9003", "name": "Absent", "baseScore": 4, "rulesNames": ["not-here"]}`
	l["controls/C-9004.json"] = `{"controlID": "C-9004", "name": "Signed", "baseScore": 4, "rulesNames": ["signed"]}`
	l["rules/signed/rule.metadata.json"] = `{"name": "signed", ` + podMatch + `}`
	l["rules/signed/raw.rego"] = "package armo_builtins\n\ndeny[msga] {\n\tpod := input[_]\n\tnot cosign.has_signature(pod.spec.containers[0].image)\n\tmsga := {\"alertMessage\": \"unsigned\", \"alertObject\": {\"k8sApiObjects\": [pod]}}\n}\n"
	lb := load(t, l)
	fs, err := lb.Scan(context.Background(), []map[string]any{pod("p", false)}, ScanOptions{Controls: []string{"C-9002", "C-9003", "C-9004"}})
	if err != nil {
		t.Fatal(err)
	}
	wantMsg := map[string]string{
		"C-9002": "needs host sensor data (hostdata.kubescape.cloud)",
		"C-9003": "rule not-here is not in the library",
		"C-9004": "need registry access",
	}
	for _, f := range fs {
		if f.Status != engine.StatusSkip {
			t.Errorf("%s: %s, want skip (never pass)", f.Control, f.Status)
		}
		if !strings.Contains(f.Message, wantMsg[f.Control]) {
			t.Errorf("%s: message %q, want %q", f.Control, f.Message, wantMsg[f.Control])
		}
		delete(wantMsg, f.Control)
	}
	if len(wantMsg) != 0 {
		t.Errorf("no findings for %v", wantMsg)
	}
	if cap(fs) != len(fs) { // skips are counted too
		t.Errorf("%d findings in a slice of capacity %d", len(fs), cap(fs))
	}
	// With the host sensor's object, the rule runs.
	kubelet := map[string]any{"apiVersion": "hostdata.kubescape.cloud/v1beta0", "kind": "KubeletInfo", "metadata": map[string]any{"name": "node1"}, "data": map[string]any{}}
	fs, err = lb.Scan(context.Background(), []map[string]any{kubelet}, ScanOptions{Controls: []string{"C-9002"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Status != engine.StatusFail || fs[0].Resource.Name != "node1" {
		t.Fatalf("with host data: %+v", fs)
	}
}

func TestScanBoundsRuleCost(t *testing.T) {
	l := baseLib()
	l["rules/rule-privileged/raw.rego"] = `package armo_builtins

deny[msga] {
	pod := input[_]
	count([x | x := numbers.range(1, 200000000)[_]; x < 0]) == 0
	msga := {"alertMessage": "slow", "alertObject": {"k8sApiObjects": [pod]}}
}
`
	lb := load(t, l)
	start := time.Now()
	fs, err := lb.Scan(context.Background(), []map[string]any{pod("p", true)}, ScanOptions{RuleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("scan took %s with a 200ms rule timeout", took)
	}
	if len(fs) != 1 || fs[0].Status != engine.StatusSkip || !strings.Contains(fs[0].Message, "exceeded 200ms") || fs[0].Resource.Name != "p" {
		t.Fatalf("findings = %+v", fs)
	}
	// A cancelled scan is an error, not results.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lb.Scan(ctx, []map[string]any{pod("p", true)}, ScanOptions{}); err == nil {
		t.Error("cancelled scan returned no error")
	}
}

func TestScanHostileObjects(t *testing.T) {
	l := load(t, baseLib())
	deep := map[string]any{}
	cur := deep
	for range 5000 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	objs := []map[string]any{
		{"apiVersion": "v1", "kind": "Pod", "metadata": "not a map", "spec": deep},
		{"apiVersion": 5, "kind": []any{"Pod"}},
		{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": strings.Repeat("n", 1<<20)},
			"spec": map[string]any{"containers": "not a list"}},
		{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "odd", "namespace": 7},
			"spec": map[string]any{"containers": []any{nil, 3, map[string]any{"securityContext": map[string]any{"privileged": true}}}}},
		pod("ok", false),
	}
	fs, err := l.Scan(context.Background(), objs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fails, passes int
	for _, f := range fs {
		switch f.Status {
		case engine.StatusFail:
			fails++
		case engine.StatusPass:
			passes++
		}
	}
	// The Pod with junk containers and a privileged third one fails; the
	// others pass or are not matched.
	if fails != 1 || passes == 0 {
		t.Errorf("%d failures (want 1), %d passes (want some)", fails, passes)
	}
}

func TestControlConfig(t *testing.T) {
	l := baseLib()
	l["rules/rule-privileged/rule.metadata.json"] = `{"name": "rule-privileged", ` + podMatch + `,
		"controlConfigInputs": [{"path": "settings.postureControlInputs.x", "name": "x"}]}`
	l["rules/rule-privileged/raw.rego"] = `package armo_builtins

deny[msga] {
	pod := input[_]
	v := data.postureControlInputs.x[_]
	msga := {"alertMessage": sprintf("x=%v", [v]), "alertObject": {"k8sApiObjects": [pod]}}
}
`
	dir := l.write(t)
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{nil, "x=default"},
		{[]Option{WithControlConfig(writeFile(t, `{"settings": {"postureControlInputs": {"x": ["mine"]}}}`))}, "x=mine"},
		{[]Option{WithControlConfig(writeFile(t, `{"postureControlInputs": {"x": ["bare"]}}`))}, "x=bare"},
	} {
		lb, err := Load(dir, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := lb.Scan(context.Background(), []map[string]any{pod("p", false)}, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].Message != tc.want {
			t.Errorf("findings %+v, want message %q", fs, tc.want)
		}
	}
	if _, err := Load(dir, WithControlConfig(filepath.Join(t.TempDir(), "missing.json"))); err == nil {
		t.Error("a missing --control-config loaded")
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLargeScanSplitsByNamespace(t *testing.T) {
	// A join rule: a Pod fails when a ConfigMap has its name. Above
	// LargeScan objects, joins stay within a namespace unless the control
	// asks for the whole cluster.
	l := baseLib()
	l["rules/rule-privileged/rule.metadata.json"] = `{"name": "rule-privileged", "match": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["Pod", "ConfigMap"]}]}`
	l["rules/rule-privileged/raw.rego"] = `package armo_builtins

deny[msga] {
	pod := input[_]
	pod.kind == "Pod"
	cm := input[_]
	cm.kind == "ConfigMap"
	cm.metadata.name == pod.metadata.name
	msga := {"alertMessage": "shadowed", "alertObject": {"k8sApiObjects": [pod]}}
}
`
	l["controls/C-9005.json"] = `{"controlID": "C-9005", "name": "Whole", "baseScore": 4, "rulesNames": ["rule-privileged"], "attributes": {"requiresWholeClusterInput": true}}`
	lb := load(t, l)
	objs := []map[string]any{pod("x", false)} // namespace ns
	for i := range LargeScan {
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "x", "namespace": "other" + string(rune('a'+i%3))}})
	}
	fs, err := lb.Scan(context.Background(), objs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]engine.Status{}
	for _, f := range fs {
		if f.Resource.Kind == "Pod" {
			status[f.Control] = f.Status
		}
	}
	if status["C-9001"] != engine.StatusPass || status["C-9005"] != engine.StatusFail {
		t.Errorf("per-namespace control %s (want pass), whole-cluster control %s (want fail)", status["C-9001"], status["C-9005"])
	}
}

func TestNormalizeImageName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                          "docker.io/library/nginx",
		"nginx:1.27":                     "docker.io/library/nginx:1.27",
		"bitnami/redis":                  "docker.io/bitnami/redis",
		"index.docker.io/bitnami/redis":  "docker.io/bitnami/redis",
		"quay.io/org/app:v1":             "quay.io/org/app:v1",
		"localhost:5000/app":             "localhost:5000/app",
		"gcr.io/p/app@sha256:" + hex64(): "gcr.io/p/app@sha256:" + hex64(),
	} {
		got, err := NormalizeImageName(in)
		if err != nil || got != want {
			t.Errorf("NormalizeImageName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Nginx", "nginx:", "a b", "gcr.io/p/app@sha256:xyz"} {
		if got, err := NormalizeImageName(in); err == nil {
			t.Errorf("NormalizeImageName(%q) = %q, want an error", in, got)
		}
	}
}

func hex64() string { return strings.Repeat("ab", 32) }

func TestImageBuiltinInRule(t *testing.T) {
	l := baseLib()
	l["rules/rule-privileged/raw.rego"] = `package armo_builtins

deny[msga] {
	pod := input[_]
	name := image.parse_normalized_name(pod.spec.containers[0].image)
	msga := {"alertMessage": name, "alertObject": {"k8sApiObjects": [pod]}}
}
`
	lb := load(t, l)
	fs, err := lb.Scan(context.Background(), []map[string]any{pod("p", false)}, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Message != "docker.io/library/nginx" {
		t.Fatalf("findings = %+v", fs)
	}
}

func TestPointer(t *testing.T) {
	for in, want := range map[string]string{
		"spec.containers[0].image":                "/spec/containers/0/image/",
		"metadata.annotations[\"a.b/c\"]":         "/metadata/annotations/a.b/c/",
		"spec.template.spec.volumes[12].hostPath": "/spec/template/spec/volumes/12/hostPath/",
		"": "",
	} {
		if got := Pointer(in); got != want {
			t.Errorf("Pointer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunTests(t *testing.T) {
	l := baseLib()
	l["rules/rule-privileged/test/fails/input/pod.yaml"] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: ns\nspec:\n  containers:\n  - name: c\n    securityContext:\n      privileged: true\n"
	l["rules/rule-privileged/test/fails/expected.json"] = `[{"alertMessage": "the following pods are defined as privileged: bad", "failedPaths": ["spec.containers[0].securityContext.privileged"],
		"fixPaths": [], "ruleStatus": "", "packagename": "armo_builtins", "alertScore": 3,
		"alertObject": {"k8sApiObjects": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"}}]}}]`
	l["rules/rule-privileged/test/wrong/input/pod.yaml"] = l["rules/rule-privileged/test/fails/input/pod.yaml"]
	l["rules/rule-privileged/test/wrong/expected.json"] = `[]`
	l["rules/rule-privileged/test/passes/input/pod.json"] = `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "good"}, "spec": {"containers": [{"name": "c"}]}}`
	l["rules/rule-privileged/test/passes/expected.json"] = `[]`
	dir := l.write(t)
	if !IsTestLibrary(dir) || !IsTestLibrary(filepath.Join(dir, "rules", "rule-privileged")) || IsTestLibrary(t.TempDir()) {
		t.Fatal("IsTestLibrary")
	}
	rep, err := RunTests(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass != 2 || rep.Fail != 1 {
		t.Fatalf("pass %d fail %d, want 2 and 1: %+v", rep.Pass, rep.Fail, rep.Cases)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf, true, true, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, w := range []string{"rule-privileged  wrong", "expected.json differs", "expected:\n[]\nactual:\n[{\"alertMessage\"",
		"Test Summary: 2 tests passed and 1 tests failed\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "passes") {
		t.Errorf("--fail-only output lists a passing case:\n%s", out)
	}
}

// TestDeferredCompile: with WithDeferredCompile, Load compiles no rule; a
// scan of one control compiles only its rule, a rule that does not compile
// is reported by Compile and skipped by a scan, and without the option
// Load still reports it.
func TestDeferredCompile(t *testing.T) {
	l := baseLib()
	l["controls/C-9002.json"] = `{"controlID": "C-9002", "name": "Broken", "baseScore": 4, "rulesNames": ["rule-broken"]}`
	l["rules/rule-broken/rule.metadata.json"] = `{"name": "rule-broken", ` + podMatch + `}`
	l["rules/rule-broken/raw.rego"] = "package armo_builtins\n\ndeny[msga] {\n\tmsga := no_such_function(input)\n}\n"
	dir := l.write(t)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no_such_function") {
		t.Fatalf("Load without deferral: %v, want the compile error", err)
	}
	lb, err := Load(dir, WithDeferredCompile())
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range lb.Rules {
		if r.raw != nil {
			t.Errorf("rule %s compiled by a deferred Load", name)
		}
	}
	if got := lb.RulesOf("C-9001", "C-9002", "C-9001", "C-nope"); strings.Join(got, ",") != "rule-broken,rule-privileged" {
		t.Errorf("RulesOf = %v", got)
	}
	fs, err := lb.Scan(context.Background(), []map[string]any{pod("bad", true)}, ScanOptions{Controls: []string{"C-9001"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Status != engine.StatusFail {
		t.Fatalf("findings %+v, want one fail", fs)
	}
	if lb.Rules["rule-broken"].raw != nil {
		t.Error("a scan of C-9001 compiled rule-broken")
	}
	if err := lb.Compile("rule-privileged"); err != nil {
		t.Errorf("Compile(rule-privileged): %v", err)
	}
	if err := lb.Compile("rule-broken"); err == nil || !strings.Contains(err.Error(), "rule-broken/raw.rego:4") {
		t.Errorf("Compile(rule-broken) = %v, want the file and line", err)
	}
	fs, err = lb.Scan(context.Background(), []map[string]any{pod("bad", true)}, ScanOptions{Controls: []string{"C-9002"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Status != engine.StatusSkip || !strings.Contains(fs[0].Message, "no_such_function") {
		t.Fatalf("findings %+v, want one skip naming the compile error", fs)
	}
}

// quadraticRego lists, for each workload, every NetworkPolicy again: the
// shape of ingress-and-egress-blocked.
const quadraticRego = `package armo_builtins

is_np(o) { o.kind == "NetworkPolicy" }

deny[msga] {
	wl := input[_]
	wl.kind == "Deployment"
	nps := [np | np = input[_]; is_np(np)]
	mine := [np | np = nps[_]; np.metadata.namespace == wl.metadata.namespace]
	count(mine) < 1
	wl2 := [w | w := input[_]; w.metadata.name == wl.metadata.name]
	msga := {"alertMessage": sprintf("%v %v", [wl.metadata.name, count(wl2)]), "packagename": "armo_builtins",
		"alertScore": 7, "failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}

deny[msga] {
	nps := 1
	wl := input[_]
	shadow := [x | x := nps + count(input); wl]
	msga := {"alertMessage": sprintf("%v", [shadow]), "packagename": "armo_builtins",
		"alertScore": 7, "failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}
`

// TestHoistClosedComprehensions: only the comprehension that closes over
// nothing of its rule becomes a rule, and the responses are those of the
// rule as written.
func TestHoistClosedComprehensions(t *testing.T) {
	m, err := parseRule("raw.rego", quadraticRego)
	if err != nil {
		t.Fatal(err)
	}
	h := hoistClosedComprehensions(m)
	var names []string
	for _, r := range h.Rules {
		if n := r.Head.Ref().String(); hoisted(n) {
			names = append(names, n+" := "+r.Head.Value.String())
		}
	}
	if len(names) != 1 || !strings.Contains(names[0], "is_np(") {
		t.Fatalf("hoisted %q, want only the NetworkPolicy list", names)
	}
	if len(m.Rules) != 3 {
		t.Fatalf("the module given was changed: %d rules", len(m.Rules))
	}
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for _, ns := range []string{"a", "b", "c"} {
		for i := range 3 {
			objs = append(objs, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{"name": fmt.Sprint("d", i), "namespace": ns}})
		}
		if ns != "b" {
			objs = append(objs, map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
				"metadata": map[string]any{"name": "np", "namespace": ns}})
		}
	}
	_, want, got := asWrittenAndCompiled(t, m, helpers, objs)
	if len(want) != 3+len(objs) {
		t.Fatalf("%d responses as written, want %d", len(want), 3+len(objs))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hoisted responses differ:\n got %v\nwant %v", got, want)
	}
}

// asWrittenAndCompiled evaluates rule m with its helpers on objs twice:
// compiled as written (want) and by compileRule with its rewrites (got,
// from the compiler c it returns).
func asWrittenAndCompiled(t *testing.T, m *ast.Module, helpers map[string]*ast.Module, objs []any) (c *ast.Compiler, want, got []Response) {
	t.Helper()
	return asWrittenAndCompiledWith(t, m, helpers, objs, Data{})
}

// asWrittenAndCompiledWith is asWrittenAndCompiled with data d.
func asWrittenAndCompiledWith(t *testing.T, m *ast.Module, helpers map[string]*ast.Module, objs []any, d Data) (c *ast.Compiler, want, got []Response) {
	t.Helper()
	input, err := ast.InterfaceToValue(objs)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(c *ast.Compiler) []Response {
		l := &Library{}
		pq, err := l.prepare(context.Background(), c, d)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := evalPrepared(context.Background(), pq, input, false)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	plain := ast.NewCompiler().WithCapabilities(ast.CapabilitiesForThisVersion()).WithDefaultRegoVersion(ast.RegoV0)
	mods := map[string]*ast.Module{"raw.rego": m}
	for k, v := range helpers {
		mods[k] = v
	}
	if plain.Compile(mods); plain.Failed() {
		t.Fatal(plain.Errors)
	}
	c, err = compileRule("raw.rego", m, helpers)
	if err != nil {
		t.Fatal(err)
	}
	return c, eval(plain), eval(c)
}

// kindJoinRego looks up each workload's ServiceAccount by iterating over
// input, the shape of automount-service-account, with shapes that must not
// be rewritten beside it.
const kindJoinRego = `package armo_builtins

sa_of(wl) = sa {
	sa := input[_]
	sa.kind == "ServiceAccount"
	sa.metadata.name == wl.spec.serviceAccountName
}

has_sa(wl) {
	"ServiceAccount" == sa.kind
	sa = input[_]
}

deny[msga] {
	wl := input[_]
	wl.kind == "Deployment"
	sa := sa_of(wl)
	not_sa := [o | o := input[i]; o.kind == "ServiceAccount"; i >= 0]
	others := [o | o := input[_]; not o.kind == "ServiceAccount"]
	msga := {"alertMessage": sprintf("%v %v %v %v", [wl.metadata.name, sa.metadata.name, count(not_sa), count(others)]),
		"packagename": "armo_builtins", "alertScore": 7, "failedPaths": [], "fixPaths": [],
		"alertObject": {"k8sApiObjects": [wl]}}
}
`

// kindIndexed parses src and applies indexKindIterations to a copy, h,
// whose kind lists it returns as "name := value".
func kindIndexed(t *testing.T, src string) (m, h *ast.Module, lists []string) {
	t.Helper()
	m, err := parseRule("raw.rego", src)
	if err != nil {
		t.Fatal(err)
	}
	h = m.Copy()
	indexKindIterations(h)
	for _, r := range h.Rules {
		if n := r.Head.Ref().String(); strings.HasPrefix(n, kindListPrefix) {
			lists = append(lists, n+" := "+r.Head.Value.String())
		}
	}
	return m, h, lists
}

// TestIndexKindIterations: an iteration over input followed by a kind test
// iterates over the objects of that kind, one list per kind, and the
// responses are those of the rule as written; other shapes are left alone.
func TestIndexKindIterations(t *testing.T) {
	m, h, lists := kindIndexed(t, kindJoinRego)
	if len(lists) != 2 || !strings.Contains(lists[0], `"ServiceAccount"`) || !strings.Contains(lists[1], `"Deployment"`) {
		t.Fatalf("kind lists %q, want one for ServiceAccount and one for Deployment", lists)
	}
	rewritten := 0
	ast.WalkRefs(h, func(r ast.Ref) bool {
		if strings.HasPrefix(r[0].String(), kindListPrefix) {
			rewritten++
		}
		return false
	})
	if rewritten != 2 {
		t.Fatalf("%d iterations rewritten, want 2 (sa_of and deny's workloads):\n%v", rewritten, h)
	}
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for i := range 5 {
		objs = append(objs,
			map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{"name": fmt.Sprint("d", i)}, "spec": map[string]any{"serviceAccountName": fmt.Sprint("sa", i%3)}},
			map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": fmt.Sprint("sa", i)}},
			map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": fmt.Sprint("sa", i)}})
	}
	c, want, got := asWrittenAndCompiled(t, m, helpers, objs)
	if !slices.ContainsFunc(c.Modules["raw.rego"].Rules, func(r *ast.Rule) bool {
		return strings.HasPrefix(r.Head.Ref().String(), kindListPrefix)
	}) {
		t.Fatal("compileRule does not index kind iterations")
	}
	if len(want) != 5 {
		t.Fatalf("%d responses as written, want 5", len(want))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rewritten responses differ:\n got %v\nwant %v", got, want)
	}
}

// kindSetRego tests objects' kinds against a set, the shape of most
// workload rules, beside shapes that must not be rewritten: a set of
// values read from the object, a negated test, an object in place of a set.
const kindSetRego = `package armo_builtins

deny[msga] {
	kinds := {"Deployment", "Job"}
	wl := input[_]
	kinds[wl.kind]
	msga := {"alertMessage": sprintf("%v %v", [wl.kind, wl.metadata.name]), "packagename": "armo_builtins",
		"alertScore": 7, "failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}

deny[msga] {
	one := input[0]
	same := {one.kind}
	wl := input[_]
	same[wl.kind]
	not_job := {"Job"}
	other := input[_]
	not not_job[other.kind]
	named := {"Deployment": false, "Job": true}
	third := input[_]
	named[third.kind]
	msga := {"alertMessage": sprintf("%v %v %v", [wl.metadata.name, other.metadata.name, third.metadata.name]), "packagename": "armo_builtins",
		"alertScore": 7, "failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}
`

// TestIndexKindSetIterations: an iteration over input followed by a test
// of the kind against a set of strings iterates over the objects of those
// kinds, and the responses are those of the rule as written.
func TestIndexKindSetIterations(t *testing.T) {
	m, h, lists := kindIndexed(t, kindSetRego)
	if len(lists) != 1 || !strings.Contains(lists[0], `{"Deployment", "Job"}`) {
		t.Fatalf("kind lists %q, want one for Deployments and Jobs", lists)
	}
	if s := h.Rules[1].Body.String(); strings.Contains(s, kindListPrefix) {
		t.Errorf("second rule rewritten: %s", s)
	}
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	var objs []any
	for i, kind := range []string{"Deployment", "Pod", "Job", "ConfigMap", "Job"} {
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": fmt.Sprint("o", i)}})
	}
	_, want, got := asWrittenAndCompiled(t, m, helpers, objs)
	// Three objects of the set; the one of the first object's kind x the three
	// that are not Jobs x the two Jobs (the Deployment's value is false).
	if len(want) != 3+1*3*2 {
		t.Fatalf("%d responses as written, want %d: %v", len(want), 3+1*3*2, want)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rewritten responses differ:\n got %v\nwant %v", got, want)
	}
}

// deferRego iterates over configured names before walking each
// workload's containers and environment (the shape of
// rule-credentials-in-env-var), beside shapes that must stay where they
// are: a test of a bound variable, an iteration followed by its use, two
// independent iterations, and an array comprehension.
const deferRego = `package armo_builtins

deny[msga] {
	names := data.postureControlInputs.names
	wl := input[_]
	name := names[_]
	container := wl.spec.containers[i]
	env := container.env[j]
	other := names[k]
	contains(env.name, name)
	k >= 0
	order := [n | n := names[_]; x := wl.spec.containers[_]; x.name != n]
	msga := {"alertMessage": sprintf("%v %v %v %v", [wl.metadata.name, env.name, other, order]),
		"packagename": "armo_builtins", "alertScore": 7, "failedPaths": [sprintf("spec.containers[%v].env[%v]", [i, j])],
		"fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}

deny[msga] {
	a := input[_]
	b := input[_]
	a.kind == b.kind
	msga := {"alertMessage": sprintf("%v %v", [a.metadata.name, b.metadata.name]),
		"packagename": "armo_builtins", "alertScore": 1, "failedPaths": [], "fixPaths": [], "alertObject": {"k8sApiObjects": [a]}}
}
`

// TestDeferIterations: an iteration moves down to its first use, past
// expressions independent of it, and the responses are those of the rule
// as written.
func TestDeferIterations(t *testing.T) {
	m, err := parseRule("raw.rego", deferRego)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Copy()
	if n := deferIterations(h); n != 3 {
		t.Errorf("%d iterations moved, want 3 (name, other past env, a past b):\n%v", n, h)
	}
	body := h.Rules[0].Body
	at := func(s string) int {
		return slices.IndexFunc(body, func(e *ast.Expr) bool { return strings.HasPrefix(e.String(), s) })
	}
	if !(at("assign(env,") < at("assign(name,") && at("assign(name,") == at("contains(")-1 && at("assign(other,") == at("gte(k")-1) {
		t.Errorf("body after the move:\n%v", body)
	}
	checkExprIndexes(t, body)
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	objs := envPods(4, 3, "TOKEN_", "PLAIN")
	c, want, got := asWrittenAndCompiledWith(t, m, helpers, objs, Data{PostureControlInputs: map[string][]string{"names": {"TOKEN", "c1", "PL"}}})
	// Compiled, variables are renamed: the iteration over names stands
	// between the environment's and the test, where anyTest makes the
	// two one call over names.
	compiled := c.Modules["raw.rego"].Rules[0].Body.String()
	if e, test := strings.Index(compiled, ".env[j]"), strings.Index(compiled, `portcullis.any_test("contains", 1, `); e < 0 || test < e {
		t.Errorf("compileRule does not defer iterations:\n%s", compiled)
	}
	// Per Pod: 3 containers x 2 matching variables x 3 values of other;
	// and 4 x 4 pairs of Pods.
	if len(want) != 4*3*2*3+4*4 {
		t.Fatalf("%d responses as written, want %d", len(want), 4*3*2*3+4*4)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rewritten responses differ:\n got %v\nwant %v", got, want)
	}
}

// checkExprIndexes fails t unless every expression of body has its
// position as its index (as OPA's compiler expects after a rewrite).
func checkExprIndexes(t *testing.T, body ast.Body) {
	t.Helper()
	for i, e := range body {
		if e.Index != i {
			t.Errorf("expression %d has index %d", i, e.Index)
		}
	}
}

// envPods returns n Pods p0, p1, ... with the given number of containers
// c0, c1, ..., each with the environment variables prefix+i (i the Pod's
// number) and then others.
func envPods(n, containers int, prefix string, others ...string) []any {
	var objs []any
	for i := range n {
		var cs []any
		for c := range containers {
			env := []any{map[string]any{"name": prefix + fmt.Sprint(i)}}
			for _, o := range others {
				env = append(env, map[string]any{"name": o})
			}
			cs = append(cs, map[string]any{"name": fmt.Sprint("c", c), "env": env})
		}
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": fmt.Sprint("p", i)}, "spec": map[string]any{"containers": cs}})
	}
	return objs
}

// splitRego tests each environment variable against configured names
// through nested calls (the shape of rule-credentials-in-env-var), beside
// calls that stay where they are: in a negated expression, in an
// assignment, and in a comprehension's body.
const splitRego = `package armo_builtins

deny[msga] {
	names := data.postureControlInputs.names
	wl := input[_]
	name := names[_]
	env := wl.spec.containers[i].env[j]
	contains(lower(env.name), lower(name))
	not startswith(lower(env.name), "x")
	n := count([e | e := wl.spec.containers[_].env[_]; contains(upper(e.name), "P")])
	msga := {"alertMessage": sprintf("%v %v %v", [wl.metadata.name, env.name, n]),
		"packagename": "armo_builtins", "alertScore": 7, "failedPaths": [sprintf("spec.containers[%v].env[%v]", [i, j])],
		"fixPaths": [], "alertObject": {"k8sApiObjects": [wl]}}
}
`

// TestSplitCalls: the calls nested in an expression's arguments become
// expressions of their own, an iteration then moves past those that do
// not use it, and the responses are those of the rule as written.
func TestSplitCalls(t *testing.T) {
	m, err := parseRule("raw.rego", splitRego)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Copy()
	if n := splitCalls(h); n != 2 {
		t.Errorf("%d calls split, want 2 (the two lower of contains):\n%v", n, h)
	}
	if n := deferIterations(h); n != 1 {
		t.Errorf("%d iterations moved, want 1 (name past lower(env.name)):\n%v", n, h)
	}
	body := h.Rules[0].Body
	at := func(s string) int {
		return slices.IndexFunc(body, func(e *ast.Expr) bool { return strings.HasPrefix(e.String(), s) })
	}
	if !(at("assign("+callVarPrefix+"0, lower(env.name))") < at("assign(name,") &&
		at("assign(name,") < at("assign("+callVarPrefix+"1, lower(name))") &&
		at("contains("+callVarPrefix+"0, "+callVarPrefix+"1)") > 0 && at("not startswith(lower(env.name)") > 0) {
		t.Errorf("body after the rewrite:\n%v", body)
	}
	checkExprIndexes(t, body)
	helpers, err := parseHelpers()
	if err != nil {
		t.Fatal(err)
	}
	objs := envPods(4, 2, "Token_", "PLAIN", "xtoken")
	_, want, got := asWrittenAndCompiledWith(t, m, helpers, objs, Data{PostureControlInputs: map[string][]string{"names": {"TOKEN", "pl", "Z"}}})
	// Per Pod: 2 containers x (Token_i and PLAIN; xtoken is excluded).
	if len(want) != 4*2*2 {
		t.Fatalf("%d responses as written, want %d", len(want), 4*2*2)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rewritten responses differ:\n got %v\nwant %v", got, want)
	}
}

// TestLargeScanReleasesValues: a scan split by namespace holds the Rego
// values of about one namespace's objects at a time, not of every object,
// and none once done.
func TestLargeScanReleasesValues(t *testing.T) {
	lib := load(t, baseLib())
	const namespaces, perNS = 10, 300
	var objs []map[string]any
	for i := range namespaces * perNS {
		p := pod(fmt.Sprint("p", i), i%7 == 0)
		p["metadata"].(map[string]any)["namespace"] = fmt.Sprint("ns", i%namespaces)
		objs = append(objs, p)
	}
	s := newScanState(lib, objs, ScanOptions{})
	tasks := s.tasks(lib.Rules["rule-privileged"], false)
	s.schedule(tasks)
	live := func() int {
		n := 0
		for i := range s.values {
			s.mu[i].Lock()
			if s.values[i] != nil {
				n++
			}
			s.mu[i].Unlock()
		}
		return n
	}
	most, failed := 0, 0
	s.run(context.Background(), tasks, 1, func(t *scanTask, _ time.Duration) {
		most = max(most, live())
		failed += len(t.out.responses)
	})
	if most > perNS {
		t.Errorf("%d values held at once, want at most one namespace's %d", most, perNS)
	}
	if n := live(); n != 0 {
		t.Errorf("%d values held after the scan", n)
	}
	if want := (namespaces*perNS + 6) / 7; failed != want {
		t.Errorf("%d failures, want %d", failed, want)
	}
}

// TestScanReleasesObjects: with ReleaseObjects, a scan split by namespace
// clears the caller's objects as it goes (those no rule matches at once,
// each namespace's when its rules are done) and finds what a scan that
// keeps them finds.
func TestScanReleasesObjects(t *testing.T) {
	lib := load(t, baseLib())
	const namespaces, perNS = 10, 300
	var objs []map[string]any
	for i := range namespaces * perNS {
		p := pod(fmt.Sprint("p", i), i%7 == 0)
		p["metadata"].(map[string]any)["namespace"] = fmt.Sprint("ns", i%namespaces)
		objs = append(objs, p)
	}
	for i := range 50 { // matched by no rule
		objs = append(objs, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprint("cm", i), "namespace": "ns0"}})
	}
	want, err := lib.Scan(context.Background(), slices.Clone(objs), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	held := func(kind string) int {
		n := 0
		for _, o := range objs {
			if o != nil && (kind == "" || o["kind"] == kind) {
				n++
			}
		}
		return n
	}
	var most, least, calls int
	least = len(objs)
	got, err := lib.Scan(context.Background(), objs, ScanOptions{ReleaseObjects: true, Workers: 1,
		RuleDone: func(string, time.Duration) {
			// One worker: this runs before the task's objects are released.
			calls++
			if n := held("ConfigMap"); n != 0 {
				t.Errorf("%d objects no rule matches held during the scan", n)
			}
			most, least = max(most, held("")), min(least, held(""))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != namespaces+1 { // the resident scope and each namespace
		t.Fatalf("%d rule evaluations, want %d", calls, namespaces+1)
	}
	if most != namespaces*perNS || least != perNS {
		t.Errorf("objects held during the scan: from %d down to %d, want from %d down to one namespace's %d", most, least, namespaces*perNS, perNS)
	}
	if n := held(""); n != 0 {
		t.Errorf("%d objects held after the scan", n)
	}
	if !slices.EqualFunc(got, want, func(a, b Finding) bool { return fmt.Sprint(a.Result) == fmt.Sprint(b.Result) }) {
		t.Errorf("findings differ from a scan that keeps the objects: %d against %d", len(got), len(want))
	}
}

// TestScanAllocatesFindingsOnce: the findings (some 400 bytes each, about
// 100,000 at 10,000 resources) are allocated once at their number, not
// grown by appending.
func TestScanAllocatesFindingsOnce(t *testing.T) {
	lib := load(t, baseLib())
	var objs []map[string]any
	for i := range 1000 {
		objs = append(objs, pod(fmt.Sprint("p", i), i%3 == 0))
	}
	fs, err := lib.Scan(context.Background(), objs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1000 || cap(fs) != len(fs) {
		t.Errorf("%d findings in a slice of capacity %d, want 1000 in 1000", len(fs), cap(fs))
	}
}

// TestScanLoadsObjects: given objects' identities and a Load, a scan
// split by namespace loads each object a rule matches once, finds what
// a scan of the whole objects finds, and skips (never passes) the
// inputs of an object that does not load.
func TestScanLoadsObjects(t *testing.T) {
	lib := load(t, baseLib())
	const namespaces, perNS = 10, 300
	var objs, ids []map[string]any
	for i := range namespaces * perNS {
		p := pod(fmt.Sprint("p", i), i%7 == 0)
		p["metadata"].(map[string]any)["namespace"] = fmt.Sprint("ns", i%namespaces)
		objs = append(objs, p)
		ids = append(ids, map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": fmt.Sprint("p", i), "namespace": fmt.Sprint("ns", i%namespaces)}})
	}
	want, err := lib.Scan(context.Background(), objs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	loads := map[int]int{}
	got, err := lib.Scan(context.Background(), slices.Clone(ids), ScanOptions{Load: func(i int) (map[string]any, error) {
		mu.Lock()
		loads[i]++
		mu.Unlock()
		return objs[i], nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, func(a, b Finding) bool { return fmt.Sprint(a.Result) == fmt.Sprint(b.Result) }) {
		t.Errorf("findings differ from a scan of the whole objects: %d against %d", len(got), len(want))
	}
	for i := range objs {
		if loads[i] != 1 {
			t.Fatalf("object %d loaded %d times, want once", i, loads[i])
		}
	}
	// An object that does not load: its namespace's inputs are skipped.
	got, err = lib.Scan(context.Background(), slices.Clone(ids), ScanOptions{Load: func(i int) (map[string]any, error) {
		if i == 5 {
			return nil, errors.New("gone")
		}
		return objs[i], nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got {
		ns5 := f.Resource.Namespace == "ns5"
		if ns5 != (f.Status == engine.StatusSkip) || ns5 && !strings.Contains(f.Message, "gone") {
			t.Fatalf("%s/%s: %s %q", f.Resource.Namespace, f.Resource.Name, f.Status, f.Message)
		}
	}
}
