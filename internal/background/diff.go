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

// policyID names a policy in prints and results: "kind/key", the kind
// as engine.Result.PolicyKind and policy.Set.Select name it.
func policyID(kind, key string) string { return kind + "/" + key }

// prints fingerprints every policy of set by policyID.
func prints(set *policy.Set, mapper meta.RESTMapper) map[string]policyPrint {
	out := map[string]policyPrint{}
	if set == nil {
		return out
	}
	for _, p := range set.Policies {
		out[policyID(p.Kind(), p.Key())] = policyPrint{kindsOfPolicy(p, mapper), hashOf(struct {
			Spec        any
			Annotations map[string]string
			Exceptions  []any
		}{p.Spec.Spec, p.Spec.Annotations, exceptionsOf(set, p)})}
	}
	for _, vp := range set.Validating {
		out[policyID(policy.KindValidatingPolicy, vp.Name())] = policyPrint{resourceRuleKinds(vp.Spec.Spec.MatchConstraints, mapper),
			hashOf([]any{vp.Spec.Spec, celExceptionsOf(set, vp.Name())})}
	}
	for _, ap := range set.Admission {
		specs := []any{ap.Spec.Spec}
		for _, b := range ap.Bindings {
			specs = append(specs, b.Spec.Spec)
		}
		out[policyID(policy.KindValidatingAdmissionPolicy, ap.Name())] = policyPrint{resourceRuleKinds(ap.Spec.Spec.MatchConstraints, mapper), hashOf(specs)}
	}
	for _, ip := range set.Images {
		// Image policies cover the pod kinds, which are always watched.
		out[policyID(policy.KindClusterImagePolicy, ip.Name())] = policyPrint{kindSet{all: true}, hashOf(ip.Object.Spec)}
	}
	return out
}

// policyDelta is what changed between two fingerprints of the policies.
type policyDelta struct {
	// changed are the added or edited policies (by policyID); kinds what
	// they match, before or after the edit: those objects are evaluated
	// again against these policies only.
	changed map[string]bool
	kinds   kindSet
	// removed are the deleted policies: their results are dropped, no
	// evaluation is needed.
	removed map[string]bool
}

func (d policyDelta) empty() bool { return len(d.changed) == 0 && len(d.removed) == 0 }

// diff returns what changed when the policies go from old to cur.
func diff(old, cur map[string]policyPrint) policyDelta {
	d := policyDelta{changed: map[string]bool{}, removed: map[string]bool{}}
	for id, c := range cur {
		o, ok := old[id]
		if ok && o.hash == c.hash {
			continue
		}
		d.changed[id] = true
		d.kinds.merge(c.kinds)
		if ok {
			d.kinds.merge(o.kinds)
		}
	}
	for id := range old {
		if _, ok := cur[id]; !ok {
			d.removed[id] = true
		}
	}
	return d
}

// exceptionsOf returns the specs of the PolicyExceptions naming a rule of
// p: a policy's print changes with them, so that adding, editing or
// deleting an exception evaluates the policy's objects again.
func exceptionsOf(set *policy.Set, p *policy.Policy) []any {
	var out []any
	for _, x := range set.Exceptions {
		for _, r := range p.Rules {
			if x.Covers(p.Key(), r.Name()) {
				out = append(out, []any{x.Key(), x.Spec.Spec})
				break
			}
		}
	}
	return out
}

// celExceptionsOf returns the specs of the policies.kyverno.io exceptions
// naming the ValidatingPolicy name.
func celExceptionsOf(set *policy.Set, name string) []any {
	var out []any
	for _, x := range set.CELExceptionsFor(policy.KindValidatingPolicy, name) {
		out = append(out, []any{x.Key(), x.CEL.Spec})
	}
	return out
}
