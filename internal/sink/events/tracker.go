package events

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
)

// Failing reports whether a result with status s is a violation: fail
// (under any mode, Audit or Enforce) and warn (a failure under a policy or
// binding that only warns, an unscored rule). An error result is neither
// failing nor passing: the Tracker keeps the rule's previous state.
func Failing(s engine.Status) bool {
	return s == engine.StatusFail || s == engine.StatusWarn
}

// ruleKey identifies a rule: policy names are unique per kind only.
type ruleKey struct {
	kind, policy, rule string
}

func keyOf(r engine.Result) ruleKey {
	return ruleKey{r.PolicyKind, r.Policy, r.Rule}
}

func compareKeys(a, b ruleKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.policy, b.policy), cmp.Compare(a.rule, b.rule))
}

// tracked is the state of one resource that fails at least one rule.
type tracked struct {
	failing map[ruleKey]engine.Result
	images  []Image
}

// Tracker turns a resource's successive results into compliance
// transitions. It keeps state only for resources that fail a rule: one
// entry per failing (policy kind, policy, rule). The zero value is not
// usable; call NewTracker. It is safe for concurrent use.
type Tracker struct {
	mu  sync.Mutex
	uid map[string]*tracked
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{uid: map[string]*tracked{}}
}

// ruleState is the aggregate of a rule's current results on one resource
// (a rule may yield one result per image).
type ruleState struct {
	key     ruleKey
	at      int // index of the first failing result, else of the first result
	failing bool
	errored bool // some result is an error, none fails
}

// Observe records the full current results of the resource with the given
// UID (every result of one evaluation of that resource, and only of it)
// and returns its transitions, in result order, then rule order for rules
// without a current result:
//   - a violation for every rule with a failing result (see Failing) that
//     was not failing before;
//   - a resolution for every rule that was failing and now passes or skips
//     (carrying the current result), or has no result any more (carrying
//     the last failing result with Status skip and ReasonNotEvaluated).
//
// A rule whose results are errors keeps its previous state: an evaluation
// that could not decide (a registry down) neither raises nor resolves a
// violation. images are the resource's images, recorded for later
// resolutions; Observe copies them.
func (t *Tracker) Observe(uid string, results []engine.Result, images []Image, now time.Time) []Transition {
	anyFailing := false
	for i := range results {
		if Failing(results[i].Status) {
			anyFailing = true
			break
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.uid[uid]
	if prev == nil && !anyFailing {
		return nil // compliant before and now: no state, no event
	}

	idx := make(map[ruleKey]int, len(results))
	states := make([]ruleState, 0, len(results))
	for j := range results {
		r := &results[j]
		k := keyOf(*r)
		i, ok := idx[k]
		if !ok {
			i = len(states)
			idx[k] = i
			states = append(states, ruleState{key: k, at: j})
		}
		st := &states[i]
		switch {
		case Failing(r.Status):
			if !st.failing {
				st.at, st.failing, st.errored = j, true, false
			}
		case r.Status == engine.StatusError:
			if !st.failing {
				st.errored = true
			}
		}
	}

	var failing map[ruleKey]engine.Result // updated in place
	if prev != nil {
		failing = prev.failing
	} else {
		failing = map[ruleKey]engine.Result{}
	}
	var out []Transition
	var imgs []Image // images, copied once when needed
	transition := func(typ string, r engine.Result, reason string) {
		if imgs == nil {
			imgs = slices.Clone(images)
		}
		out = append(out, Transition{Type: typ, Result: r, UID: uid, Images: imgs, Time: now, Reason: reason})
	}
	for i := range states {
		st := &states[i]
		_, wasFailing := failing[st.key]
		switch {
		case st.failing:
			failing[st.key] = results[st.at] // the latest failure
			if !wasFailing {
				transition(TypeViolation, results[st.at], "")
			}
		case st.errored:
			// Undecided: the previous state stands.
		case wasFailing:
			delete(failing, st.key)
			transition(TypeResolution, results[st.at], "")
		}
	}
	if prev != nil {
		var gone []ruleKey
		for k := range failing {
			if _, ok := idx[k]; !ok {
				gone = append(gone, k)
			}
		}
		slices.SortFunc(gone, compareKeys)
		for _, k := range gone {
			was := failing[k]
			was.Status = engine.StatusSkip
			delete(failing, k)
			transition(TypeResolution, was, ReasonNotEvaluated)
		}
	}

	switch {
	case len(failing) == 0:
		delete(t.uid, uid)
	case prev == nil:
		if imgs == nil {
			imgs = slices.Clone(images)
		}
		t.uid[uid] = &tracked{failing: failing, images: imgs}
	case !slices.Equal(prev.images, images):
		if imgs == nil {
			imgs = slices.Clone(images)
		}
		prev.images = imgs
	}
	return out
}

// resolved is the resolution of a failing result that has no current
// result.
func resolved(was engine.Result, uid string, images []Image, now time.Time, reason string) Transition {
	was.Status = engine.StatusSkip
	return Transition{Type: TypeResolution, Result: was, UID: uid, Images: images, Time: now, Reason: reason}
}

// Forget drops the resource with the given UID (it was deleted) and
// returns a resolution (ReasonResourceDeleted) for each rule it failed,
// in rule order.
func (t *Tracker) Forget(uid string, now time.Time) []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.uid[uid]
	if prev == nil {
		return nil
	}
	delete(t.uid, uid)
	keys := make([]ruleKey, 0, len(prev.failing))
	for k := range prev.failing {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	out := make([]Transition, 0, len(keys))
	for _, k := range keys {
		out = append(out, resolved(prev.failing[k], uid, prev.images, now, ReasonResourceDeleted))
	}
	return out
}

// ForgetPolicy drops every entry of the policy of the given kind and key
// (Result.PolicyKind and Result.Policy: "name" or "namespace/name") and
// returns a resolution (ReasonPolicyDeleted) for each, ordered by resource
// UID then rule.
func (t *Tracker) ForgetPolicy(kind, policy string, now time.Time) []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Transition
	for uid, st := range t.uid {
		for k, was := range st.failing {
			if k.kind != kind || k.policy != policy {
				continue
			}
			delete(st.failing, k)
			out = append(out, resolved(was, uid, st.images, now, ReasonPolicyDeleted))
		}
		if len(st.failing) == 0 {
			delete(t.uid, uid)
		}
	}
	slices.SortFunc(out, func(a, b Transition) int {
		return cmp.Or(cmp.Compare(a.UID, b.UID), compareKeys(keyOf(a.Result), keyOf(b.Result)))
	})
	return out
}

// Seed sets the known failing state of the resource with the given UID,
// as recorded before this process started (the controller seeds it from
// the existing PolicyReports), so that observing the same failures again
// sends nothing. Results that are not failing are ignored; seeding none
// clears the resource's state. Seed returns no transitions.
func (t *Tracker) Seed(uid string, failing []engine.Result) {
	next := map[ruleKey]engine.Result{}
	for _, r := range failing {
		if Failing(r.Status) {
			if _, ok := next[keyOf(r)]; !ok {
				next[keyOf(r)] = r
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(next) == 0 {
		delete(t.uid, uid)
		return
	}
	if prev := t.uid[uid]; prev != nil {
		prev.failing = next
		return
	}
	t.uid[uid] = &tracked{failing: next}
}

// Len returns the number of resources with at least one failing rule.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.uid)
}
