package policyreport

import (
	"github.com/portcullis/portcullis/api/wgpolicyk8s/v1alpha2"
	"github.com/portcullis/portcullis/internal/engine"
	"k8s.io/apimachinery/pkg/runtime"
)

// Reported is one listed failing (fail or warn) result of an existing
// report, with the uid of its resource.
type Reported struct {
	UID    string
	Result engine.Result
}

// Failing returns the failing results (fail and warn: what the event
// sink counts as violations) listed in a report read from the API server
// (as unstructured content); results it cannot read are left out.
func Failing(obj map[string]any) []Reported {
	var r v1alpha2.PolicyReport
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &r); err != nil {
		return nil
	}
	var out []Reported
	for _, res := range r.Results {
		if res.Result != v1alpha2.StatusFail && res.Result != v1alpha2.StatusWarn {
			continue
		}
		for _, ref := range res.Resources {
			out = append(out, Reported{UID: string(ref.UID), Result: engine.Result{
				Policy: res.Policy, PolicyKind: res.Properties["policyKind"], Rule: res.Rule, Status: engine.Status(res.Result),
				Resource: engine.Resource{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name},
				Message:  res.Message, Path: res.Properties["path"], Severity: res.Severity, Category: res.Category,
				Image: res.Properties["image"], Digest: res.Properties["digest"],
			}})
		}
	}
	return out
}
