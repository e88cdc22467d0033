package events

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
)

var (
	t0   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	pod  = engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "team-a", Name: "web"}
	imgs = []Image{{Ref: "ghcr.io/acme/web:1.2", Digest: "sha256:" + fmt.Sprintf("%064d", 1)}}
)

func res(policy, rule string, status engine.Status) engine.Result {
	return engine.Result{Policy: policy, PolicyKind: engine.KindClusterPolicy, Rule: rule, Resource: pod,
		Status: status, Message: policy + "/" + rule + " " + string(status), Severity: "high"}
}

// kinds returns "type:policy/rule:status" of each transition, for compact
// comparison.
func kinds(ts []Transition) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		typ := "violation"
		if t.Type == TypeResolution {
			typ = "resolution"
		}
		s := fmt.Sprintf("%s:%s/%s:%s", typ, t.Result.Policy, t.Result.Rule, t.Result.Status)
		if t.Reason != "" {
			s += ":" + t.Reason
		}
		out = append(out, s)
	}
	return out
}

func expect(t *testing.T, what string, got []Transition, want ...string) {
	t.Helper()
	g := kinds(got)
	if fmt.Sprint(g) != fmt.Sprint(want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("%s: transitions\n got %q\nwant %q", what, g, want)
	}
}

func TestTrackerViolationResyncResolution(t *testing.T) {
	tr := NewTracker()
	expect(t, "first evaluation, passing", tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusPass)}, imgs, t0))
	if tr.Len() != 0 {
		t.Fatalf("a passing resource is tracked: Len = %d", tr.Len())
	}

	failing := []engine.Result{res("p", "a", engine.StatusFail), res("p", "b", engine.StatusPass)}
	got := tr.Observe("u1", failing, imgs, t0.Add(time.Minute))
	expect(t, "first failure", got, "violation:p/a:fail")
	v := got[0]
	if v.UID != "u1" || !v.Time.Equal(t0.Add(time.Minute)) || len(v.Images) != 1 || v.Images[0] != imgs[0] || v.Result.Message != "p/a fail" {
		t.Fatalf("violation = %+v", v)
	}

	for i := range 3 {
		expect(t, fmt.Sprintf("resync %d", i), tr.Observe("u1", failing, imgs, t0.Add(time.Duration(i+2)*time.Minute)))
	}

	got = tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusPass), res("p", "b", engine.StatusPass)}, imgs, t0.Add(time.Hour))
	expect(t, "fixed", got, "resolution:p/a:pass")
	if got[0].Reason != "" || got[0].Result.Message != "p/a pass" {
		t.Fatalf("resolution carries %+v, want the current passing result", got[0])
	}
	expect(t, "resync after fix", tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusPass)}, imgs, t0.Add(2*time.Hour)))
	if tr.Len() != 0 {
		t.Fatalf("state kept after the resource passes: Len = %d", tr.Len())
	}
}

func TestTrackerStatuses(t *testing.T) {
	tr := NewTracker()
	// A warn (unscored rule, warn-mode policy) is a violation too; an
	// error alone raises nothing.
	got := tr.Observe("u1", []engine.Result{
		res("p", "warned", engine.StatusWarn), res("p", "errored", engine.StatusError), res("p", "skipped", engine.StatusSkip),
	}, nil, t0)
	expect(t, "warn/error/skip", got, "violation:p/warned:warn")

	// fail -> error keeps the violation without an event; error -> fail
	// sends nothing new; error -> pass resolves.
	tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusFail)}, nil, t0)
	expect(t, "fail then error", tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusError)}, nil, t0))
	expect(t, "error then fail", tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusFail)}, nil, t0))
	expect(t, "fail then error again", tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusError)}, nil, t0))
	expect(t, "then skip", tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusSkip)}, nil, t0), "resolution:p/a:skip")
}

func TestTrackerRuleAbsent(t *testing.T) {
	tr := NewTracker()
	tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusFail), res("q", "b", engine.StatusFail), res("q", "c", engine.StatusPass)}, imgs, t0)
	got := tr.Observe("u1", []engine.Result{res("q", "c", engine.StatusPass)}, imgs, t0.Add(time.Second))
	expect(t, "rules gone", got, "resolution:p/a:skip:notEvaluated", "resolution:q/b:skip:notEvaluated")
	if got[0].Result.Message != "p/a fail" || got[0].Result.Severity != "high" {
		t.Fatalf("resolution of a gone rule does not carry its last failure: %+v", got[0].Result)
	}
	if tr.Len() != 0 {
		t.Fatalf("Len = %d after every rule resolved", tr.Len())
	}
	// No results at all (the resource matches no policy any more).
	tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusFail)}, nil, t0)
	expect(t, "no results", tr.Observe("u2", nil, nil, t0), "resolution:p/a:skip:notEvaluated")
}

func TestTrackerRuleKeyedByKindPolicyRule(t *testing.T) {
	tr := NewTracker()
	cip := res("p", "a", engine.StatusFail)
	cip.PolicyKind = engine.KindClusterImagePolicy
	// Two results of one rule (one per image): failing if one fails, one
	// violation.
	img2 := res("p", "a", engine.StatusPass)
	got := tr.Observe("u1", []engine.Result{img2, res("p", "a", engine.StatusFail), cip}, nil, t0)
	expect(t, "same name, two kinds", got, "violation:p/a:fail", "violation:p/a:fail")
	if got[0].Result.PolicyKind != engine.KindClusterPolicy || got[1].Result.PolicyKind != engine.KindClusterImagePolicy {
		t.Fatalf("kinds: %s, %s", got[0].Result.PolicyKind, got[1].Result.PolicyKind)
	}
	// The ClusterPolicy rule passes on both images now; the CIP still fails.
	got = tr.Observe("u1", []engine.Result{img2, img2, cip}, nil, t0)
	expect(t, "one kind fixed", got, "resolution:p/a:pass")
	if got[0].Result.PolicyKind != engine.KindClusterPolicy {
		t.Fatalf("resolved the wrong kind: %s", got[0].Result.PolicyKind)
	}
}

func TestTrackerSeed(t *testing.T) {
	tr := NewTracker()
	tr.Seed("u1", []engine.Result{res("p", "a", engine.StatusFail), res("p", "b", engine.StatusPass)})
	tr.Seed("u2", []engine.Result{res("p", "a", engine.StatusPass)})
	if tr.Len() != 1 {
		t.Fatalf("Len after seeding one failing resource = %d, want 1", tr.Len())
	}
	expect(t, "seeded failure observed again", tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusFail), res("p", "b", engine.StatusPass)}, nil, t0))
	expect(t, "seeded pass now failing", tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusFail), res("p", "b", engine.StatusFail)}, nil, t0), "violation:p/b:fail")
	expect(t, "fixed after seed", tr.Observe("u1", []engine.Result{res("p", "a", engine.StatusPass), res("p", "b", engine.StatusPass)}, nil, t0), "resolution:p/a:pass", "resolution:p/b:pass")

	// Seeding nothing failing clears the state.
	tr.Seed("u3", []engine.Result{res("p", "a", engine.StatusFail)})
	tr.Seed("u3", nil)
	expect(t, "cleared by seed", tr.Forget("u3", t0))
}

func TestTrackerForget(t *testing.T) {
	tr := NewTracker()
	tr.Observe("u1", []engine.Result{res("p", "b", engine.StatusFail), res("p", "a", engine.StatusFail), res("p", "c", engine.StatusPass)}, imgs, t0)
	got := tr.Forget("u1", t0.Add(time.Minute))
	expect(t, "deleted", got, "resolution:p/a:skip:resourceDeleted", "resolution:p/b:skip:resourceDeleted")
	if len(got[0].Images) != 1 || got[0].Images[0] != imgs[0] || got[0].UID != "u1" || !got[0].Time.Equal(t0.Add(time.Minute)) {
		t.Fatalf("deletion resolution = %+v", got[0])
	}
	expect(t, "deleted twice", tr.Forget("u1", t0))
	expect(t, "never seen", tr.Forget("nope", t0))
	if tr.Len() != 0 {
		t.Fatalf("Len = %d after Forget", tr.Len())
	}
}

func TestTrackerForgetPolicy(t *testing.T) {
	tr := NewTracker()
	vpol := res("p", "a", engine.StatusFail)
	vpol.PolicyKind = engine.KindValidatingPolicy
	tr.Observe("u2", []engine.Result{res("p", "a", engine.StatusFail), res("q", "a", engine.StatusFail), vpol}, nil, t0)
	tr.Observe("u1", []engine.Result{res("p", "b", engine.StatusFail)}, nil, t0)
	tr.Observe("u3", []engine.Result{res("q", "a", engine.StatusFail)}, nil, t0)

	got := tr.ForgetPolicy(engine.KindClusterPolicy, "p", t0)
	expect(t, "policy deleted", got, "resolution:p/b:skip:policyDeleted", "resolution:p/a:skip:policyDeleted")
	if got[0].UID != "u1" || got[1].UID != "u2" {
		t.Fatalf("order by UID: %s, %s", got[0].UID, got[1].UID)
	}
	if tr.Len() != 2 {
		t.Fatalf("Len = %d, want 2 (u2 still fails q and the ValidatingPolicy p, u3 fails q)", tr.Len())
	}
	expect(t, "deleted again", tr.ForgetPolicy(engine.KindClusterPolicy, "p", t0))
	// The other kind's "p" and policy q are untouched.
	expect(t, "u2 unchanged", tr.Observe("u2", []engine.Result{res("q", "a", engine.StatusFail), vpol}, nil, t0))
}

func TestTrackerConcurrent(t *testing.T) {
	tr := NewTracker()
	var wg sync.WaitGroup
	var mu sync.Mutex
	violations := 0
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				uid := fmt.Sprintf("u%d", i)
				got := tr.Observe(uid, []engine.Result{res("p", "a", engine.StatusFail)}, imgs, t0)
				if w%2 == 0 {
					tr.ForgetPolicy(engine.KindPolicy, "none", t0)
				}
				mu.Lock()
				violations += len(got)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if violations != 200 {
		t.Fatalf("%d violations from 8 goroutines observing 200 resources, want exactly 200", violations)
	}
}

func TestTransitionEventIdentity(t *testing.T) {
	tr := Transition{Type: TypeViolation, Result: res("p", "a", engine.StatusFail), UID: "u1", Time: t0}
	same := tr
	same.Images = []Image{{Ref: "other"}}
	if tr.ID() != same.ID() || len(tr.ID()) != 32 {
		t.Fatalf("ID %q not stable", tr.ID())
	}
	for name, other := range map[string]Transition{
		"time": {Type: tr.Type, Result: tr.Result, UID: tr.UID, Time: t0.Add(time.Nanosecond)},
		"type": {Type: TypeResolution, Result: tr.Result, UID: tr.UID, Time: t0},
		"uid":  {Type: tr.Type, Result: tr.Result, UID: "u2", Time: t0},
		"rule": {Type: tr.Type, Result: res("p", "b", engine.StatusFail), UID: tr.UID, Time: t0},
	} {
		if other.ID() == tr.ID() {
			t.Errorf("ID does not depend on the %s", name)
		}
	}
	if got := tr.Subject(); got != "team-a/Pod/web" {
		t.Errorf("Subject = %q", got)
	}
	ns := Transition{Result: engine.Result{Resource: engine.Resource{Kind: "Namespace", Name: "team-a"}}}
	if got := ns.Subject(); got != "Namespace/team-a" {
		t.Errorf("cluster-scoped Subject = %q", got)
	}
	if _, err := tr.Event(""); err == nil {
		t.Error("an event without a source validated")
	}
}

// BenchmarkTrackerObserve is a resync of 10,000 resources with 20 results
// each: all compliant, and with 10% of them failing two rules.
func BenchmarkTrackerObserve(b *testing.B) {
	const resources, rules = 10000, 20
	for _, failingShare := range []int{0, 10} {
		b.Run(fmt.Sprintf("failing=%d%%", failingShare), func(b *testing.B) {
			uids := make([]string, resources)
			results := make([][]engine.Result, resources)
			for i := range resources {
				uids[i] = fmt.Sprintf("uid-%d", i)
				rs := make([]engine.Result, rules)
				for j := range rules {
					rs[j] = res("policy-"+fmt.Sprint(j/5), fmt.Sprintf("rule-%d", j), engine.StatusPass)
					if failingShare > 0 && i%(100/failingShare) == 0 && j%10 == 3 {
						rs[j].Status = engine.StatusFail
					}
				}
				results[i] = rs
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			tr := NewTracker()
			for i := range resources {
				tr.Observe(uids[i], results[i], imgs, t0)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if want := resources * failingShare / 100; tr.Len() != want {
				b.Fatalf("tracking %d resources, want %d", tr.Len(), want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			for b.Loop() {
				i := n % resources
				n++
				if got := tr.Observe(uids[i], results[i], imgs, t0); len(got) != 0 {
					b.Fatalf("resync produced %d transitions", len(got))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)*resources/1e6, "ms/resync-of-10k")
			b.ReportMetric(max(0, float64(after.HeapAlloc)-float64(before.HeapAlloc)), "heap-B/tracker")
		})
	}
}
