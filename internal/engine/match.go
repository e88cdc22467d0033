package engine

import (
	"slices"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/wildcard"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// request is the part of an Input that match/exclude look at.
type request struct {
	apiVersion, kind, name, namespace, subresource, operation string
	labels, annotations, namespaceLabels                      map[string]string
	user                                                      UserInfo
}

// resource identifies the request's object in results.
func (req *request) resource() Resource {
	return Resource{APIVersion: req.apiVersion, Kind: req.kind, Namespace: req.namespace, Name: req.name}
}

// ruleApplies reports whether the rule matches the request and is not
// excluded, with Kyverno's semantics: match.any (one filter), match.all
// (every filter) or the inline description; exclude.any excludes when
// one filter matches, exclude.all when every filter does.
func ruleApplies(r *policy.Rule, req *request) bool {
	if !matchSelects(r.Match, req) {
		return false
	}
	ex := r.Exclude
	if ex == nil {
		return true
	}
	if len(ex.Any) > 0 {
		for i := range ex.Any {
			if filterMatches(&ex.Any[i], req) {
				return false
			}
		}
		return true
	}
	if len(ex.All) == 0 {
		return true
	}
	for i := range ex.All {
		if !filterMatches(&ex.All[i], req) {
			return true
		}
	}
	return false
}

// matchSelects reports whether a match block selects the request: one
// filter of any, or every filter of all. A nil or empty block selects
// nothing.
func matchSelects(m *policy.Match, req *request) bool {
	switch {
	case m == nil:
		return false
	case len(m.Any) > 0:
		for i := range m.Any {
			if filterMatches(&m.Any[i], req) {
				return true
			}
		}
		return false
	case len(m.All) == 0:
		return false
	}
	for i := range m.All {
		if !filterMatches(&m.All[i], req) {
			return false
		}
	}
	return true
}

// SubresourceEphemeralContainers is the Pod subresource `kubectl debug`
// updates to add an ephemeral container: the request carries the whole
// Pod.
const SubresourceEphemeralContainers = "ephemeralcontainers"

// kindMatches reports whether the kind selector selects the request. As in
// Kyverno (and the Pod Security admission), a selector of the Pod itself
// also selects an UPDATE of pods/ephemeralcontainers, whose object is the
// Pod with its new ephemeral containers: otherwise every Pod rule could be
// bypassed by adding an ephemeral container.
func kindMatches(k policy.KindSelector, req *request) bool {
	if k.Matches(req.apiVersion, req.kind, req.subresource) {
		return true
	}
	return req.subresource == SubresourceEphemeralContainers && req.kind == "Pod" && k.Subresource == "" &&
		k.Matches(req.apiVersion, req.kind, "")
}

// filterMatches reports whether every condition the filter sets holds. An
// empty filter matches nothing.
func filterMatches(f *policy.Filter, req *request) bool {
	rd := &f.Resource
	if rd.IsEmpty() && f.User.IsEmpty() {
		return false
	}
	if len(f.Kinds) > 0 {
		ok := false
		for _, k := range f.Kinds {
			if kindMatches(k, req) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if rd.Name != "" && !wildcard.Match(rd.Name, req.name) {
		return false
	}
	if len(rd.Names) > 0 && !anyWildcard(rd.Names, req.name) {
		return false
	}
	if len(rd.Namespaces) > 0 {
		ns := req.namespace
		if req.kind == "Namespace" {
			ns = req.name
		}
		if !anyWildcard(rd.Namespaces, ns) {
			return false
		}
	}
	if len(rd.Annotations) > 0 && !mapMatches(rd.Annotations, req.annotations) {
		return false
	}
	if rd.Selector != nil && !selectorMatches(rd.Selector, req.labels) {
		return false
	}
	if rd.NamespaceSelector != nil && req.kind != "Namespace" && req.kind != "" &&
		!selectorMatches(rd.NamespaceSelector, req.namespaceLabels) {
		return false
	}
	if len(rd.Operations) > 0 && !slices.Contains(rd.Operations, req.operation) {
		return false
	}
	return userMatches(&f.User, &req.user)
}

func anyWildcard(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard.Match(p, s) {
			return true
		}
	}
	return false
}

// mapMatches reports whether every (key, value) pattern matches some entry.
func mapMatches(want, have map[string]string) bool {
	for wk, wv := range want {
		found := false
		if v, ok := have[wk]; ok && wildcard.Match(wv, v) {
			found = true
		} else if wildcard.ContainsWildcard(wk) {
			for k, v := range have {
				if wildcard.Match(wk, k) && wildcard.Match(wv, v) {
					found = true
					break
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// selectorMatches evaluates a label selector; matchLabels keys and values
// may hold wildcards, as Kyverno allows.
func selectorMatches(s *metav1.LabelSelector, set map[string]string) bool {
	if len(s.MatchLabels) > 0 && !mapMatches(s.MatchLabels, set) {
		return false
	}
	for _, e := range s.MatchExpressions {
		var op selection.Operator
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			op = selection.In
		case metav1.LabelSelectorOpNotIn:
			op = selection.NotIn
		case metav1.LabelSelectorOpExists:
			op = selection.Exists
		case metav1.LabelSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return false
		}
		req, err := labels.NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return false
		}
		if !req.Matches(labels.Set(set)) {
			return false
		}
	}
	return true
}

func userMatches(u *kyvernov1.UserInfo, have *UserInfo) bool {
	if len(u.Roles) > 0 && !intersects(u.Roles, have.Roles) {
		return false
	}
	if len(u.ClusterRoles) > 0 && !intersects(u.ClusterRoles, have.ClusterRoles) {
		return false
	}
	if len(u.Subjects) == 0 {
		return true
	}
	for _, s := range u.Subjects {
		switch s.Kind {
		case "User":
			if wildcard.Match(s.Name, have.Username) {
				return true
			}
		case "Group":
			for _, g := range have.Groups {
				if wildcard.Match(s.Name, g) {
					return true
				}
			}
		case "ServiceAccount":
			// Kyverno matches the whole user name as a wildcard pattern, so
			// name: "*" selects every service account of a namespace.
			if wildcard.Match("system:serviceaccount:"+s.Namespace+":"+s.Name, have.Username) {
				return true
			}
		}
	}
	return false
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
