package policysource

import (
	"fmt"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
)

// clusterContextKinds are the Kyverno context entry kinds whose value
// comes from the cluster or a registry at admission. serve does not load
// them yet: evaluated without them, a rule would see nothing (and a
// `||` default would pass), so such policies are refused instead.
var clusterContextKinds = []string{"configMap", "apiCall", "globalReference", "imageRegistry"}

// Unsupported returns why serve cannot enforce the Kyverno ClusterPolicy
// or Policy in d as written: every context entry (of a rule or of a
// foreach, at any depth) that needs the cluster or a registry. It returns
// nil for other documents. The errors name the policy, rule and field.
func Unsupported(d manifest.Document) []*policy.Error {
	kind, group := d.Kind(), groupOf(d.APIVersion())
	if (kind != kyvernov1.KindClusterPolicy && kind != kyvernov1.KindPolicy) || (group != kyvernov1.Group && group != kyvernov1.PortcullisGroup) {
		return nil
	}
	spec, _ := d.Object["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	var errs []*policy.Error
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		name, _ := rule["name"].(string)
		add := func(field string, entries any) {
			list, _ := entries.([]any)
			for j, e := range list {
				entry, _ := e.(map[string]any)
				for _, k := range clusterContextKinds {
					if _, ok := entry[k]; ok {
						en, _ := entry["name"].(string)
						errs = append(errs, &policy.Error{File: d.Source, Document: d.Index, Policy: d.Name(), Rule: name,
							Field: fmt.Sprintf("%s[%d].%s", field, j, k),
							Msg:   fmt.Sprintf("context entry %q: %s context entries are not supported in serve yet (the rule would be evaluated without its value)", en, k)})
					}
				}
			}
		}
		base := fmt.Sprintf("spec.rules[%d]", i)
		add(base+".context", rule["context"])
		validate, _ := rule["validate"].(map[string]any)
		var foreach func(field string, fe any)
		foreach = func(field string, fe any) {
			list, _ := fe.([]any)
			for k, f := range list {
				m, _ := f.(map[string]any)
				fk := fmt.Sprintf("%s[%d]", field, k)
				add(fk+".context", m["context"])
				foreach(fk+".foreach", m["foreach"])
			}
		}
		foreach(base+".validate.foreach", validate["foreach"])
	}
	return errs
}

func groupOf(apiVersion string) string {
	for i := 0; i < len(apiVersion); i++ {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}
