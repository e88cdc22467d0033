package kubescape

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/portcullis/portcullis/internal/engine"
)

// DefaultRuleTimeout bounds one rule's evaluation on a scan's objects
// when ScanOptions.RuleTimeout is zero.
const DefaultRuleTimeout = 2 * time.Minute

// ScanOptions select what a scan runs.
type ScanOptions struct {
	// Controls are the control IDs to run; empty runs every control.
	Controls []string
	// RuleTimeout bounds each rule's evaluation (its filter and its
	// rule); a rule that runs out of it is skipped with that reason.
	RuleTimeout time.Duration
	// Workers evaluates this many rules at once (default GOMAXPROCS).
	Workers int
	// RuleDone, when set, hears the wall time of each evaluation of a
	// rule (filter and rule, input conversion included), from the
	// evaluating goroutine: once per rule, or, in a scan split by
	// namespace, once per scope the rule is evaluated on.
	RuleDone func(rule string, took time.Duration)
	// ReleaseObjects hands the objects to the scan: it clears each
	// element of the objects slice it was given (sets it to nil), and
	// drops its own reference, once the last rule that matches the
	// object has been evaluated (objects no rule matches, right after
	// the rules are scheduled). A caller that keeps no other reference
	// to the objects lets a scan split by namespace free them namespace
	// by namespace instead of holding every decoded object to the end.
	// The caller must not use the slice's elements after Scan.
	ReleaseObjects bool
	// Load, when set, returns object i of the scan whole: the objects
	// Scan is given may then be their identity only (apiVersion, kind,
	// metadata name and namespace: what rules are matched and namespaces
	// formed by), and each is loaded when the first rule that matches it
	// is evaluated and dropped after the last. A caller that can decode
	// an object again from its text holds only one or two namespaces'
	// decoded objects at a time. Load is called from several goroutines,
	// once per object a rule matches; an error skips the rules' inputs
	// it was needed for.
	Load func(i int) (map[string]any, error)
	// LoadJSON, when set with Load, returns object i of the scan as JSON
	// text (encoding/json's encoding of the object Load would give), or
	// nil when it has none. The scan then builds the object's Rego value
	// from the text, without decoding it into Go values, and calls Load
	// only for the objects a rule with an aggregator matches (it reads
	// them decoded) or for which LoadJSON has no text. Like Load, it is
	// called from several goroutines, at most once per object.
	LoadJSON func(i int) []byte
}

// Finding is one result of a scan with the rule response behind it
// (nil for passes and skips), without its objects (Resource names the
// one the finding is about). A skip with a zero Resource is about the
// control as a whole (its rule needs data the scan does not have, or is
// not in the library).
type Finding struct {
	engine.Result
	Response *Response `json:"response,omitempty"`
}

// Results returns the results of findings.
func Results(fs []Finding) []engine.Result {
	out := make([]engine.Result, len(fs))
	for i := range fs {
		out[i] = fs[i].Result
	}
	return out
}

// ControlsOf returns the controls of the named frameworks, in ID order
// without duplicates; an unknown framework is an error naming the known
// ones.
func (l *Library) ControlsOf(frameworks ...string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, name := range frameworks {
		fw := l.Framework(name)
		if fw == nil {
			names := make([]string, len(l.Frameworks))
			for i, f := range l.Frameworks {
				names[i] = f.Name
			}
			return nil, fmt.Errorf("unknown framework %q (the library has %s)", name, strings.Join(names, ", "))
		}
		for _, id := range fw.Controls {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// LargeScan is the number of objects above which a scan evaluates rules
// one namespace at a time, as Kubescape does for clusters above its
// large-cluster size: each namespace's objects together with the objects
// of no namespace, so that joins stay within a namespace. Controls with
// the attribute requiresWholeClusterInput always see every object.
const LargeScan = 2500

// wholeClusterAttribute marks a control whose rules join objects across
// namespaces.
const wholeClusterAttribute = "requiresWholeClusterInput"

// job is a rule of a scan, evaluated on every object (whole) or scope by
// scope.
type job struct {
	rule  string
	whole bool
}

// ruleOutcome is what one rule gave on a scan's objects.
type ruleOutcome struct {
	skip      string            // the rule (or a scope of it) was not evaluated: why
	skipped   []engine.Resource // with skip: the inputs it would have judged
	responses []Response
	failed    [][]engine.Resource // per response: the resources it fails
	passed    []engine.Resource
}

// merge adds the outcome of another scope: a resource failed in one scope
// fails, a response seen in several scopes (about objects of no
// namespace) counts once.
func (o *ruleOutcome) merge(p *ruleOutcome, seen map[string]bool) {
	if p.skip != "" && o.skip == "" {
		o.skip = p.skip
	}
	o.skipped = append(o.skipped, p.skipped...)
	var key []byte
	for i := range p.responses {
		key = responseKey(key[:0], &p.responses[i], p.failed[i])
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		o.responses = append(o.responses, p.responses[i])
		o.failed = append(o.failed, p.failed[i])
	}
	o.passed = append(o.passed, p.passed...)
}

// responseKey appends to b what makes a response of a scope the same
// as one of another scope: its message, failed and fix paths, and the
// kind, namespace and name of the resources it fails (each string
// length-prefixed).
func responseKey(b []byte, r *Response, failed []engine.Resource) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(r.AlertMessage)
	b = binary.AppendUvarint(b, uint64(len(r.FailedPaths)))
	for _, p := range r.FailedPaths {
		str(p)
	}
	b = binary.AppendUvarint(b, uint64(len(r.FixPaths)))
	for _, fp := range r.FixPaths {
		str(fp.Path)
		str(fp.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(failed)))
	for _, id := range failed {
		str(id.Kind)
		str(id.Namespace)
		str(id.Name)
	}
	return b
}

// settle drops from the passes what failed or was skipped in any scope,
// and duplicates.
func (o *ruleOutcome) settle() {
	bad := map[engine.Resource]bool{}
	for _, ids := range o.failed {
		for _, id := range ids {
			bad[id] = true
		}
	}
	for _, id := range o.skipped {
		bad[id] = true
	}
	passed := o.passed[:0]
	for _, id := range o.passed {
		if !bad[id] {
			bad[id] = true
			passed = append(passed, id)
		}
	}
	o.passed = passed
}

// Scan runs the selected controls on objects (decoded Kubernetes objects,
// and host sensor or cloud objects when a source has them) the way
// Kubescape does, and returns one finding per (control, rule, resource):
// fail for every object a response names, pass for every other input of
// the rule, skip when the rule could not be evaluated (an error, the
// timeout, data the scan does not have). Findings come in control ID
// order, then rule order. The error is for an unknown control or a
// cancelled ctx; rule problems are skips.
func (l *Library) Scan(ctx context.Context, objects []map[string]any, o ScanOptions) ([]Finding, error) {
	ids := o.Controls
	if len(ids) == 0 {
		ids = l.ControlIDs()
	}
	var controls []*Control
	var jobs []job
	seen := map[job]bool{}
	for _, id := range ids {
		c, ok := l.Controls[id]
		if !ok {
			return nil, fmt.Errorf("unknown control %q", id)
		}
		controls = append(controls, c)
		for _, r := range c.Rules {
			j := job{r, c.WholeCluster || len(objects) <= LargeScan}
			if !seen[j] {
				seen[j] = true
				jobs = append(jobs, j)
			}
		}
	}
	slices.SortFunc(controls, func(a, b *Control) int { return strings.Compare(a.ID, b.ID) })
	s := newScanState(l, envelopes(objects), o)
	if o.Load != nil {
		s.load, s.loadJSON, s.full = o.Load, o.LoadJSON, make([]map[string]any, len(objects))
		s.keepFull, s.ids = make([]bool, len(objects)), make([]engine.Resource, len(objects))
	}
	// Each rule is evaluated on one or more scopes (tasks). The tasks run
	// scope by scope, every rule of a scope together, so that the Rego
	// values of a namespace's objects are converted once, shared by the
	// rules, and released when the last task that matches them is done:
	// only a few namespaces' values are held at once.
	var tasks []*scanTask
	for _, j := range jobs {
		r, ok := l.Rules[j.rule]
		if !ok {
			continue
		}
		tasks = append(tasks, s.tasks(r, j.whole)...)
	}
	s.schedule(tasks)
	if o.ReleaseObjects {
		s.caller = objects
		s.dropUnmatched()
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s.run(ctx, tasks, workers, func(t *scanTask, took time.Duration) {
		if o.RuleDone != nil {
			o.RuleDone(t.rule.Name, took)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	// A rule's outcome merges its scopes' in scope order.
	outcomes := make(map[job]*ruleOutcome, len(jobs))
	seenResp := map[job]map[string]bool{}
	for _, t := range slices.SortedStableFunc(slices.Values(tasks), func(a, b *scanTask) int { return a.seq - b.seq }) {
		j := job{t.rule.Name, t.whole}
		out, ok := outcomes[j]
		if !ok {
			out = &ruleOutcome{}
			outcomes[j], seenResp[j] = out, map[string]bool{}
		}
		if t.single {
			*out = *t.out
			continue
		}
		out.merge(t.out, seenResp[j])
	}
	for _, out := range outcomes {
		out.settle()
	}
	fs := make([]Finding, 0, countFindings(controls, outcomes, len(objects) <= LargeScan))
	for _, c := range controls {
		base := engine.Result{Policy: c.ID, PolicyKind: engine.KindKubescapeControl, Control: c.ID,
			Severity: c.Severity, Remediation: c.Remediation}
		if c.ManualReview {
			res := base
			res.Status, res.Message = engine.StatusSkip, "the control needs a manual review"
			fs = append(fs, Finding{Result: res})
			continue
		}
		for _, rn := range c.Rules {
			res := base
			res.Rule = rn
			out, ok := outcomes[job{rn, c.WholeCluster || len(objects) <= LargeScan}]
			if !ok {
				res.Status, res.Message = engine.StatusSkip, fmt.Sprintf("rule %s is not in the library", rn)
				fs = append(fs, Finding{Result: res})
				continue
			}
			if out.skip != "" {
				res := res
				res.Status, res.Message = engine.StatusSkip, out.skip
				if len(out.skipped) == 0 && len(out.responses) == 0 && len(out.passed) == 0 {
					fs = append(fs, Finding{Result: res})
				}
				for _, id := range out.skipped {
					r := res
					r.Resource = id
					fs = append(fs, Finding{Result: r})
				}
			}
			for i := range out.responses {
				resp := &out.responses[i]
				for _, id := range out.failed[i] {
					r := res
					r.Resource, r.Status, r.Message, r.Path = id, engine.StatusFail, resp.AlertMessage, Pointer(resp.FirstPath())
					fs = append(fs, Finding{Result: r, Response: resp})
				}
			}
			for _, id := range out.passed {
				r := res
				r.Resource, r.Status = id, engine.StatusPass
				fs = append(fs, Finding{Result: r})
			}
		}
	}
	return fs, nil
}

// countFindings is the number of findings Scan makes of outcomes (a
// finding is some 400 bytes: the slice is allocated once, not grown).
func countFindings(controls []*Control, outcomes map[job]*ruleOutcome, small bool) int {
	n := 0
	for _, c := range controls {
		if c.ManualReview {
			n++
			continue
		}
		for _, rn := range c.Rules {
			out, ok := outcomes[job{rn, c.WholeCluster || small}]
			switch {
			case !ok:
				n++
				continue
			case out.skip != "" && len(out.skipped) == 0 && len(out.responses) == 0 && len(out.passed) == 0:
				n++
			case out.skip != "":
				n += len(out.skipped)
			}
			for _, ids := range out.failed {
				n += len(ids)
			}
			n += len(out.passed)
		}
	}
	return n
}

// scanState is one scan's objects and their Rego values, each converted
// once, shared by the rules that match the object and released after the
// last of them.
type scanState struct {
	l    *Library
	objs []map[string]any
	// scopes are the objects of each namespace (sorted by namespace), and
	// resident those of none; only for large scans.
	scopes   [][]int
	resident []int
	timeout  time.Duration
	// mu guards values and errs of each object; refs counts the tasks
	// still to come that match the object.
	mu     []sync.Mutex
	values []ast.Value
	errs   []error
	refs   []int32
	seq    int
	// caller, when the scan may release objects (ScanOptions.ReleaseObjects),
	// is the slice the caller handed over: its elements are cleared with
	// objs' when the last task that matches them is done.
	caller []map[string]any
	// load, when set, gives the whole objects (ScanOptions.Load); full
	// holds those loaded, guarded by mu, until released.
	load func(int) (map[string]any, error)
	full []map[string]any
	// loadJSON, when set, gives the text of the loaded objects no rule
	// with an aggregator matches (ScanOptions.LoadJSON), decoded by the
	// decoders of values.
	loadJSON func(int) []byte
	decoders sync.Pool
	// keepFull marks the loaded objects a rule with an aggregator
	// matches, kept decoded with their value; ids identifies the loaded
	// objects (resourceOf the whole object).
	keepFull []bool
	ids      []engine.Resource
}

// scanTask is one rule evaluated on one scope of a scan's objects.
type scanTask struct {
	rule  *Rule
	whole bool
	// single is set when the task is the rule's only one (no split).
	single bool
	// idx are the objects of the scope the rule matches; order places
	// the task among the scan's (by scope), seq among its rule's (for
	// merging).
	idx        []int
	order, seq int
	out        *ruleOutcome
}

func newScanState(l *Library, objs []map[string]any, o ScanOptions) *scanState {
	t := o.RuleTimeout
	if t <= 0 {
		t = DefaultRuleTimeout
	}
	s := &scanState{l: l, objs: objs, timeout: t, mu: make([]sync.Mutex, len(objs)),
		values: make([]ast.Value, len(objs)), errs: make([]error, len(objs)), refs: make([]int32, len(objs))}
	s.decoders.New = func() any { return newValueDecoder() }
	if len(objs) > LargeScan {
		byNS := map[string][]int{}
		for i, o := range objs {
			if ns := scopeOf(o); ns == "" {
				s.resident = append(s.resident, i)
			} else {
				byNS[ns] = append(byNS[ns], i)
			}
		}
		names := make([]string, 0, len(byNS))
		for ns := range byNS {
			names = append(names, ns)
		}
		slices.Sort(names)
		for _, ns := range names {
			s.scopes = append(s.scopes, byNS[ns])
		}
	}
	return s
}

// scopeOf is the namespace scope of an object as Kubescape partitions a
// large cluster: its namespace, a Namespace's own name, "" (resident) for
// the others.
func scopeOf(o map[string]any) string {
	md, _ := o["metadata"].(map[string]any)
	if o["kind"] == "Namespace" {
		name, _ := md["name"].(string)
		return name
	}
	ns, _ := md["namespace"].(string)
	return ns
}

// tasks are the evaluations of a rule: on every object (whole, or a
// small scan), or scope by scope: the resident objects alone, then each
// namespace that has objects the rule matches with the resident ones.
// Whole-scan tasks come first, then the resident scope, then each
// namespace's.
func (s *scanState) tasks(r *Rule, whole bool) []*scanTask {
	ms := append(append([]Match{}, r.Metadata.Match...), r.Metadata.DynamicMatch...)
	task := func(set []int, order int) *scanTask {
		t := &scanTask{rule: r, whole: whole, order: order, seq: s.seq}
		s.seq++
		for _, i := range set {
			if matches(ms, s.objs[i]) {
				t.idx = append(t.idx, i)
			}
		}
		return t
	}
	if whole || s.scopes == nil {
		all := make([]int, len(s.objs))
		for i := range all {
			all[i] = i
		}
		t := task(all, -1)
		t.single = true
		return []*scanTask{t}
	}
	out := []*scanTask{task(s.resident, 0)}
	for n, scope := range s.scopes {
		if !slices.ContainsFunc(scope, func(i int) bool { return matches(ms, s.objs[i]) }) {
			continue
		}
		out = append(out, task(append(slices.Clone(scope), s.resident...), n+1))
	}
	return out
}

// schedule orders tasks by scope (see tasks) and counts, for each object,
// the tasks that match it.
func (s *scanState) schedule(tasks []*scanTask) {
	slices.SortStableFunc(tasks, func(a, b *scanTask) int { return a.order - b.order })
	for _, t := range tasks {
		agg := s.keepFull != nil && aggregates(t.rule)
		for _, i := range t.idx {
			s.refs[i]++
			if agg {
				s.keepFull[i] = true
			}
		}
	}
}

// run evaluates tasks, in their order, on workers goroutines; done hears
// each task's end (before the values only it needed are released).
func (s *scanState) run(ctx context.Context, tasks []*scanTask, workers int, done func(*scanTask, time.Duration)) {
	next := make(chan *scanTask)
	var wg sync.WaitGroup
	for range min(workers, max(len(tasks), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				start := time.Now()
				t.out = s.runRule(ctx, t.rule, t.idx)
				done(t, time.Since(start))
				s.release(t.idx)
			}
		}()
	}
	for _, t := range tasks {
		next <- t
	}
	close(next)
	wg.Wait()
}

// object is object i of the scan whole: as given, or loaded on first
// use (ScanOptions.Load) and kept until released.
func (s *scanState) object(i int) (map[string]any, error) {
	if s.load == nil {
		return s.objs[i], nil
	}
	s.mu[i].Lock()
	defer s.mu[i].Unlock()
	return s.loadLocked(i)
}

func (s *scanState) loadLocked(i int) (map[string]any, error) {
	if s.full[i] == nil {
		o, err := s.load(i)
		if err != nil {
			return nil, &loadError{i: i, err: err}
		}
		s.full[i], _ = envelope(o)
		s.ids[i] = resourceOf(s.full[i])
	}
	return s.full[i], nil
}

// loadError is an object that ScanOptions.Load could not give.
type loadError struct {
	i   int
	err error
}

func (e *loadError) Error() string { return fmt.Sprintf("load object %d: %v", e.i, e.err) }
func (e *loadError) Unwrap() error { return e.err }

// resource identifies object i (resourceOf the whole object once loaded).
func (s *scanState) resource(i int) engine.Resource {
	if s.ids != nil {
		s.mu[i].Lock()
		defer s.mu[i].Unlock()
		if s.full[i] != nil || s.values[i] != nil {
			return s.ids[i]
		}
	}
	return resourceOf(s.objs[i])
}

// value is the Rego value of object i, converted on first use: built
// from its JSON text when ScanOptions.LoadJSON has it and no rule with an
// aggregator (which reads objects decoded) matches it, else converted
// from the object. A loaded object (ScanOptions.Load) is then dropped
// unless such a rule matches it: the other rules read its value only.
func (s *scanState) value(i int) (ast.Value, error) {
	s.mu[i].Lock()
	defer s.mu[i].Unlock()
	if s.values[i] == nil && s.errs[i] == nil {
		if s.loadJSON != nil && !s.keepFull[i] && !isHostSensor(s.objs[i]) {
			if text := s.loadJSON(i); text != nil {
				d := s.decoders.Get().(*valueDecoder)
				v, err := d.decode(text)
				s.decoders.Put(d)
				if _, ok := v.(ast.Object); err == nil && !ok {
					err = errors.New("the JSON text is not an object")
				}
				if err != nil {
					s.errs[i] = &loadError{i: i, err: err}
					return nil, s.errs[i]
				}
				s.values[i], s.ids[i] = v, resourceOfValue(v)
				return v, nil
			}
		}
		o := s.objs[i]
		if s.load != nil {
			if o, s.errs[i] = s.loadLocked(i); s.errs[i] != nil {
				return nil, s.errs[i]
			}
		}
		s.values[i], s.errs[i] = ast.InterfaceToValue(o)
		if s.full != nil && !s.keepFull[i] {
			s.full[i] = nil
		}
	}
	return s.values[i], s.errs[i]
}

// release drops the values of objects idx no later task matches (and
// the objects themselves when the scan owns them).
func (s *scanState) release(idx []int) {
	for _, i := range idx {
		if atomic.AddInt32(&s.refs[i], -1) == 0 {
			s.mu[i].Lock()
			s.values[i] = nil
			if s.full != nil {
				s.full[i] = nil
			}
			if s.caller != nil {
				s.objs[i], s.caller[i] = nil, nil
			}
			s.mu[i].Unlock()
		}
	}
}

// dropUnmatched releases, when the scan owns the objects, those no task
// matches: nothing reads them once the tasks are made.
func (s *scanState) dropUnmatched() {
	for i, n := range s.refs {
		if n == 0 {
			s.objs[i], s.caller[i] = nil, nil
		}
	}
}

// runRule evaluates one rule on the scan's objects idx (those of a scope
// the rule matches).
func (s *scanState) runRule(ctx context.Context, r *Rule, idx []int) (out *ruleOutcome) {
	out = &ruleOutcome{}
	defer func() {
		if p := recover(); p != nil {
			out = &ruleOutcome{skip: fmt.Sprintf("rule %s: evaluation failed: %v", r.Name, p)}
		}
	}()
	if r.external != "" && !slices.ContainsFunc(idx, func(i int) bool { return isExternal(s.objs[i]) }) {
		out.skip = fmt.Sprintf("rule %s needs %s, which this scan does not have", r.Name, r.external)
		return out
	}
	if r.signatures && s.l.sig == nil {
		out.skip = fmt.Sprintf("rule %s: %v", r.Name, errNoSignatures)
		return out
	}
	input, inputs, err := s.input(r, idx)
	if err != nil {
		if inputs == nil { // the objects could not be loaded
			for _, i := range idx {
				inputs = append(inputs, resourceOf(s.objs[i]))
			}
		}
		return skipAll(out, r, inputs, err)
	}
	if len(inputs) == 0 {
		return out
	}
	if err := r.compile(); err != nil {
		return skipAll(out, r, inputs, err)
	}
	d := s.l.ruleData(r)
	judged := inputs
	if r.filter != nil {
		pq, err := s.l.prepared(ctx, r, true, d)
		if err != nil {
			return skipAll(out, r, inputs, err)
		}
		rs, err := s.eval(ctx, pq, input)
		if err != nil {
			return skipAll(out, r, inputs, err)
		}
		judged = nil
		for i := range rs {
			for _, obj := range rs[i].Objects() {
				judged = append(judged, resourceOf(obj))
			}
		}
	}
	pq, err := s.l.prepared(ctx, r, false, d)
	if err != nil {
		return skipAll(out, r, judged, err)
	}
	rs, err := s.eval(ctx, pq, input)
	if err != nil {
		return skipAll(out, r, judged, err)
	}
	out.failed = make([][]engine.Resource, len(rs))
	for i := range rs {
		for _, obj := range rs[i].Objects() {
			out.failed[i] = append(out.failed[i], resourceOf(obj))
		}
	}
	dropObjects(rs)
	out.responses = rs
	passed := make(map[engine.Resource]bool, len(judged))
	out.passed = make([]engine.Resource, 0, len(judged))
	for _, id := range judged {
		if !passed[id] {
			passed[id] = true
			out.passed = append(out.passed, id)
		}
	}
	return out
}

func (s *scanState) eval(ctx context.Context, pq rego.PreparedEvalQuery, input ast.Value) ([]Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rs, err := evalPrepared(ctx, pq, input, true)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("evaluation exceeded %s", s.timeout)
	}
	return rs, err
}

func skipAll(out *ruleOutcome, r *Rule, ids []engine.Resource, err error) *ruleOutcome {
	out.skip = fmt.Sprintf("rule %s: %v", r.Name, err)
	out.skipped = append(out.skipped, ids...)
	return out
}

// input is the input of rule r on the scan's objects idx (the Rego array
// of its inputs) and the resources of those inputs. A rule without an
// aggregator takes the objects' Rego values as they are, and never their
// decoded form; an aggregator's inputs are made of the decoded objects
// (aggregate). inputs is nil when the objects could not be loaded; the
// error of a conversion comes with the inputs it was for.
func (s *scanState) input(r *Rule, idx []int) (input ast.Value, inputs []engine.Resource, err error) {
	if !aggregates(r) {
		terms := make([]*ast.Term, len(idx))
		for j, i := range idx {
			v, err := s.value(i)
			var le *loadError
			if errors.As(err, &le) {
				return nil, nil, err
			}
			if err != nil {
				for _, i := range idx {
					inputs = append(inputs, resourceOf(s.objs[i]))
				}
				return nil, inputs, fmt.Errorf("input object %d: %w", j, err)
			}
			terms[j] = ast.NewTerm(v)
		}
		inputs = make([]engine.Resource, len(idx))
		for j, i := range idx {
			inputs[j] = s.resource(i)
		}
		return ast.NewArray(terms...), inputs, nil
	}
	matched := make([]map[string]any, len(idx))
	for j, i := range idx {
		o, err := s.object(i)
		if err != nil {
			return nil, nil, err
		}
		matched[j] = o
	}
	objs := aggregate(r, matched)
	inputs = make([]engine.Resource, len(objs))
	for j, o := range objs {
		inputs[j] = resourceOf(o)
	}
	// Objects of the scan keep their converted value; aggregated ones are
	// converted here.
	pos := make(map[unsafe.Pointer]int, len(idx))
	for j, i := range idx {
		pos[reflect.ValueOf(matched[j]).UnsafePointer()] = i
	}
	input, err = inputValue(objs, func(m map[string]any) (ast.Value, error) {
		if i, ok := pos[reflect.ValueOf(m).UnsafePointer()]; ok {
			return s.value(i)
		}
		return ast.InterfaceToValue(m)
	})
	return input, inputs, err
}

// isExternal reports whether o comes from outside the Kubernetes API (the
// host sensor, a cloud provider, an image scanner).
func isExternal(o map[string]any) bool {
	apiVersion, _ := o["apiVersion"].(string)
	group, _, _ := strings.Cut(apiVersion, "/")
	return externalGroup(group) != ""
}

// resourceOf identifies an object: a Kubernetes object by its metadata, an
// object built by a rule (a subject) by its own name and namespace.
func resourceOf(o map[string]any) engine.Resource {
	var id engine.Resource
	id.APIVersion, _ = o["apiVersion"].(string)
	id.Kind, _ = o["kind"].(string)
	if md, ok := o["metadata"].(map[string]any); ok {
		id.Name, _ = md["name"].(string)
		id.Namespace, _ = md["namespace"].(string)
	} else {
		id.Name, _ = o["name"].(string)
		id.Namespace, _ = o["namespace"].(string)
	}
	return id
}

// resourceOfValue is resourceOf the object whose Rego value is v.
func resourceOfValue(v ast.Value) engine.Resource {
	var id engine.Resource
	o, ok := v.(ast.Object)
	if !ok {
		return id
	}
	str := func(o ast.Object, key string) string {
		if t := o.Get(ast.InternedTerm(key)); t != nil {
			if s, ok := t.Value.(ast.String); ok {
				return string(s)
			}
		}
		return ""
	}
	id.APIVersion, id.Kind = str(o, "apiVersion"), str(o, "kind")
	if md, ok := objectAt(o, "metadata"); ok {
		id.Name, id.Namespace = str(md, "name"), str(md, "namespace")
	} else {
		id.Name, id.Namespace = str(o, "name"), str(o, "namespace")
	}
	return id
}

// dropObjects drops the objects of responses (alert objects, related
// objects) once the resources they fail are known: a scan's findings name
// those resources (Finding.Resource), and the ~100,000 findings of a large
// scan held the objects' report fields until the report was written.
func dropObjects(rs []Response) {
	for i := range rs {
		rs[i].AlertObject = AlertObject{}
		for j := range rs[i].RelatedObjects {
			rs[i].RelatedObjects[j].Object = nil
		}
	}
}

// reportFields is o reduced to kind, apiVersion and metadata name,
// namespace and labels.
func reportFields(o map[string]any) map[string]any {
	kept := map[string]any{}
	for _, k := range []string{"kind", "apiVersion"} {
		if v, ok := o[k]; ok {
			kept[k] = v
		}
	}
	if md, ok := o["metadata"].(map[string]any); ok {
		m := map[string]any{}
		for _, k := range []string{"name", "namespace", "labels"} {
			if v, ok := md[k]; ok {
				m[k] = v
			}
		}
		kept["metadata"] = m
	}
	return kept
}

// ruleData is the data of a rule in a scan: the configuration inputs its
// controlConfigInputs name ("settings.postureControlInputs.<name>"), as
// Kubescape gives them, and no cloud provider.
func (l *Library) ruleData(r *Rule) Data {
	d := Data{PostureControlInputs: map[string][]string{}, DataControlInputs: map[string]string{"cloudProvider": ""}}
	for _, in := range r.Metadata.ControlConfigInputs {
		parts := strings.Split(in.Path, ".")
		if len(parts) != 3 {
			continue
		}
		if v, ok := l.Inputs[parts[2]]; ok && v != nil {
			d.PostureControlInputs[parts[2]] = v
		}
	}
	return d
}

// preparedEntry is a rule query prepared once per library.
type preparedEntry struct {
	once sync.Once
	pq   rego.PreparedEvalQuery
	err  error
}

// prepared returns the rule's (or its filter's) query over d, prepared
// on first use. d must be l.ruleData(r).
func (l *Library) prepared(ctx context.Context, r *Rule, filter bool, d Data) (rego.PreparedEvalQuery, error) {
	key := r.Name
	c := r.raw
	if filter {
		key, c = key+"\x00filter", r.filter
	}
	v, _ := l.preparedQueries.LoadOrStore(key, &preparedEntry{})
	e := v.(*preparedEntry)
	e.once.Do(func() { e.pq, e.err = l.prepare(context.WithoutCancel(ctx), c, d) })
	return e.pq, e.err
}
