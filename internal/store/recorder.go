package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/sink/events"
)

// Recorder records what the background controller sees into a Writer.
// Its methods match the controller's Observer (Seed, Changed, Deleted,
// PolicyDeleted) and never block. Create it with NewRecorder.
type Recorder struct {
	cluster string
	writer  *Writer
	tracker *events.Tracker
}

// NewRecorder returns a Recorder of cluster's results into w.
func NewRecorder(cluster string, w *Writer) *Recorder {
	return &Recorder{cluster: cluster, writer: w, tracker: events.NewTracker()}
}

// Resume seeds the transition state from the store's current failures of
// the cluster, so that after a restart the violations already recorded
// are not recorded again. Call it before the controller starts.
func (r *Recorder) Resume(ctx context.Context, s Store) (int, error) {
	failing, err := s.Failing(ctx, r.cluster)
	if err != nil {
		return 0, err
	}
	for uid, rs := range failing {
		r.tracker.Seed(uid, rs)
	}
	return len(failing), nil
}

// Seed records the failing results already reported for a resource (the
// controller reads them from the PolicyReports).
func (r *Recorder) Seed(uid string, failing []engine.Result) {
	r.tracker.Seed(uid, failing)
}

// Changed records a resource's new results and the transitions they make.
func (r *Recorder) Changed(uid string, object map[string]any, results []engine.Result, now time.Time) {
	images := events.Images(object, results)
	ts := r.tracker.Observe(uid, results, images, now)
	res := resourceOf(object, results)
	ops := make([]Op, 0, 1+len(ts))
	ops = append(ops, Op{Observe: &Observation{Cluster: r.cluster, UID: uid, Resource: res, Images: images,
		Results: slices.Clone(results), At: now}})
	for _, t := range ts {
		ops = append(ops, Op{Transition: &Transition{Cluster: r.cluster, Transition: t}})
	}
	r.writer.Record(ops...)
}

// Deleted records that a resource is gone, with a resolution for each
// rule it failed.
func (r *Recorder) Deleted(uid string, resource engine.Resource, now time.Time) {
	ts := r.tracker.Forget(uid, now)
	ops := make([]Op, 0, 1+len(ts))
	for _, t := range ts {
		ops = append(ops, Op{Transition: &Transition{Cluster: r.cluster, Transition: t}})
	}
	ops = append(ops, Op{Delete: &Deletion{Cluster: r.cluster, UID: uid, Resource: resource, At: now}})
	r.writer.Record(ops...)
}

// PolicyDeleted records a resolution for each resource that failed the
// deleted policy (reason policyDeleted); the controller then gives those
// resources to Changed without the policy's results.
func (r *Recorder) PolicyDeleted(kind, policy string, now time.Time) {
	ts := r.tracker.ForgetPolicy(kind, policy, now)
	if len(ts) == 0 {
		return
	}
	ops := make([]Op, 0, len(ts))
	for _, t := range ts {
		ops = append(ops, Op{Transition: &Transition{Cluster: r.cluster, Transition: t}})
	}
	r.writer.Record(ops...)
}

// Policies records the policies of set (call it when the set changes).
func (r *Recorder) Policies(set *policy.Set, now time.Time) {
	r.writer.Record(Op{Policies: &PolicySnapshot{Cluster: r.cluster, Policies: PoliciesOf(set), At: now}})
}

// resourceOf identifies the resource of object (or of its results when
// object is nil).
func resourceOf(object map[string]any, results []engine.Result) engine.Resource {
	if object == nil {
		if len(results) > 0 {
			return results[0].Resource
		}
		return engine.Resource{}
	}
	var res engine.Resource
	res.APIVersion, _ = object["apiVersion"].(string)
	res.Kind, _ = object["kind"].(string)
	meta, _ := object["metadata"].(map[string]any)
	res.Namespace, _ = meta["namespace"].(string)
	res.Name, _ = meta["name"].(string)
	return res
}

// PoliciesOf describes every policy of set, with a content hash of its
// spec (metadata changes such as status writes do not change it).
func PoliciesOf(set *policy.Set) []Policy {
	if set == nil {
		return nil
	}
	var out []Policy
	for _, p := range set.Policies {
		kind := engine.KindClusterPolicy
		if p.Spec.IsNamespaced() {
			kind = engine.KindPolicy
		}
		pol := Policy{Kind: kind, Name: p.Key(), Title: p.Title, Severity: p.Severity, Category: p.Category,
			Generation: p.Spec.Generation, Hash: hashOf(struct {
				Spec        any
				Annotations map[string]string
			}{p.Spec.Spec, p.Spec.Annotations})}
		for _, r := range p.Rules {
			pol.Rules = append(pol.Rules, r.Spec.Name)
		}
		out = append(out, pol)
	}
	for _, vp := range set.Validating {
		out = append(out, Policy{Kind: engine.KindValidatingPolicy, Name: vp.Name(), Generation: vp.Spec.Generation, Hash: hashOf(vp.Spec.Spec)})
	}
	for _, ap := range set.Admission {
		specs := []any{ap.Spec.Spec}
		var bindings []string
		for _, b := range ap.Bindings {
			specs = append(specs, b.Spec.Spec)
			bindings = append(bindings, b.Name())
		}
		out = append(out, Policy{Kind: engine.KindValidatingAdmissionPolicy, Name: ap.Name(), Generation: ap.Spec.Generation,
			Hash: hashOf(specs), Rules: bindings})
	}
	for _, ip := range set.Images {
		out = append(out, Policy{Kind: engine.KindClusterImagePolicy, Name: ip.Name(), Generation: ip.Object.Generation, Hash: hashOf(ip.Object.Spec)})
	}
	return out
}

func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ScanRecord collects the outcome of one offline scan for the store: the
// scanned manifests become the resources of a cluster named after the
// scan source, replacing those of the previous scan of that source.
type ScanRecord struct {
	// Cluster names the scan source in the store (the dashboard lists it
	// beside the clusters).
	Cluster string
	// Source describes what was scanned (the paths).
	Source  string
	Started time.Time
	// Set is the policy set the scan used.
	Set *policy.Set

	obs    []Observation
	counts Counts
}

// Add records one scanned document and its results. A manifest carries
// no UID: the resource is keyed by apiVersion, kind, namespace and name.
func (s *ScanRecord) Add(object map[string]any, results []engine.Result) {
	res := resourceOf(object, results)
	uid := "manifest:" + res.APIVersion + "/" + res.Kind + "/" + res.Namespace + "/" + res.Name
	for _, r := range results {
		s.counts.Add(r.Status, 1)
	}
	s.obs = append(s.obs, Observation{Cluster: s.Cluster, UID: uid, Resource: res, Images: events.Images(object, results),
		Results: slices.Clone(results)})
}

// Write records the scan in one transaction: its policies, every
// resource's results, the transitions since the previous scan of the
// same source (resources absent from this scan are deleted), and the
// scan's summary.
func (s *ScanRecord) Write(ctx context.Context, st Store, finished time.Time) error {
	if s.Cluster == "" {
		return fmt.Errorf("store: a scan record needs a name")
	}
	failing, err := st.Failing(ctx, s.Cluster)
	if err != nil {
		return err
	}
	live, err := st.Live(ctx, s.Cluster)
	if err != nil {
		return err
	}
	tr := events.NewTracker()
	for uid, rs := range failing {
		tr.Seed(uid, rs)
	}
	b := &Batch{}
	b.Ops = append(b.Ops, Op{Policies: &PolicySnapshot{Cluster: s.Cluster, Policies: PoliciesOf(s.Set), At: finished}})
	seen := map[string]bool{}
	for i := range s.obs {
		o := &s.obs[i]
		o.At = finished
		seen[o.UID] = true
		b.Ops = append(b.Ops, Op{Observe: o})
		for _, t := range tr.Observe(o.UID, o.Results, o.Images, finished) {
			b.Ops = append(b.Ops, Op{Transition: &Transition{Cluster: s.Cluster, Transition: t}})
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(live)) {
		if seen[uid] {
			continue
		}
		for _, t := range tr.Forget(uid, finished) {
			b.Ops = append(b.Ops, Op{Transition: &Transition{Cluster: s.Cluster, Transition: t}})
		}
		b.Ops = append(b.Ops, Op{Delete: &Deletion{Cluster: s.Cluster, UID: uid, Resource: live[uid], At: finished}})
	}
	b.Ops = append(b.Ops, Op{Scan: &Scan{Cluster: s.Cluster, Source: s.Source, Started: s.Started, Finished: finished,
		Resources: len(s.obs), Counts: s.counts}})
	if err := st.Write(ctx, b); err != nil {
		return fmt.Errorf("record scan: %w", err)
	}
	return nil
}

// PolicySource gives the current policy set and says when it changes
// (policysource.Watcher).
type PolicySource interface {
	Current() *policy.Set
	// Subscribe returns a channel that receives a value after each swap.
	Subscribe() <-chan struct{}
	// Loaded is closed once the first set is compiled.
	Loaded() <-chan struct{}
}

// FollowPolicies records the policies of src once loaded and again after
// every change, until ctx ends.
func (r *Recorder) FollowPolicies(ctx context.Context, src PolicySource) error {
	changed := src.Subscribe()
	select {
	case <-ctx.Done():
		return nil
	case <-src.Loaded():
	}
	for {
		r.Policies(src.Current(), time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}
