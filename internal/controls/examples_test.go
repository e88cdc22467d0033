package controls

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// examplesDir holds the README demo manifests, relative to this package.
const examplesDir = "../../examples/manifests"

// exampleFailures lists, per example workload, the PSS policies it is
// expected to fail; every other PSS policy must pass. Objects that are not
// workloads are listed with a nil slice and only need to decode. The README
// next to the manifests documents the same table, runbook controls included.
var exampleFailures = map[string][]string{
	"compliant-deployment.yaml/Deployment/payments-api": {},
	"noncompliant-pod.yaml/Pod/node-debugger": {
		"disallow-capabilities", "disallow-capabilities-strict", "disallow-host-namespaces",
		"disallow-host-path", "disallow-host-ports", "disallow-privilege-escalation",
		"disallow-privileged-containers", "require-run-as-non-root-user", "require-run-as-nonroot",
		"restrict-apparmor-profiles", "restrict-seccomp", "restrict-seccomp-strict", "restrict-volume-types",
	},
	"web-service-and-deployment.yaml/Service/storefront": nil,
	"web-service-and-deployment.yaml/Deployment/storefront": {
		"disallow-capabilities-strict", "disallow-privilege-escalation", "restrict-seccomp-strict",
	},
	"workloads-list.yaml/ConfigMap/report-settings": nil,
	"workloads-list.yaml/CronJob/nightly-report":    {},
	"workloads-list.yaml/DaemonSet/log-shipper": {
		"disallow-capabilities-strict", "disallow-host-path", "disallow-privilege-escalation",
		"require-run-as-nonroot", "restrict-seccomp-strict", "restrict-volume-types",
	},
}

// exampleObjects reads every example file and returns its objects keyed
// like exampleFailures, expanding kind: List.
func exampleObjects(t *testing.T) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatalf("read examples: %v", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".yaml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(examplesDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range splitDocuments(data) {
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			items := []any{obj}
			if obj["kind"] == "List" {
				items, _ = obj["items"].([]any)
			}
			for _, item := range items {
				m, _ := item.(map[string]any)
				md, _ := m["metadata"].(map[string]any)
				key := e.Name() + "/" + toString(m["kind"]) + "/" + toString(md["name"])
				raw, err := yaml.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				out[key] = raw
			}
		}
	}
	return out
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

func TestExamplesAgreeWithPodSecurityAdmission(t *testing.T) {
	t.Parallel()
	objects := exampleObjects(t)
	for key := range objects {
		if _, ok := exampleFailures[key]; !ok {
			t.Errorf("example object %s has no expectation", key)
		}
	}
	for key, wantFail := range exampleFailures {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			raw, ok := objects[key]
			if !ok {
				t.Fatalf("example object %s not found", key)
			}
			if wantFail == nil {
				return
			}
			kind := filepath.Base(filepath.Dir(key))
			meta, spec, err := podOf(&suiteResource{kind: kind, name: filepath.Base(key), doc: raw})
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			var gotFail []string
			for policyName, id := range psaCheckFor {
				if !newestCheck(t, id)(meta, spec).Allowed {
					gotFail = append(gotFail, policyName)
				}
			}
			slices.Sort(gotFail)
			want := slices.Clone(wantFail)
			slices.Sort(want)
			if !slices.Equal(gotFail, want) {
				t.Fatalf("%s: PSA fails %v, expected %v", key, gotFail, want)
			}
		})
	}
}
