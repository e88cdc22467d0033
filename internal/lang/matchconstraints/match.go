package matchconstraints

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Request is what matching looks at.
type Request struct {
	// Group, Version and Resource of the object ("" group for core).
	Group, Version, Resource string
	// Subresource is "" for the object itself.
	Subresource string
	// Operation is CREATE, UPDATE, DELETE or CONNECT.
	Operation string
	// Name and Namespace of the object ("" namespace for cluster-scoped).
	Name, Namespace string
	// Namespaced is false for cluster-scoped resources.
	Namespaced bool
	// ObjectLabels are the labels of the object (or old object on DELETE).
	ObjectLabels map[string]string
	// NamespaceLabels are the labels of the object's namespace.
	NamespaceLabels map[string]string
}

// Matcher is a compiled MatchResources. The zero value matches nothing.
type Matcher struct {
	spec      admissionregistrationv1.MatchResources
	nsSel     labels.Selector
	objectSel labels.Selector
}

// Compile validates m and prepares its selectors.
func Compile(m *admissionregistrationv1.MatchResources) (*Matcher, error) {
	if m == nil {
		return nil, fmt.Errorf("matchConstraints is required")
	}
	if len(m.ResourceRules) == 0 {
		return nil, fmt.Errorf("matchConstraints.resourceRules must not be empty")
	}
	out := &Matcher{spec: *m, nsSel: labels.Everything(), objectSel: labels.Everything()}
	var err error
	if m.NamespaceSelector != nil {
		if out.nsSel, err = metav1.LabelSelectorAsSelector(m.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("matchConstraints.namespaceSelector: %w", err)
		}
	}
	if m.ObjectSelector != nil {
		if out.objectSel, err = metav1.LabelSelectorAsSelector(m.ObjectSelector); err != nil {
			return nil, fmt.Errorf("matchConstraints.objectSelector: %w", err)
		}
	}
	for i, r := range m.ResourceRules {
		if err := checkRule(r.RuleWithOperations); err != nil {
			return nil, fmt.Errorf("matchConstraints.resourceRules[%d]: %w", i, err)
		}
	}
	for i, r := range m.ExcludeResourceRules {
		if err := checkRule(r.RuleWithOperations); err != nil {
			return nil, fmt.Errorf("matchConstraints.excludeResourceRules[%d]: %w", i, err)
		}
	}
	return out, nil
}

func checkRule(r admissionregistrationv1.RuleWithOperations) error {
	if len(r.Operations) == 0 {
		return fmt.Errorf("operations must not be empty")
	}
	for _, op := range r.Operations {
		switch op {
		case admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete,
			admissionregistrationv1.Connect, admissionregistrationv1.OperationAll:
		default:
			return fmt.Errorf("unknown operation %q", op)
		}
	}
	if len(r.APIGroups) == 0 || len(r.APIVersions) == 0 || len(r.Resources) == 0 {
		return fmt.Errorf("apiGroups, apiVersions and resources must not be empty")
	}
	if r.Scope != nil {
		switch *r.Scope {
		case admissionregistrationv1.ClusterScope, admissionregistrationv1.NamespacedScope, admissionregistrationv1.AllScopes:
		default:
			return fmt.Errorf("unknown scope %q", *r.Scope)
		}
	}
	return nil
}

// Matches reports whether req falls under the constraints.
func (m *Matcher) Matches(req Request) bool {
	if m == nil {
		return false
	}
	if !m.namespaceMatches(req) {
		return false
	}
	if !m.objectSel.Matches(labels.Set(req.ObjectLabels)) {
		return false
	}
	for _, r := range m.spec.ExcludeResourceRules {
		if ruleMatches(r, req) {
			return false
		}
	}
	for _, r := range m.spec.ResourceRules {
		if ruleMatches(r, req) {
			return true
		}
	}
	return false
}

// namespaceMatches follows the API server: cluster-scoped objects other
// than Namespace always match; a Namespace is matched on its own labels.
func (m *Matcher) namespaceMatches(req Request) bool {
	if m.spec.NamespaceSelector == nil {
		return true
	}
	if req.Resource == "namespaces" && req.Group == "" {
		return m.nsSel.Matches(labels.Set(req.ObjectLabels))
	}
	if !req.Namespaced || req.Namespace == "" {
		return true
	}
	return m.nsSel.Matches(labels.Set(req.NamespaceLabels))
}

func ruleMatches(r admissionregistrationv1.NamedRuleWithOperations, req Request) bool {
	if len(r.ResourceNames) > 0 && !contains(r.ResourceNames, req.Name) {
		return false
	}
	ok := false
	for _, op := range r.Operations {
		if op == admissionregistrationv1.OperationAll || string(op) == req.Operation {
			ok = true
			break
		}
	}
	if !ok || !matchAny(r.APIGroups, req.Group) || !matchAny(r.APIVersions, req.Version) {
		return false
	}
	if r.Scope != nil {
		switch *r.Scope {
		case admissionregistrationv1.ClusterScope:
			if req.Namespaced {
				return false
			}
		case admissionregistrationv1.NamespacedScope:
			if !req.Namespaced {
				return false
			}
		}
	}
	for _, res := range r.Resources {
		if resourceMatches(res, req.Resource, req.Subresource) {
			return true
		}
	}
	return false
}

// resourceMatches implements "pods", "pods/status", "*", "*/*", "pods/*", "*/scale".
func resourceMatches(pattern, resource, sub string) bool {
	pr, ps, hasSub := strings.Cut(pattern, "/")
	if pr != "*" && pr != resource {
		return false
	}
	if !hasSub {
		return sub == ""
	}
	return ps == "*" || ps == sub
}

func matchAny(list []string, s string) bool {
	for _, x := range list {
		if x == "*" || x == s {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
