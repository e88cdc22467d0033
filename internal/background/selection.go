package background

import (
	"reflect"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/policy"
)

// policyKey names a policy as results do (engine.Result.PolicyKind and
// Policy): policyID split, so a result is looked up without building its
// policyID.
type policyKey struct{ kind, policy string }

// selection remembers the policies of the last partial evaluation: a
// policy change queues every object it can match with one shared map of
// policy IDs, and each of them is evaluated against the same subset of the
// same set. Selecting it (policy.Set.Select builds the subset's index) once
// per change instead of once per object saved 6% of the CPU of evaluating
// 10,000 Pods after an edit.
type selection struct {
	mu   sync.Mutex
	ids  map[string]bool // the queued map (compared by identity, and kept so its address is not reused)
	set  *policy.Set
	sub  *policy.Set
	keys map[policyKey]bool
}

// of returns the policies of set named by ids (policyIDs), and ids as
// policyKeys.
func (s *selection) of(set *policy.Set, ids map[string]bool) (*policy.Set, map[policyKey]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == set && s.ids != nil && sameMap(s.ids, ids) {
		return s.sub, s.keys
	}
	keys := make(map[policyKey]bool, len(ids))
	for id := range ids {
		kind, key, _ := strings.Cut(id, "/")
		keys[policyKey{kind, key}] = true
	}
	sub := set.Select(func(kind, key string) bool { return keys[policyKey{kind, key}] })
	s.ids, s.set, s.sub, s.keys = ids, set, sub, keys
	return sub, keys
}

// sameMap says whether a and b are the same map (not equal ones).
func sameMap(a, b map[string]bool) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
