package policysource

import (
	"fmt"
	"regexp"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
)

// unservedContextKinds are the Kyverno context entry kinds serve does not
// load at admission: evaluated without them, a rule would see nothing
// (and a `||` default would pass), so such policies are refused instead.
// configMap entries and apiCall GETs of the API server by urlPath are
// served from the informer cache (internal/serve clusterStore); apiCall
// entries that call a service, use another method or a path that is not
// a resource or collection are refused too (apiCallProblem).
var unservedContextKinds = []string{"globalReference", "imageRegistry"}

// apiCallProblem says why serve cannot answer an apiCall entry, or "".
func apiCallProblem(call any) string {
	m, _ := call.(map[string]any)
	if _, ok := m["service"]; ok {
		return "apiCall service calls are not supported in serve yet (only urlPath GETs of the API server)"
	}
	if method, _ := m["method"].(string); method != "" && method != "GET" {
		return fmt.Sprintf("apiCall method %s is not supported in serve yet (only GET)", method)
	}
	path, _ := m["urlPath"].(string)
	if path == "" {
		return "apiCall without urlPath is not supported in serve yet"
	}
	// Variables are substituted at admission: check the path's shape with
	// a placeholder in their place.
	if _, err := engine.ParseAPIPath(variablePattern.ReplaceAllString(path, "x")); err != nil {
		return fmt.Sprintf("apiCall urlPath %q is not supported in serve yet (only GETs of one resource or a collection under /api or /apis: no query, no subresource)", path)
	}
	return ""
}

var variablePattern = regexp.MustCompile(`\{\{[^}]*\}\}`)

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
				en, _ := entry["name"].(string)
				for _, k := range unservedContextKinds {
					if _, ok := entry[k]; ok {
						errs = append(errs, &policy.Error{File: d.Source, Document: d.Index, Policy: d.Name(), Rule: name,
							Field: fmt.Sprintf("%s[%d].%s", field, j, k),
							Msg:   fmt.Sprintf("context entry %q: %s context entries are not supported in serve yet (the rule would be evaluated without its value)", en, k)})
					}
				}
				if call, ok := entry["apiCall"]; ok {
					if why := apiCallProblem(call); why != "" {
						errs = append(errs, &policy.Error{File: d.Source, Document: d.Index, Policy: d.Name(), Rule: name,
							Field: fmt.Sprintf("%s[%d].apiCall", field, j),
							Msg:   fmt.Sprintf("context entry %q: %s (the rule would be evaluated without its value)", en, why)})
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
		mutate, _ := rule["mutate"].(map[string]any)
		foreach(base+".mutate.foreach", mutate["foreach"])
		targets, _ := mutate["targets"].([]any)
		for k, t := range targets {
			m, _ := t.(map[string]any)
			add(fmt.Sprintf("%s.mutate.targets[%d].context", base, k), m["context"])
		}
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
