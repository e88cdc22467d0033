package background

import (
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// podKinds are watched whatever the policies say: every image policy
// covers them.
var podKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Pod"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "batch", Version: "v1", Kind: "Job"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Version: "v1", Kind: "ReplicationController"},
}

// kindSet is the kinds one or more policies can match. all is set when one
// of them can match any kind of the watched ones (a wildcard kind, an
// image policy, a ValidatingPolicy or VAP whose resources cannot be
// mapped): every watched kind is then affected.
type kindSet struct {
	kinds map[schema.GroupVersionKind]bool
	all   bool
}

func (k *kindSet) add(gvk schema.GroupVersionKind) {
	if k.kinds == nil {
		k.kinds = map[schema.GroupVersionKind]bool{}
	}
	k.kinds[gvk] = true
}

func (k *kindSet) has(gvk schema.GroupVersionKind) bool { return k.all || k.kinds[gvk] }

func (k *kindSet) merge(o kindSet) {
	k.all = k.all || o.all
	for g := range o.kinds {
		k.add(g)
	}
}

// kindsOfRule resolves the kinds a Kyverno rule matches with mapper.
// Kinds that do not resolve (not served by this cluster) are left out.
func kindsOfRule(r *policy.Rule, mapper meta.RESTMapper) kindSet {
	var ks kindSet
	if r.Match == nil {
		ks.all = true
		return ks
	}
	for _, f := range append(append([]policy.Filter(nil), r.Match.Any...), r.Match.All...) {
		for _, sel := range f.Kinds {
			switch {
			case strings.ContainsAny(sel.Kind, "*?"):
				ks.all = true
			case sel.Subresource != "":
				// Subresources (pods/ephemeralcontainers, .../scale) are
				// requests, not stored objects.
			case sel.AnyGroupVersion || strings.ContainsAny(sel.Group, "*?") || strings.ContainsAny(sel.Version, "*?"):
				resolveAnyGroup(&ks, sel.Kind, mapper)
			default:
				if m, err := mapper.RESTMapping(schema.GroupKind{Group: sel.Group, Kind: sel.Kind}, sel.Version); err == nil {
					ks.add(m.GroupVersionKind)
				}
			}
		}
	}
	return ks
}

// resolveAnyGroup adds the preferred version of every group serving kind.
func resolveAnyGroup(ks *kindSet, kind string, mapper meta.RESTMapper) {
	plural := kinds.Lookup("", kind).Resource
	found, err := mapper.KindsFor(schema.GroupVersionResource{Resource: plural})
	if err != nil {
		return
	}
	groups := map[string]bool{}
	for _, g := range found {
		if g.Kind == kind && !groups[g.Group] {
			groups[g.Group] = true
			ks.add(g)
		}
	}
}

// resourceRuleKinds resolves the resources of a ValidatingPolicy's or
// VAP's matchConstraints; wildcard resources set all.
func resourceRuleKinds(m *admissionregistrationv1.MatchResources, mapper meta.RESTMapper) kindSet {
	var ks kindSet
	if m == nil {
		ks.all = true
		return ks
	}
	for _, rr := range m.ResourceRules {
		for _, res := range rr.Resources {
			if strings.Contains(res, "/") {
				continue // a subresource
			}
			if res == "*" {
				ks.all = true
				continue
			}
			groups, versions := rr.APIGroups, rr.APIVersions
			if len(groups) == 0 {
				groups = []string{""}
			}
			for _, g := range groups {
				gvr := schema.GroupVersionResource{Group: g, Resource: res}
				if g == "*" {
					gvr.Group = ""
				}
				if len(versions) == 1 && versions[0] != "*" {
					gvr.Version = versions[0]
				}
				if gvk, err := mapper.KindFor(gvr); err == nil {
					ks.add(gvk)
				}
			}
		}
	}
	return ks
}

// kindsOfPolicy is the union of the kinds of p's rules.
func kindsOfPolicy(p *policy.Policy, mapper meta.RESTMapper) kindSet {
	var ks kindSet
	for _, r := range p.Rules {
		ks.merge(kindsOfRule(r, mapper))
	}
	return ks
}

// watchedKinds is every kind the set's policies can match, plus the pod
// kinds, sorted. Wildcards add nothing beyond the pod kinds: the
// controller does not watch every kind of the cluster.
func watchedKinds(set *policy.Set, mapper meta.RESTMapper) []schema.GroupVersionKind {
	seen := map[schema.GroupVersionKind]bool{}
	var out []schema.GroupVersionKind
	add := func(g schema.GroupVersionKind) {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	for _, g := range podKinds {
		add(g)
	}
	if set != nil {
		for _, p := range set.Policies {
			for g := range kindsOfPolicy(p, mapper).kinds {
				add(g)
			}
		}
		for _, vp := range set.Validating {
			for g := range resourceRuleKinds(vp.Spec.Spec.MatchConstraints, mapper).kinds {
				add(g)
			}
		}
		for _, ap := range set.Admission {
			for g := range resourceRuleKinds(ap.Spec.Spec.MatchConstraints, mapper).kinds {
				add(g)
			}
		}
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionKind) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// Kinds is every kind the set's policies can match, plus the pod kinds,
// resolved with mapper and sorted: the kinds the controller watches, and
// the kinds `portcullis scan --cluster` lists.
func Kinds(set *policy.Set, mapper meta.RESTMapper) []schema.GroupVersionKind {
	return watchedKinds(set, mapper)
}
