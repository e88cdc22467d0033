package controls

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// wantPolicies is the exact inventory of the library: set → policy name →
// rule name. Adding or renaming a control must update this table.
var wantPolicies = map[string]map[string]string{
	SetPSSBaseline: {
		"disallow-host-process":          "host-process-containers",
		"disallow-host-namespaces":       "host-namespaces",
		"disallow-privileged-containers": "privileged-containers",
		"disallow-capabilities":          "adding-capabilities",
		"disallow-host-path":             "host-path",
		"disallow-host-ports":            "host-ports-none",
		"restrict-apparmor-profiles":     "app-armor",
		"disallow-selinux":               "selinux-options",
		"disallow-proc-mount":            "check-proc-mount",
		"restrict-seccomp":               "check-seccomp",
		"restrict-sysctls":               "check-sysctls",
	},
	SetPSSRestricted: {
		"restrict-volume-types":         "restricted-volumes",
		"disallow-privilege-escalation": "privilege-escalation",
		"require-run-as-nonroot":        "run-as-non-root",
		"require-run-as-non-root-user":  "run-as-non-root-user",
		"restrict-seccomp-strict":       "check-seccomp-strict",
		"disallow-capabilities-strict":  "require-drop-all",
	},
	SetRunbook: {
		"require-requests-limits":   "validate-resources",
		"restrict-image-registries": "validate-registries",
		"require-security-context":  "check-container-security-context",
	},
	SetHardening: {
		"disallow-cluster-admin-binding":   "cluster-admin-binding",
		"restrict-wildcard-rbac":           "wildcard-rules",
		"restrict-secret-access":           "secret-read",
		"restrict-pod-create":              "pod-create",
		"disable-automount-token":          "automount-token",
		"disallow-default-service-account": "default-service-account",
		"disallow-secrets-in-env":          "secrets-in-env",
		"disallow-default-namespace":       "default-namespace",
		"require-network-policy":           "",
	},
}

// rbacPolicies are the hardening policies on RBAC objects (Roles,
// ClusterRoles and their bindings) rather than Pods.
var rbacPolicies = map[string]bool{
	"disallow-cluster-admin-binding": true, "restrict-wildcard-rbac": true,
	"restrict-secret-access": true, "restrict-pod-create": true,
	"require-network-policy": true,
}

// validatingPolicies are the hardening policies written as Kyverno
// ValidatingPolicies (CEL, with resource.List lookups).
var validatingPolicies = map[string]bool{"require-network-policy": true}

// noAutogen are the Pod policies that match pod controllers themselves
// (autogen-controllers: none).
var noAutogen = map[string]bool{"disallow-default-namespace": true}

func TestSets(t *testing.T) {
	t.Parallel()
	got := Sets()
	want := []string{"pss-baseline", "pss-restricted", "runbook", "hardening"}
	if !slices.Equal(got, want) {
		t.Fatalf("Sets() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Sets()[0] != "pss-baseline" {
		t.Fatal("Sets() returned a slice aliasing internal state")
	}
}

func TestFilesUnknownSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sets []string
		bad  string
	}{
		{name: "unknown name", sets: []string{"nope"}, bad: `"nope"`},
		{name: "empty name", sets: []string{""}, bad: `""`},
		{name: "wrong case", sets: []string{"PSS-Baseline"}, bad: `"PSS-Baseline"`},
		{name: "known then unknown", sets: []string{SetRunbook, "cis"}, bad: `"cis"`},
		{name: "path traversal", sets: []string{"../policies"}, bad: `"../policies"`},
		{name: "test suite dir", sets: []string{"pss-baseline/disallow-host-path/.kyverno-test"}, bad: `"pss-baseline/disallow-host-path/.kyverno-test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := Files(tt.sets...)
			if err == nil {
				t.Fatalf("Files(%q) returned no error", tt.sets)
			}
			if !errors.Is(err, ErrUnknownSet) {
				t.Fatalf("Files(%q) error %v does not wrap ErrUnknownSet", tt.sets, err)
			}
			if !strings.Contains(err.Error(), tt.bad) || !strings.Contains(err.Error(), "pss-baseline, pss-restricted, runbook") {
				t.Fatalf("Files(%q) error %q should name %s and the known sets", tt.sets, err, tt.bad)
			}
			if files != nil {
				t.Fatalf("Files(%q) returned files with an error: %v", tt.sets, files)
			}
		})
	}
}

func TestFilesSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sets []string
		want []string // sets whose policies must be returned
	}{
		{name: "all by default", sets: nil, want: []string{SetPSSBaseline, SetPSSRestricted, SetRunbook, SetHardening}},
		{name: "baseline", sets: []string{SetPSSBaseline}, want: []string{SetPSSBaseline}},
		{name: "restricted", sets: []string{SetPSSRestricted}, want: []string{SetPSSRestricted}},
		{name: "runbook", sets: []string{SetRunbook}, want: []string{SetRunbook}},
		{name: "two sets in any order", sets: []string{SetRunbook, SetPSSBaseline}, want: []string{SetPSSBaseline, SetRunbook}},
		{name: "duplicates collapse", sets: []string{SetRunbook, SetRunbook}, want: []string{SetRunbook}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := Files(tt.sets...)
			if err != nil {
				t.Fatalf("Files(%q): %v", tt.sets, err)
			}
			var want []string
			for _, set := range tt.want {
				for policy := range wantPolicies[set] {
					want = append(want, set+"/"+policy+"/"+policy+".yaml")
				}
			}
			slices.Sort(want)
			got := make([]string, len(files))
			for i, f := range files {
				got[i] = f.Path
				if len(f.Data) == 0 {
					t.Errorf("%s: empty data", f.Path)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Files(%q) paths =\n%s\nwant\n%s", tt.sets, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestFilesReturnsCopies(t *testing.T) {
	t.Parallel()
	first, err := Files(SetRunbook)
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(first[0].Data)
	for i := range first[0].Data {
		first[0].Data[i] = 'x'
	}
	second, err := Files(SetRunbook)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(second[0].Data, orig) {
		t.Fatal("modifying returned data changed the embedded library")
	}
}

func TestFSContainsSuites(t *testing.T) {
	t.Parallel()
	for set, policies := range wantPolicies {
		for policy := range policies {
			p := path.Join(set, policy, ".kyverno-test", "kyverno-test.yaml")
			if _, err := fs.Stat(FS(), p); err != nil {
				t.Errorf("test suite missing from FS: %v", err)
			}
		}
	}
	if _, err := fs.Stat(FS(), "policies"); err == nil {
		t.Error("FS should be rooted at the policy tree, not at the package")
	}
}

// policyDoc is the subset of a ClusterPolicy the tests inspect.
type policyDoc struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		ValidationFailureAction string           `json:"validationFailureAction"`
		Background              *bool            `json:"background"`
		Rules                   []map[string]any `json:"rules"`
	} `json:"spec"`
}

func loadPolicies(t *testing.T) map[string]map[string]policyDoc {
	t.Helper()
	out := map[string]map[string]policyDoc{}
	for _, set := range Sets() {
		files, err := Files(set)
		if err != nil {
			t.Fatal(err)
		}
		out[set] = map[string]policyDoc{}
		for _, f := range files {
			var doc policyDoc
			if err := yaml.Unmarshal(f.Data, &doc); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if bytes.Contains(f.Data, []byte("\n---")) {
				t.Errorf("%s: a policy file must hold exactly one document", f.Path)
			}
			out[set][f.Path] = doc
		}
	}
	return out
}

var controlIDPattern = map[string]*regexp.Regexp{
	SetPSSBaseline:   regexp.MustCompile(`^PSS-B-\d\d$`),
	SetPSSRestricted: regexp.MustCompile(`^PSS-R-\d\d$`),
	SetRunbook:       regexp.MustCompile(`^RUNBOOK-\d\d$`),
	SetHardening:     regexp.MustCompile(`^PC-\d{4}$`),
}

func TestPolicyDocuments(t *testing.T) {
	t.Parallel()
	ids := map[string]string{}
	names := map[string]string{}
	for set, docs := range loadPolicies(t) {
		for p, doc := range docs {
			t.Run(p, func(t *testing.T) {
				if validatingPolicies[doc.Metadata.Name] {
					if doc.APIVersion != "policies.kyverno.io/v1" || doc.Kind != "ValidatingPolicy" {
						t.Errorf("apiVersion/kind = %s/%s, want policies.kyverno.io/v1/ValidatingPolicy", doc.APIVersion, doc.Kind)
					}
					if id := doc.Metadata.Annotations["portcullis.dev/control-id"]; !controlIDPattern[set].MatchString(id) {
						t.Errorf("control id %q does not match %s", id, controlIDPattern[set])
					}
					return
				}
				if doc.APIVersion != "kyverno.io/v1" || doc.Kind != "ClusterPolicy" {
					t.Errorf("apiVersion/kind = %s/%s, want kyverno.io/v1/ClusterPolicy", doc.APIVersion, doc.Kind)
				}
				if want := path.Base(path.Dir(p)) + ".yaml"; path.Base(p) != want || doc.Metadata.Name+".yaml" != want {
					t.Errorf("policy %q must live in %s/%s", doc.Metadata.Name, doc.Metadata.Name, doc.Metadata.Name+".yaml")
				}
				ann := doc.Metadata.Annotations
				for _, key := range []string{
					"policies.kyverno.io/title", "policies.kyverno.io/category",
					"policies.kyverno.io/severity", "policies.kyverno.io/subject",
					"policies.kyverno.io/description", "portcullis.dev/control-id",
				} {
					if set == SetHardening && key == "policies.kyverno.io/subject" {
						continue
					}
					if strings.TrimSpace(ann[key]) == "" {
						t.Errorf("annotation %s missing or empty", key)
					}
				}
				if s := ann["policies.kyverno.io/severity"]; s != "low" && s != "medium" && s != "high" {
					t.Errorf("severity %q not in low|medium|high", s)
				}
				if set == SetHardening {
					if strings.TrimSpace(ann["portcullis.dev/remediation"]) == "" {
						t.Error("annotation portcullis.dev/remediation missing or empty")
					}
				} else if s := ann["policies.kyverno.io/subject"]; s != "Pod" {
					t.Errorf("subject %q, want Pod", s)
				}
				id := ann["portcullis.dev/control-id"]
				if !controlIDPattern[set].MatchString(id) {
					t.Errorf("control id %q does not match %s", id, controlIDPattern[set])
				}
				if doc.Spec.ValidationFailureAction != "Audit" {
					t.Errorf("validationFailureAction %q, want Audit", doc.Spec.ValidationFailureAction)
				}
				if doc.Spec.Background == nil || !*doc.Spec.Background {
					t.Error("background must be true")
				}
				if len(doc.Spec.Rules) != 1 {
					t.Fatalf("%d rules, want exactly 1", len(doc.Spec.Rules))
				}
				checkRule(t, doc.Spec.Rules[0], wantPolicies[set][doc.Metadata.Name],
					set == SetHardening && (rbacPolicies[doc.Metadata.Name] || noAutogen[doc.Metadata.Name]))
			})
			if prev, dup := ids[doc.Metadata.Annotations["portcullis.dev/control-id"]]; dup {
				t.Errorf("%s and %s share a control id", prev, p)
			}
			ids[doc.Metadata.Annotations["portcullis.dev/control-id"]] = p
			if prev, dup := names[doc.Metadata.Name]; dup {
				t.Errorf("%s and %s share a policy name", prev, p)
			}
			names[doc.Metadata.Name] = p
		}
	}
}

// checkRule verifies the shape every built-in rule must have: a Pod-only
// match (so autogen applies), a name short enough for the autogen prefixes,
// and a validate block with a message and exactly one validation style.
// Hardening policies on other kinds (own, true) may match other kinds and
// use exclude.
func checkRule(t *testing.T, rule map[string]any, wantName string, own bool) {
	t.Helper()
	name, _ := rule["name"].(string)
	if name != wantName {
		t.Errorf("rule name %q, want %q", name, wantName)
	}
	if len("autogen-cronjob-"+name) > 63 {
		t.Errorf("rule name %q too long: Kyverno truncates autogen names at 63 characters", name)
	}
	wantMatch := map[string]any{"any": []any{map[string]any{"resources": map[string]any{"kinds": []any{"Pod"}}}}}
	if !own && !equalJSON(rule["match"], wantMatch) {
		t.Errorf("match = %v, want Pod only", rule["match"])
	}
	for _, key := range []string{"exclude", "preconditions", "context"} {
		if key == "context" && name == "validate-registries" {
			// The registry list is a context variable that
			// `portcullis scan --allowed-registry` overrides; checked by
			// TestRegistryListInOnePlace.
			continue
		}
		if key == "exclude" && own {
			continue
		}
		if _, ok := rule[key]; ok {
			t.Errorf("rule must not use %s", key)
		}
	}
	validate, ok := rule["validate"].(map[string]any)
	if !ok {
		t.Fatal("rule has no validate block")
	}
	if msg, _ := validate["message"].(string); strings.TrimSpace(msg) == "" {
		t.Error("validate.message is empty")
	}
	styles := 0
	for _, key := range []string{"pattern", "anyPattern", "deny", "foreach"} {
		if _, ok := validate[key]; ok {
			styles++
		}
	}
	if styles != 1 {
		t.Errorf("validate uses %d of pattern/anyPattern/deny/foreach, want 1", styles)
	}
}

func equalJSON(a, b any) bool {
	ja, errA := yaml.Marshal(a)
	jb, errB := yaml.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func TestRuleCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		set      string
		min, max int
	}{
		{name: "baseline", set: SetPSSBaseline, min: 11, max: 11},
		{name: "restricted", set: SetPSSRestricted, min: 6, max: 6},
		{name: "runbook", set: SetRunbook, min: 3, max: 1 << 30},
		{name: "hardening", set: SetHardening, min: 8, max: 1 << 30},
	}
	docs := loadPolicies(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := 0
			for _, doc := range docs[tt.set] {
				n += len(doc.Spec.Rules)
			}
			if n < tt.min || n > tt.max {
				t.Fatalf("%s has %d rules, want %d..%d", tt.set, n, tt.min, tt.max)
			}
			if len(docs[tt.set]) != len(wantPolicies[tt.set]) {
				t.Fatalf("%s has %d policies, want %d", tt.set, len(docs[tt.set]), len(wantPolicies[tt.set]))
			}
		})
	}
}

// registryPattern is the default value of the allowedRegistries context
// variable, which `portcullis scan --allowed-registry` overrides.
const registryPattern = `"gcr.io/* | ghcr.io/org/*"`

func TestRegistryListInOnePlace(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(FS(), "runbook/restrict-image-registries/restrict-image-registries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte(registryPattern)); n != 1 {
		t.Fatalf("registry pattern %s occurs %d times, want exactly 1", registryPattern, n)
	}
	for _, registry := range []string{"gcr.io/*", "ghcr.io/org/*"} {
		if n := bytes.Count(data, []byte(registry)); n != 1 {
			t.Errorf("%s occurs %d times; the list must appear only in the pattern string", registry, n)
		}
	}
	var doc policyDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	foreach, _ := doc.Spec.Rules[0]["validate"].(map[string]any)["foreach"].([]any)
	if len(foreach) != 1 {
		t.Fatalf("want one foreach entry, got %d", len(foreach))
	}
	image := foreach[0].(map[string]any)["pattern"].(map[string]any)["image"]
	if image != "{{ allowedRegistries }}" {
		t.Fatalf("foreach[0].pattern.image = %v, want {{ allowedRegistries }}", image)
	}
	wantContext := []any{map[string]any{"name": "allowedRegistries",
		"variable": map[string]any{"value": strings.Trim(registryPattern, `"`)}}}
	if !equalJSON(doc.Spec.Rules[0]["context"], wantContext) {
		t.Fatalf("context = %v, want %v", doc.Spec.Rules[0]["context"], wantContext)
	}
}

// FuzzFiles feeds arbitrary set names to Files: it must never panic, must
// fail exactly for names Sets does not list, and must only return files of
// the requested set.
func FuzzFiles(f *testing.F) {
	for _, seed := range []string{"pss-baseline", "runbook", "", "nope", "../x", "pss-baseline/.kyverno-test", "\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, set string) {
		files, err := Files(set)
		known := slices.Contains(Sets(), set)
		if known != (err == nil) {
			t.Fatalf("Files(%q): known=%v err=%v", set, known, err)
		}
		if err != nil {
			if !errors.Is(err, ErrUnknownSet) {
				t.Fatalf("Files(%q): error %v does not wrap ErrUnknownSet", set, err)
			}
			return
		}
		for _, file := range files {
			if !strings.HasPrefix(file.Path, set+"/") || strings.Contains(file.Path, "/.") {
				t.Fatalf("Files(%q) returned %s", set, file.Path)
			}
		}
	})
}
