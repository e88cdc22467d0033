package background

import (
	"crypto/sha256"
	"encoding/json"

	"github.com/portcullis/portcullis/internal/policy"
	"k8s.io/apimachinery/pkg/api/meta"
)

// policyPrint is what identifies one policy's content: its kind, key and
// a hash of its spec (metadata such as resourceVersion and status writes
// do not count, so a status update is not a change).
type policyPrint struct {
	kinds kindSet
	hash  [32]byte
}

func hashOf(v any) [32]byte {
	b, _ := json.Marshal(v)
	return sha256.Sum256(b)
}

// prints fingerprints every policy of set by "kind/key".
func prints(set *policy.Set, mapper meta.RESTMapper) map[string]policyPrint {
	out := map[string]policyPrint{}
	if set == nil {
		return out
	}
	for _, p := range set.Policies {
		out["kyverno/"+p.Key()] = policyPrint{kindsOfPolicy(p, mapper), hashOf(struct {
			Spec        any
			Annotations map[string]string
		}{p.Spec.Spec, p.Spec.Annotations})}
	}
	for _, vp := range set.Validating {
		out["vpol/"+vp.Name()] = policyPrint{resourceRuleKinds(vp.Spec.Spec.MatchConstraints, mapper), hashOf(vp.Spec.Spec)}
	}
	for _, ap := range set.Admission {
		specs := []any{ap.Spec.Spec}
		for _, b := range ap.Bindings {
			specs = append(specs, b.Spec.Spec)
		}
		out["vap/"+ap.Name()] = policyPrint{resourceRuleKinds(ap.Spec.Spec.MatchConstraints, mapper), hashOf(specs)}
	}
	for _, ip := range set.Images {
		// Image policies cover the pod kinds, which are always watched.
		out["cip/"+ip.Name()] = policyPrint{kindSet{all: true}, hashOf(ip.Object.Spec)}
	}
	return out
}

// changedKinds returns the kinds whose objects must be evaluated again
// when the set goes from old to cur: those matched by an added, removed
// or changed policy (before or after the change).
func changedKinds(old, cur map[string]policyPrint) (kindSet, int) {
	var ks kindSet
	changed := 0
	for k, c := range cur {
		o, ok := old[k]
		if ok && o.hash == c.hash {
			continue
		}
		changed++
		ks.merge(c.kinds)
		if ok {
			ks.merge(o.kinds)
		}
	}
	for k, o := range old {
		if _, ok := cur[k]; !ok {
			changed++
			ks.merge(o.kinds)
		}
	}
	return ks, changed
}
