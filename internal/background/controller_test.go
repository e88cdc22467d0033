package background

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
)

var (
	podGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deployGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	cmGVK     = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

func kindsOf(gvks ...schema.GroupVersionKind) kindSet {
	var ks kindSet
	for _, g := range gvks {
		ks.add(g)
	}
	return ks
}

// TestDiff: an edited policy is re-evaluated on what it matched before and
// after the edit, an added one on what it matches, an unchanged one not at
// all; a deleted one needs no evaluation (its results are dropped).
func TestDiff(t *testing.T) {
	old := map[string]policyPrint{
		"ClusterPolicy/same":    {kindsOf(cmGVK), [32]byte{1}},
		"ClusterPolicy/edited":  {kindsOf(podGVK), [32]byte{2}},
		"Policy/team/gone":      {kindsOf(deployGVK), [32]byte{3}},
		"ClusterImagePolicy/ip": {kindSet{all: true}, [32]byte{4}},
	}
	cur := map[string]policyPrint{
		"ClusterPolicy/same":    {kindsOf(cmGVK), [32]byte{1}},
		"ClusterPolicy/edited":  {kindsOf(deployGVK), [32]byte{9}},
		"ClusterPolicy/added":   {kindsOf(podGVK), [32]byte{5}},
		"ClusterImagePolicy/ip": {kindSet{all: true}, [32]byte{4}},
	}
	d := diff(old, cur)
	if want := []string{"ClusterPolicy/added", "ClusterPolicy/edited"}; !slices.Equal(slices.Sorted(maps.Keys(d.changed)), want) {
		t.Errorf("changed = %v, want %v", slices.Sorted(maps.Keys(d.changed)), want)
	}
	if want := []string{"Policy/team/gone"}; !slices.Equal(slices.Sorted(maps.Keys(d.removed)), want) {
		t.Errorf("removed = %v, want %v", slices.Sorted(maps.Keys(d.removed)), want)
	}
	if !d.kinds.has(podGVK) || !d.kinds.has(deployGVK) || d.kinds.has(cmGVK) || d.kinds.all {
		t.Errorf("kinds = %+v, want Pods and Deployments only (the edited policy before and after, the added one)", d.kinds)
	}
	if d := diff(cur, cur); !d.empty() {
		t.Errorf("no change gave %+v", d)
	}
	// An image policy edit re-evaluates every watched kind.
	edited := maps.Clone(cur)
	edited["ClusterImagePolicy/ip"] = policyPrint{kindSet{all: true}, [32]byte{8}}
	if d := diff(cur, edited); !d.kinds.all {
		t.Errorf("an image policy edit gave kinds %+v, want all", d.kinds)
	}
}

// TestPending: a full evaluation queued for an object wins over policy
// subsets; subsets queued one after the other add up, without writing to
// the map shared by every object of one policy change.
func TestPending(t *testing.T) {
	c := &Controller{pending: map[key]*work{}}
	k1 := key{gvk: podGVK, namespace: "a", name: "one"}
	k2 := key{gvk: podGVK, namespace: "a", name: "two"}
	first := map[string]bool{"ClusterPolicy/x": true}
	c.addPending(k1, first)
	c.addPending(k2, first)
	c.addPending(k1, map[string]bool{"ClusterPolicy/y": true})
	if w := c.pending[k1]; w.full || !w.ids["ClusterPolicy/x"] || !w.ids["ClusterPolicy/y"] {
		t.Errorf("k1 = %+v, want x and y", w)
	}
	if len(first) != 1 || !maps.Equal(c.pending[k2].ids, map[string]bool{"ClusterPolicy/x": true}) {
		t.Errorf("the shared map was written: %v, k2 = %+v", first, c.pending[k2])
	}
	c.addPending(k2, nil)
	c.addPending(k2, map[string]bool{"ClusterPolicy/z": true})
	if w := c.pending[k2]; !w.full {
		t.Errorf("k2 = %+v, want a full evaluation", w)
	}
}

type recordingObserver struct{ deleted []string }

func (o *recordingObserver) Seed(string, []engine.Result)                               {}
func (o *recordingObserver) Changed(string, map[string]any, []engine.Result, time.Time) {}
func (o *recordingObserver) Deleted(string, engine.Resource, time.Time)                 {}
func (o *recordingObserver) PolicyDeleted(kind, policy string, _ time.Time) {
	o.deleted = append(o.deleted, kind+" "+policy)
}

// TestDropPolicies: deleting a policy drops its results from every object
// (a namespaced Policy's key keeps its slash), marks those namespaces
// dirty, tells the observer, and leaves untouched entries as they were.
func TestDropPolicies(t *testing.T) {
	obs := &recordingObserver{}
	c := &Controller{opts: Options{Observer: obs}, pending: map[key]*work{}, dirty: map[string]bool{},
		entries: map[string]map[key]*entry{}}
	r := func(kind, pol, rule string) engine.Result {
		return engine.Result{PolicyKind: kind, Policy: pol, Rule: rule, Status: engine.StatusFail}
	}
	hit := &entry{uid: "1", results: pack([]engine.Result{r("ClusterPolicy", "keep", "a"), r("Policy", "team/gone", "b"), r("ClusterPolicy", "keep", "c")})}
	miss := &entry{uid: "2", results: pack([]engine.Result{r("ClusterPolicy", "keep", "a")})}
	before := slices.Clone(hit.results)
	c.entries["team"] = map[key]*entry{{gvk: podGVK, namespace: "team", name: "hit"}: hit}
	c.entries["other"] = map[key]*entry{{gvk: podGVK, namespace: "other", name: "miss"}: miss}

	if got := c.dropPolicies(map[string]bool{"Policy/team/gone": true}); len(got) != 1 || got[0].e.uid != "1" {
		t.Errorf("changed objects = %+v, want the one with the policy's results", got)
	}

	got := c.entries["team"][key{gvk: podGVK, namespace: "team", name: "hit"}]
	if want := []engine.Result{r("ClusterPolicy", "keep", "a"), r("ClusterPolicy", "keep", "c")}; !slices.Equal(unpack(got.results, engine.Resource{}), want) {
		t.Errorf("results = %+v, want %+v", unpack(got.results, engine.Resource{}), want)
	}
	if !slices.Equal(hit.results, before) {
		t.Error("the old entry's results were edited in place (a flush may be reading them)")
	}
	if c.entries["other"][key{gvk: podGVK, namespace: "other", name: "miss"}] != miss {
		t.Error("an entry without the policy's results was replaced")
	}
	if !c.dirty["team"] || c.dirty["other"] {
		t.Errorf("dirty = %v, want team only", c.dirty)
	}
	if want := []string{"Policy team/gone"}; !slices.Equal(obs.deleted, want) {
		t.Errorf("observer heard %v, want %v", obs.deleted, want)
	}
}

// TestSortResults: results kept from an earlier evaluation followed by a
// partial evaluation's come out in the order of a full evaluation.
func TestSortResults(t *testing.T) {
	r := func(kind, pol, rule string) engine.Result {
		return engine.Result{PolicyKind: kind, Policy: pol, Rule: rule}
	}
	full := []engine.Result{r("ClusterPolicy", "a", "2"), r("ClusterPolicy", "a", "1"), r("ClusterPolicy", "b", "1"),
		r("ClusterImagePolicy", "img", "x")}
	sortResults(full)
	partial := []engine.Result{r("ClusterPolicy", "a", "2"), r("ClusterPolicy", "a", "1"), r("ClusterImagePolicy", "img", "x"),
		r("ClusterPolicy", "b", "1")}
	sortResults(partial)
	if !slices.Equal(full, partial) {
		t.Errorf("full %v != partial %v", full, partial)
	}
	if full[1].Rule != "2" || full[2].Rule != "1" {
		t.Errorf("the engine's rule order within a policy was not kept: %v", full)
	}
}

// TestViolationsByNamespace: the violations gauge names at most
// maxNamespaceLabels namespaces (those with the most violations), sums
// the rest as "other", and keeps cluster scope apart.
func TestViolationsByNamespace(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{metrics: m, entries: map[string]map[key]*entry{}}
	fail := engine.Result{Policy: "p", Severity: "high", Status: engine.StatusFail}
	for i := range maxNamespaceLabels + 10 {
		ns := fmt.Sprintf("ns-%03d", i)
		n := 1
		if i < 5 {
			n = 3 // the five busiest namespaces
		}
		c.entries[ns] = map[key]*entry{{gvk: podGVK, namespace: ns, name: "x"}: {results: pack(slices.Repeat([]engine.Result{fail}, n))}}
	}
	c.entries[""] = map[key]*entry{{gvk: cmGVK, name: "x"}: {results: pack([]engine.Result{fail})}}
	c.updateGauges()
	if got := testutil.CollectAndCount(m.violations); got != maxNamespaceLabels+2 {
		t.Errorf("%d series, want %d (named namespaces, cluster scope, other)", got, maxNamespaceLabels+2)
	}
	for ns, want := range map[string]float64{"ns-000": 3, "": 1} {
		if got := testutil.ToFloat64(m.violations.WithLabelValues("p", "high", ns)); got != want {
			t.Errorf("namespace %q: %v violations, want %v", ns, got, want)
		}
	}
	// 60 namespaces: the 5 busiest and 45 others named, 10 summed.
	if got := testutil.ToFloat64(m.violations.WithLabelValues("p", "high", "other")); got != 10 {
		t.Errorf("other = %v, want 10", got)
	}
}

// TestTypedObjects: kinds the scheme knows are cached typed and read by
// the engine exactly as the API server's JSON would decode; others stay
// unstructured.
func TestTypedObjects(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := &Controller{opts: Options{Scheme: scheme}}
	obj := c.newObject(podGVK)
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		t.Fatalf("a Pod is cached as %T, want *v1.Pod", obj)
	}
	if _, ok := c.newObject(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}).(*unstructured.Unstructured); !ok {
		t.Error("an unknown kind is not unstructured")
	}
	const podJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"u1",
	"creationTimestamp":"2026-12-05T10:00:00Z","labels":{"app":"web"}},
	"spec":{"containers":[{"name":"a","image":"nginx:1","ports":[{"containerPort":80,"protocol":"TCP"}],
	"securityContext":{"privileged":true,"runAsUser":1000}}],"hostNetwork":true},"status":{"phase":"Running"}}`
	if err := json.Unmarshal([]byte(podJSON), pod); err != nil {
		t.Fatal(err)
	}
	pod.TypeMeta = metav1.TypeMeta{} // as the cache gives it
	got, err := asUnstructured(pod, podGVK)
	if err != nil {
		t.Fatal(err)
	}
	// As the API server sends it (its JSON is encoded from the same Go
	// types: "resources": {} included) and an unstructured object decodes
	// it (numbers as int64).
	typed := pod.DeepCopy()
	typed.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	wire, err := json.Marshal(typed)
	if err != nil {
		t.Fatal(err)
	}
	want := mustUnstructured(t, string(wire))
	if !equality.Semantic.DeepEqual(got.Object, want) {
		t.Errorf("converted Pod:\n%v\nwant\n%v", got.Object, want)
	}
}

func mustUnstructured(t *testing.T, s string) map[string]any {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return u.Object
}

// TestPackKeepsWhatReportsRead: a packed result comes back as it was (the
// resource is the entry's), except what the background does not keep
// (JSON patches, audit annotations); equal results share one value.
func TestPackKeepsWhatReportsRead(t *testing.T) {
	res := engine.Resource{APIVersion: "v1", Kind: "Pod", Namespace: "shop", Name: "web"}
	in := []engine.Result{
		{Policy: "team/p", PolicyKind: "Policy", Rule: "r", Resource: res, Status: engine.StatusFail, Message: "bad " + fmt.Sprint(1),
			Path: "/spec/x", Severity: "high", Category: "c", Enforce: true, Autogen: true, Image: "i", Digest: "d", Exceptions: "ns/x",
			Control: "PC-0001", Remediation: "fix it"},
		{Policy: "ip", PolicyKind: "ClusterImagePolicy", Rule: "x", Resource: res, Status: engine.StatusPass, Message: "bad " + fmt.Sprint(1),
			JSONPatch: `[{"op":"add"}]`, AuditAnnotations: `{"a":"b"}`},
	}
	got := unpack(pack(in), res)
	want := slices.Clone(in)
	want[1].JSONPatch, want[1].AuditAnnotations = "", ""
	if !slices.Equal(got, want) {
		t.Errorf("unpack(pack) =\n%+v\nwant\n%+v", got, want)
	}
	if p, q := pack(in), pack(in); unsafe.StringData(p[0].value().message) != unsafe.StringData(q[0].value().message) {
		t.Error("equal results are not interned")
	}
	if got := pack(in)[0].policyID(); got != "Policy/team/p" {
		t.Errorf("policyID = %q", got)
	}
}

// TestPackSharesEqualResults: the same result about many objects is kept
// once; an entry holds one pointer-sized handle per result (it held a
// 104-byte value per result: 21 MB at 10,000 Pods and 20 rules).
func TestPackSharesEqualResults(t *testing.T) {
	if size := unsafe.Sizeof(stored{}); size > unsafe.Sizeof(uintptr(0)) {
		t.Errorf("a stored result is %d bytes, want one handle", size)
	}
	fail := engine.Result{PolicyKind: "ClusterPolicy", Policy: "p", Rule: "r", Status: engine.StatusFail, Message: "label team is required", Path: "/metadata/labels"}
	pass := fail
	pass.Status, pass.Message, pass.Path = engine.StatusPass, "", ""
	a := pack([]engine.Result{fail, pass})
	b := pack([]engine.Result{fail, pass})
	if !slices.Equal(a, b) {
		t.Error("equal results packed for two objects differ")
	}
	if a[0] == a[1] {
		t.Error("a failing and a passing result share one value")
	}
	other := fail
	other.Message = "label team is required on web"
	if pack([]engine.Result{other})[0] == a[0] {
		t.Error("results with different messages share one value")
	}
}

// TestReleaseAfterBurst: the memory of a burst is released once nothing is
// queued, pending or waiting to be written, and only after a burst; the
// AfterBurst hook runs once per release.
func TestReleaseAfterBurst(t *testing.T) {
	var hooks int
	c := &Controller{opts: Options{ReturnMemory: true, AfterBurst: func() { hooks++ }}, log: slog.New(slog.DiscardHandler),
		pending: map[key]*work{}, dirty: map[string]bool{}}
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[key]())
	defer queue.ShutDown()
	k := key{gvk: podGVK, namespace: "team", name: "web"}

	c.burst.Store(returnMemoryAfter - 1)
	if c.releaseAfterBurst(queue) {
		t.Error("released before a burst")
	}
	c.burst.Store(returnMemoryAfter)
	queue.Add(k)
	if c.releaseAfterBurst(queue) {
		t.Error("released with an object queued")
	}
	got, _ := queue.Get()
	queue.Done(got)
	c.pending[k] = &work{full: true}
	if c.releaseAfterBurst(queue) {
		t.Error("released with an evaluation pending")
	}
	delete(c.pending, k)
	c.dirty["team"] = true
	if c.releaseAfterBurst(queue) {
		t.Error("released with reports to write")
	}
	delete(c.dirty, "team")
	if !c.releaseAfterBurst(queue) {
		t.Error("not released after a burst")
	}
	if n := c.burst.Load(); n != 0 {
		t.Errorf("burst = %d after a release, want 0", n)
	}
	if c.releaseAfterBurst(queue) {
		t.Error("released twice for one burst")
	}
	if hooks != 1 {
		t.Errorf("AfterBurst ran %d times, want once", hooks)
	}
}

// TestFlushable: a dirty namespace is written at once unless evaluations
// of it are pending; then it waits until they are done, or maxWriteDelay
// after it was first put off.
func TestFlushable(t *testing.T) {
	c := &Controller{opts: Options{FlushInterval: time.Second}, pending: map[key]*work{}, dirty: map[string]bool{}}
	busy := key{gvk: podGVK, namespace: "busy", name: "web"}
	c.pending[busy] = &work{full: true}
	c.dirty["busy"], c.dirty["quiet"] = true, true
	t0 := time.Now()
	if got := c.flushable(t0); !slices.Equal(got, []string{"quiet"}) {
		t.Fatalf("flushable = %v, want [quiet]", got)
	}
	if got := c.flushable(t0.Add(maxWriteDelay - time.Millisecond)); len(got) != 0 {
		t.Fatalf("flushable = %v before maxWriteDelay with an evaluation pending, want none", got)
	}
	if !c.dirty["busy"] {
		t.Fatal("a put-off namespace is no longer dirty")
	}
	if got := c.flushable(t0.Add(maxWriteDelay)); !slices.Equal(got, []string{"busy"}) {
		t.Fatalf("flushable = %v after maxWriteDelay, want [busy]", got)
	}
	// Dirty again while still busy: put off again, from now.
	c.dirty["busy"] = true
	t1 := t0.Add(maxWriteDelay + time.Second)
	if got := c.flushable(t1); len(got) != 0 {
		t.Fatalf("flushable = %v, want none", got)
	}
	delete(c.pending, busy)
	if got := c.flushable(t1.Add(time.Millisecond)); !slices.Equal(got, []string{"busy"}) {
		t.Fatalf("flushable = %v once the evaluations are done, want [busy]", got)
	}
	if len(c.dirty) != 0 || len(c.deferred) != 0 {
		t.Errorf("left dirty %v, deferred %v", c.dirty, c.deferred)
	}
}

// TestSelection: the objects of one policy change share one selection of
// the set; another change or another set selects again, and what is
// selected is the named policies.
func TestSelection(t *testing.T) {
	set := builtinSet(t)
	var s selection
	ids := map[string]bool{"ClusterPolicy/disallow-privileged-containers": true, "ClusterPolicy/require-run-as-nonroot": true}
	sub, keys := s.of(set, ids)
	var names []string
	for _, p := range sub.Policies {
		names = append(names, p.Key())
	}
	if want := []string{"disallow-privileged-containers", "require-run-as-nonroot"}; !slices.Equal(slices.Sorted(slices.Values(names)), want) {
		t.Fatalf("selected %v, want %v", names, want)
	}
	if !keys[policyKey{"ClusterPolicy", "require-run-as-nonroot"}] || len(keys) != 2 {
		t.Errorf("keys = %v", keys)
	}
	if again, _ := s.of(set, ids); again != sub {
		t.Error("the same change selected again")
	}
	equal := maps.Clone(ids)
	if other, _ := s.of(set, equal); other == sub {
		t.Error("another change (an equal map) reused the selection")
	}
	other := builtinSet(t)
	if o, _ := s.of(other, equal); o == sub || len(o.Policies) != 2 || o.Policies[0] == sub.Policies[0] {
		t.Error("another set reused the selection")
	}
}
