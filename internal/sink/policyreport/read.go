package policyreport

import (
	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	"k8s.io/apimachinery/pkg/runtime"
)

// Reported is one listed failing result of an existing report, with the
// uid of its resource.
type Reported struct {
	UID    string
	Result engine.Result
}

// Failing returns the failing results listed in a report read from the
// API server (as unstructured content); results it cannot read are left
// out.
func Failing(obj map[string]any) []Reported {
	var r v1alpha2.PolicyReport
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &r); err != nil {
		return nil
	}
	var out []Reported
	for _, res := range r.Results {
		if res.Result != v1alpha2.StatusFail || len(res.Resources) == 0 {
			continue
		}
		ref := res.Resources[0]
		out = append(out, Reported{UID: string(ref.UID), Result: engine.Result{
			Policy: res.Policy, PolicyKind: res.Properties["policyKind"], Rule: res.Rule, Status: engine.StatusFail,
			Resource: engine.Resource{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name},
			Message:  res.Message, Path: res.Properties["path"], Severity: res.Severity, Category: res.Category,
			Image: res.Properties["image"], Digest: res.Properties["digest"],
		}})
	}
	return out
}
