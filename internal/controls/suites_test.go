package controls

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

// kyvernoTest mirrors the `kyverno test` manifest (cli.kyverno.io/v1alpha1
// Test). It is decoded strictly, so a misspelt field fails the test.
type kyvernoTest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Policies  []string `json:"policies"`
	Resources []string `json:"resources"`
	Results   []struct {
		Policy    string   `json:"policy"`
		Rule      string   `json:"rule"`
		Kind      string   `json:"kind"`
		Resources []string `json:"resources"`
		Result    string   `json:"result"`
	} `json:"results"`
}

// suiteResource is one resource of a suite with its expected result.
type suiteResource struct {
	kind, name string
	doc        []byte
	expected   string
}

// suite is a parsed test suite of one policy.
type suite struct {
	set, policy, rule string
	resources         []*suiteResource
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocuments splits a multi-document YAML stream, dropping documents
// that hold only comments or whitespace.
func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	for _, part := range docSeparator.Split(string(data), -1) {
		empty := true
		for _, line := range strings.Split(part, "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				empty = false
				break
			}
		}
		if !empty {
			out = append(out, []byte(part))
		}
	}
	return out
}

func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want int
	}{
		{name: "single", in: "a: 1\n", want: 1},
		{name: "leading separator", in: "---\na: 1\n---\nb: 2\n", want: 2},
		{name: "comment only document", in: "a: 1\n---\n# nothing\n---\nb: 2\n", want: 2},
		{name: "separator inside value is not split", in: "a: |\n  x---y\n", want: 1},
		{name: "empty", in: "", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := len(splitDocuments([]byte(tt.in))); got != tt.want {
				t.Fatalf("splitDocuments(%q) = %d documents, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// loadSuite reads and cross-checks the suite of one policy and returns its
// resources with their expected results.
func loadSuite(t *testing.T, set, policyName string) suite {
	t.Helper()
	root := FS()
	dir := path.Join(set, policyName, ".kyverno-test")
	raw, err := fs.ReadFile(root, path.Join(dir, "kyverno-test.yaml"))
	if err != nil {
		t.Fatalf("every policy needs a test suite: %v", err)
	}
	var kt kyvernoTest
	if err := yaml.UnmarshalStrict(raw, &kt); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	if kt.APIVersion != "cli.kyverno.io/v1alpha1" || kt.Kind != "Test" || kt.Metadata.Name == "" {
		t.Fatalf("%s: header %s/%s name %q", dir, kt.APIVersion, kt.Kind, kt.Metadata.Name)
	}
	if len(kt.Policies) != 1 || path.Join(dir, kt.Policies[0]) != path.Join(set, policyName, policyName+".yaml") {
		t.Fatalf("%s: policies %v must reference ../%s.yaml only", dir, kt.Policies, policyName)
	}
	rule := wantPolicies[set][policyName]
	s := suite{set: set, policy: policyName, rule: rule}
	byKey := map[string]*suiteResource{}
	for _, rf := range kt.Resources {
		data, err := fs.ReadFile(root, path.Join(dir, rf))
		if err != nil {
			t.Fatalf("%s: resource file: %v", dir, err)
		}
		for _, doc := range splitDocuments(data) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s/%s: %v", dir, rf, err)
			}
			key := head.Kind + "/" + head.Metadata.Name
			if _, dup := byKey[key]; dup {
				t.Fatalf("%s: duplicate resource %s", dir, key)
			}
			r := &suiteResource{kind: head.Kind, name: head.Metadata.Name, doc: doc}
			byKey[key] = r
			s.resources = append(s.resources, r)
		}
	}
	wantRule := map[string]string{"Pod": rule, "Deployment": "autogen-" + rule, "CronJob": "autogen-cronjob-" + rule}
	own := set == SetHardening && (rbacPolicies[policyName] || noAutogen[policyName])
	if own {
		// No autogen: the rule itself matches every kind.
		for _, k := range []string{"Deployment", "CronJob", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding", "Namespace"} {
			wantRule[k] = rule
		}
	}
	for _, res := range kt.Results {
		if res.Policy != policyName {
			t.Errorf("%s: result for policy %q", dir, res.Policy)
		}
		if want, ok := wantRule[res.Kind]; !ok || res.Rule != want {
			t.Errorf("%s: %s result names rule %q, want %q", dir, res.Kind, res.Rule, want)
		}
		if res.Result != "pass" && res.Result != "fail" && res.Result != "skip" {
			t.Errorf("%s: result %q", dir, res.Result)
		}
		for _, name := range res.Resources {
			r, ok := byKey[res.Kind+"/"+name]
			if !ok {
				t.Errorf("%s: result names unknown resource %s/%s", dir, res.Kind, name)
				continue
			}
			if r.expected != "" {
				t.Errorf("%s: resource %s/%s listed twice", dir, res.Kind, name)
			}
			r.expected = res.Result
		}
	}
	coverage := map[string]bool{}
	for _, r := range s.resources {
		if validatingPolicies[policyName] && r.kind == "NetworkPolicy" {
			continue // what the policy looks up, not what it checks
		}
		if r.expected == "" {
			t.Errorf("%s: resource %s/%s has no expected result", dir, r.kind, r.name)
		}
		if want := map[string]string{"pass": "good", "fail": "bad"}[r.expected]; !rbacPolicies[policyName] && !strings.HasPrefix(r.name, want) {
			t.Errorf("%s: %s/%s expected to %s should be named %s...", dir, r.kind, r.name, r.expected, want)
		}
		coverage[r.kind+"/"+r.expected] = true
	}
	needs := []string{"Pod/pass", "Pod/fail", "Deployment/pass", "Deployment/fail", "CronJob/pass", "CronJob/fail"}
	if rbacPolicies[policyName] {
		needs = nil
		for k := range coverage {
			kind, _, _ := strings.Cut(k, "/")
			needs = append(needs, kind+"/pass", kind+"/fail")
		}
	}
	for _, need := range needs {
		if !coverage[need] {
			t.Errorf("%s: no %s case", dir, need)
		}
	}
	return s
}

func TestSuites(t *testing.T) {
	t.Parallel()
	for set, policies := range wantPolicies {
		for name := range policies {
			t.Run(set+"/"+name, func(t *testing.T) {
				t.Parallel()
				s := loadSuite(t, set, name)
				for _, r := range s.resources {
					if rbacPolicies[name] {
						if err := rbacOf(r); err != nil {
							t.Errorf("%s/%s: %v", r.kind, r.name, err)
						}
						continue
					}
					if _, _, err := podOf(r); err != nil {
						t.Errorf("%s/%s: %v", r.kind, r.name, err)
					}
				}
			})
		}
	}
}

// rbacOf strictly decodes an RBAC suite resource, which proves it is a
// valid object of its kind.
func rbacOf(r *suiteResource) error {
	var obj any
	switch r.kind {
	case "ClusterRole":
		obj = &rbacv1.ClusterRole{}
	case "Role":
		obj = &rbacv1.Role{}
	case "ClusterRoleBinding":
		obj = &rbacv1.ClusterRoleBinding{}
	case "RoleBinding":
		obj = &rbacv1.RoleBinding{}
	case "Namespace":
		obj = &corev1.Namespace{}
	case "NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	default:
		return fmt.Errorf("unexpected kind %q", r.kind)
	}
	if err := yaml.UnmarshalStrict(r.doc, obj); err != nil {
		return fmt.Errorf("decode %s: %w", r.kind, err)
	}
	return nil
}

// podOf strictly decodes a suite resource and returns the Pod metadata and
// spec it carries (the template of a Deployment or CronJob), which proves
// the resource is a valid object of its kind (Pod, Deployment, DaemonSet
// or CronJob).
func podOf(r *suiteResource) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
	switch r.kind {
	case "Pod":
		var pod corev1.Pod
		if err := yaml.UnmarshalStrict(r.doc, &pod); err != nil {
			return nil, nil, fmt.Errorf("decode Pod: %w", err)
		}
		return &pod.ObjectMeta, &pod.Spec, nil
	case "Deployment":
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(r.doc, &d); err != nil {
			return nil, nil, fmt.Errorf("decode Deployment: %w", err)
		}
		return &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec, nil
	case "DaemonSet":
		var ds appsv1.DaemonSet
		if err := yaml.UnmarshalStrict(r.doc, &ds); err != nil {
			return nil, nil, fmt.Errorf("decode DaemonSet: %w", err)
		}
		return &ds.Spec.Template.ObjectMeta, &ds.Spec.Template.Spec, nil
	case "CronJob":
		var cj batchv1.CronJob
		if err := yaml.UnmarshalStrict(r.doc, &cj); err != nil {
			return nil, nil, fmt.Errorf("decode CronJob: %w", err)
		}
		tpl := cj.Spec.JobTemplate.Spec.Template
		return &tpl.ObjectMeta, &tpl.Spec, nil
	}
	return nil, nil, fmt.Errorf("unexpected kind %q", r.kind)
}

// psaCheckFor maps each PSS control to the check of the upstream Pod
// Security Admission library that implements it.
var psaCheckFor = map[string]policy.CheckID{
	"disallow-host-process":          "windowsHostProcess",
	"disallow-host-namespaces":       "hostNamespaces",
	"disallow-privileged-containers": "privileged",
	"disallow-capabilities":          "capabilities_baseline",
	"disallow-host-path":             "hostPathVolumes",
	"disallow-host-ports":            "hostPorts",
	"restrict-apparmor-profiles":     "appArmorProfile",
	"disallow-selinux":               "seLinuxOptions",
	"disallow-proc-mount":            "procMount",
	"restrict-seccomp":               "seccompProfile_baseline",
	"restrict-sysctls":               "sysctls",
	"restrict-volume-types":          "restrictedVolumes",
	"disallow-privilege-escalation":  "allowPrivilegeEscalation",
	"require-run-as-nonroot":         "runAsNonRoot",
	"require-run-as-non-root-user":   "runAsUser",
	"restrict-seccomp-strict":        "seccompProfile_restricted",
	"disallow-capabilities-strict":   "capabilities_restricted",
}

// newestCheck returns the newest version of the PSA check with the given ID.
func newestCheck(t *testing.T, id policy.CheckID) policy.CheckPodFn {
	t.Helper()
	for _, c := range policy.DefaultChecks() {
		if c.ID != id {
			continue
		}
		newest := c.Versions[0]
		for _, v := range c.Versions[1:] {
			if newest.MinimumVersion.Older(v.MinimumVersion) {
				newest = v
			}
		}
		return newest.CheckPod
	}
	t.Fatalf("no PSA check %q", id)
	return nil
}

// TestSuitesAgreeWithPodSecurityAdmission evaluates every resource of the
// PSS suites with the upstream implementation of the same control and
// requires its verdict to equal the expected kyverno test result. This
// keeps the hand-written expectations honest.
func TestSuitesAgreeWithPodSecurityAdmission(t *testing.T) {
	t.Parallel()
	for _, set := range []string{SetPSSBaseline, SetPSSRestricted} {
		for name := range wantPolicies[set] {
			t.Run(set+"/"+name, func(t *testing.T) {
				t.Parallel()
				id, ok := psaCheckFor[name]
				if !ok {
					t.Fatalf("no PSA check mapped for %s", name)
				}
				check := newestCheck(t, id)
				for _, r := range loadSuite(t, set, name).resources {
					meta, spec, err := podOf(r)
					if err != nil {
						t.Fatalf("%s/%s: %v", r.kind, r.name, err)
					}
					res := check(meta, spec)
					if got := map[bool]string{true: "pass", false: "fail"}[res.Allowed]; got != r.expected {
						t.Errorf("%s/%s: suite expects %s, PSA check %s says %s (%s: %s)",
							r.kind, r.name, r.expected, id, got, res.ForbiddenReason, res.ForbiddenDetail)
					}
				}
			})
		}
	}
}
