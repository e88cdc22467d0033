package kyvernotest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/source/files"
)

// DefaultFileName is the test file name Discover looks for.
const DefaultFileName = "kyverno-test.yaml"

// Report is the outcome of running test files.
type Report struct {
	Tests []TestReport `json:"tests"`
	// Pass, Fail and Skip count rows (skip rows are passing rows whose
	// expected result was skip, or resources the policy excluded).
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Passed returns the number of passing rows (Kyverno counts skips as passes).
func (r *Report) Passed() int { return r.Pass + r.Skip }

// TestReport is the outcome of one test file.
type TestReport struct {
	File string `json:"file"`
	Name string `json:"name"`
	// Class says what kind of policy the test exercises: "validate"
	// (pattern, anyPattern, deny, foreach, podSecurity), "validate.cel",
	// "mutate", "generate", "verifyImages", or the kind of an unsupported
	// policy document (e.g. "ValidatingPolicy").
	Class     string `json:"class"`
	Policies  int    `json:"policies"`
	Resources int    `json:"resources"`
	// Error is set when the test could not be loaded; its rows then fail.
	Error string `json:"error,omitempty"`
	Rows  []Row  `json:"results"`
}

// Row is one checked (result entry, resource) pair.
type Row struct {
	ID       int    `json:"id"`
	Policy   string `json:"policy"`
	Rule     string `json:"rule"`
	Resource string `json:"resource"`
	Expected string `json:"expected"`
	Actual   string `json:"actual,omitempty"`
	OK       bool   `json:"ok"`
	Reason   string `json:"reason"`
	Message  string `json:"message,omitempty"`
}

// Discover returns the test files under paths: a file is taken as is, a
// directory is walked (hidden directories included, since suites live in
// .kyverno-test) for files named fileName.
func Discover(paths []string, fileName string) ([]string, error) {
	if fileName == "" {
		fileName = DefaultFileName
	}
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, unwrapPathErr(err))
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == fileName {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Runner runs test files with one engine.
type Runner struct {
	Engine *engine.Engine
	// Attestations compiles the attestation policies of the tests'
	// ClusterImagePolicies when they are loaded (policy.Options); nil
	// leaves them unchecked.
	Attestations policy.AttestationCompiler
}

// Run runs every test file and aggregates the report. When ctx is
// cancelled it returns the tests run so far with ctx's error.
func (r *Runner) Run(ctx context.Context, testFiles []string) (*Report, error) {
	rep := &Report{}
	for _, f := range testFiles {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		tr := r.RunFile(ctx, f)
		for _, row := range tr.Rows {
			switch {
			case !row.OK:
				rep.Fail++
			case row.Expected == "skip" || row.Reason == "Excluded":
				rep.Skip++
			default:
				rep.Pass++
			}
		}
		rep.Tests = append(rep.Tests, tr)
	}
	// A cancellation during the last file left its rows undecided.
	return rep, ctx.Err()
}

// RunFile runs one test file. Load problems are reported in the
// TestReport (every expected row fails with the reason), never dropped.
// Each policy the entries name is evaluated once, through the shared
// evaluation loop, on the resources they name.
func (r *Runner) RunFile(ctx context.Context, file string) TestReport {
	tr := TestReport{File: file}
	lt, err := load(file, r.Attestations)
	if lt != nil {
		tr.Name = lt.spec.Metadata.Name
		if tr.Name == "" {
			tr.Name = lt.spec.Name
		}
	}
	if err != nil {
		tr.Error = err.Error()
		if lt == nil {
			tr.Rows = append(tr.Rows, Row{ID: 1, Policy: "-", Rule: "-", Resource: file, Expected: "-", Reason: "test could not be loaded: " + err.Error()})
			return tr
		}
	}
	tr.Class = classify(lt.set)
	tr.Policies = lt.set.Len()
	tr.Resources = len(lt.resources)
	// Plan every row: which policy answers it, on which resources.
	var (
		checks  []*check
		targets = map[string]*target{}
		order   []*target
	)
	id := 0
	for _, exp := range lt.spec.Results {
		want := exp.Result
		if want == "" {
			want = exp.Status
		}
		names := exp.Resources
		if len(names) == 0 && exp.Resource != "" {
			names = []string{exp.Resource}
		}
		for _, name := range names {
			id++
			tr.Rows = append(tr.Rows, Row{ID: id, Policy: exp.Policy, Rule: exp.Rule, Expected: want,
				Resource: resourceLabel(exp.Kind, exp.Namespace, name)})
			row := &tr.Rows[len(tr.Rows)-1]
			t, reason := lt.target(exp, tr.Error)
			if t == nil {
				row.Reason = reason
				continue
			}
			if known := targets[t.key]; known != nil {
				t = known
			} else {
				targets[t.key] = t
				order = append(order, t)
			}
			patched := exp.PatchedResources
			if patched == "" {
				patched = exp.PatchedResource
			}
			c := &check{row: len(tr.Rows) - 1, rule: exp.Rule, target: t, docs: t.need(lt.find(exp, name)), patched: patched}
			c.generated, c.generatedErr = lt.expectedGenerated(exp)
			checks = append(checks, c)
		}
	}
	// Evaluate each policy once on the resources its rows name.
	for _, t := range order {
		t.evaluate(ctx, r.Engine, lt)
	}
	var dropped map[int]bool
	for _, c := range checks {
		row := &tr.Rows[c.row]
		row.Actual, row.OK, row.Reason, row.Message = c.compare(row.Expected)
		if c.patched != "" && row.Actual != "" && row.Actual != "excluded" && c.checkPatched(lt, row) {
			if dropped == nil {
				dropped = map[int]bool{}
			}
			dropped[c.row] = true
		}
	}
	tr.Rows = dropRows(tr.Rows, dropped)
	// A suite that could not be loaded, or checks nothing, fails: it
	// would otherwise pass with whatever rows it has (possibly none). A
	// load error already failing a row (policy not loaded) is not repeated.
	if reason := suiteProblem(lt, tr.Error); reason != "" && !anyFailed(tr.Rows) {
		tr.Rows = append(tr.Rows, Row{ID: len(tr.Rows) + 1, Policy: "-", Rule: "-", Resource: file, Expected: "-", Reason: reason})
	}
	return tr
}

// dropRows removes the rows at the indexes of drop and numbers the rest
// again from 1, as kyverno test numbers only the rows it prints.
func dropRows(rows []Row, drop map[int]bool) []Row {
	if len(drop) == 0 {
		return rows
	}
	out := rows[:0]
	for i, r := range rows {
		if drop[i] {
			continue
		}
		r.ID = len(out) + 1
		out = append(out, r)
	}
	return out
}

func anyFailed(rows []Row) bool {
	for _, r := range rows {
		if !r.OK {
			return true
		}
	}
	return false
}

// suiteProblem returns why a loaded test fails as a whole, or "": a load
// error (missing policy, resource, values... file), or no results.
func suiteProblem(lt *loadedTest, loadErr string) string {
	switch {
	case loadErr != "":
		return "Error: test could not be loaded: " + loadErr
	case len(lt.spec.TargetResources) > 0:
		return "Unsupported: targetResources (mutate existing resources) are not supported by portcullis test yet; the rows of mutate rules with targets were not verified"
	case len(lt.spec.Results) == 0 && len(lt.spec.Checks) > 0:
		return "Unsupported: the test has only checks, which are not supported yet; nothing was verified"
	case len(lt.spec.Results) == 0:
		return "Error: the test has no results; nothing was verified"
	}
	return ""
}

func resourceLabel(kind, ns, name string) string {
	parts := []string{}
	if kind != "" {
		parts = append(parts, kind)
	}
	if ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, name), "/")
}

// target is one policy that entries of a test are checked against: a set
// holding just it, evaluated once on every resource its entries name.
type target struct {
	// key identifies the policy among the test's policies.
	key string
	// name is the policy's name, which values are keyed by.
	name string
	set  *policy.Set
	// anyRule ignores rule names (ValidatingPolicy and
	// ValidatingAdmissionPolicy entries name none).
	anyRule bool
	// docs are the indexes of the resources to evaluate, each once.
	docs []int
	// results and errs are the outcome of each evaluated resource.
	results map[int][]engine.Result
	errs    map[int]error
	// generate evaluates in engine.PhaseGenerate, with clone sources
	// looked up in store (see generateTarget).
	generate bool
	store    cel.ResourceStore
}

// need adds resources to evaluate and returns them.
func (t *target) need(docs []int) []int {
	for _, d := range docs {
		if !slices.Contains(t.docs, d) {
			t.docs = append(t.docs, d)
		}
	}
	return docs
}

// evaluate runs the target's policy on its resources through the shared
// loop, recording each resource's results or error.
func (t *target) evaluate(ctx context.Context, eng *engine.Engine, lt *loadedTest) {
	t.results = make(map[int][]engine.Result, len(t.docs))
	t.errs = map[int]error{}
	stream := make(files.Documents, len(t.docs))
	for i, d := range t.docs {
		stream[i] = lt.resources[d]
	}
	inputs := lt.inputs(t.name)
	if t.generate {
		base := inputs
		inputs = files.InputsFunc(func(d manifest.Document) engine.Input {
			in := base.Input(d)
			in.Phase, in.Resources = engine.PhaseGenerate, t.store
			return in
		})
	}
	ev := &files.Evaluator{Engine: eng, Set: t.set, Inputs: inputs}
	err := ev.Run(ctx, stream, files.SinkFunc(func(o files.Outcome) {
		t.results[t.docs[o.Item]] = o.Results
	}))
	var failed files.Errors
	switch {
	case errors.As(err, &failed):
		for _, f := range failed {
			t.errs[t.docs[f.Item]] = f.Err
		}
	case err != nil:
		// Cancelled: nothing was decided for the resources left.
		for _, d := range t.docs {
			if _, ok := t.results[d]; !ok {
				t.errs[d] = err
			}
		}
	}
}

// target returns the policy an entry is checked against, or why the
// entry cannot be checked.
func (lt *loadedTest) target(exp ResultSpec, loadErr string) (*target, string) {
	if t, reason, ok := lt.generateTarget(exp, loadErr); ok {
		return t, reason
	}
	if exp.IsMutatingPolicy || (lt.set.Policy(exp.Policy) == nil && lt.set.MutatingPolicy(exp.Policy) != nil) {
		// Entries name a MutatingPolicy with isMutatingPolicy, or just
		// by name, as for ValidatingPolicy.
		mp := lt.set.MutatingPolicy(exp.Policy)
		if mp == nil {
			if loadErr != "" {
				return nil, "Policy not loaded: " + loadErr
			}
			return nil, "Not found: no MutatingPolicy named " + exp.Policy
		}
		return &target{key: "mpol/" + mp.Name(), name: mp.Name(), set: lt.set.OnlyMutating(mp), anyRule: true}, ""
	}
	if exp.IsGeneratingPolicy || exp.IsImageValidatingPolicy {
		return nil, "Unsupported: policy kind not supported yet"
	}
	if ap := lt.set.AdmissionPolicy(exp.Policy); ap != nil && (exp.IsValidatingAdmissionPolicy || lt.set.Policy(exp.Policy) == nil) {
		return &target{key: "vap/" + ap.Name(), name: ap.Name(), set: lt.set.OnlyAdmission(ap), anyRule: true}, ""
	}
	if exp.IsValidatingAdmissionPolicy {
		if loadErr != "" {
			return nil, "Policy not loaded: " + loadErr
		}
		return nil, "Not found: no ValidatingAdmissionPolicy named " + exp.Policy
	}
	if exp.IsValidatingPolicy || (lt.set.Policy(exp.Policy) == nil && lt.set.ValidatingPolicy(exp.Policy) != nil) {
		// Entries name a ValidatingPolicy with isValidatingPolicy, or
		// just by name (kyverno test finds results by policy name).
		vp := lt.set.ValidatingPolicy(exp.Policy)
		if vp == nil {
			if loadErr != "" {
				return nil, "Policy not loaded: " + loadErr
			}
			return nil, "Not found: no ValidatingPolicy named " + exp.Policy
		}
		return &target{key: "vpol/" + vp.Name(), name: vp.Name(), set: lt.set.OnlyValidating(vp), anyRule: true}, ""
	}
	if exp.GeneratedResource != "" {
		return nil, "Unsupported: generate results are not supported yet"
	}
	pol := lt.set.Policy(exp.Policy)
	if pol == nil && lt.set.ImagePolicy(exp.Policy) != nil {
		// Checking a ClusterImagePolicy needs a registry; kyverno test has
		// no such results either.
		return nil, "Unsupported: ClusterImagePolicy results are checked with portcullis verify, not in a test"
	}
	if pol == nil {
		if loadErr != "" {
			return nil, "Policy not loaded: " + loadErr
		}
		return nil, "Not found: no policy named " + exp.Policy
	}
	if exp.Rule != "" {
		var rule *policy.Rule
		for _, rr := range pol.Rules {
			if rr.Name() == exp.Rule {
				rule = rr
			}
		}
		if rule == nil && !hasRule(pol, exp.Rule) {
			// kyverno test reports an entry naming a rule the policy does
			// not have as not found; it must not pass as excluded.
			return nil, fmt.Sprintf("Not found: policy %s has no rule named %s", exp.Policy, exp.Rule)
		}
		if rule != nil && rule.Spec.Validation == nil && rule.Spec.Mutation == nil {
			return nil, "Unsupported: only validate and mutate rules are supported yet"
		}
		if rule != nil && rule.Spec.Mutation != nil && len(rule.Spec.Mutation.Targets) > 0 {
			return nil, "Unsupported: mutate rules with targets (mutate existing resources, targetResources) are not supported by portcullis test yet"
		}
	}
	return &target{key: pol.Key(), name: pol.Name(), set: lt.set.Only(pol)}, ""
}

// hasRule reports whether an entry naming rule selects a rule of pol
// (an entry naming a Pod rule also selects its autogen rules).
func hasRule(pol *policy.Policy, rule string) bool {
	for _, rr := range pol.Rules {
		if ruleNameMatches(rule, rr.Name()) {
			return true
		}
	}
	return false
}

// find returns the indexes of the resources an entry names: by name
// ("name" or "namespace/name"), kind and namespace, where a namespaced
// resource without a namespace is in "default" as kyverno test places it.
func (lt *loadedTest) find(exp ResultSpec, name string) []int {
	ns, rname := exp.Namespace, name
	if i := strings.IndexByte(name, '/'); i >= 0 && ns == "" {
		ns, rname = name[:i], name[i+1:]
	}
	var out []int
	for i, d := range lt.resources {
		if d.Name() != rname {
			continue
		}
		if exp.Kind != "" && d.Kind() != exp.Kind {
			continue
		}
		if ns != "" {
			have := manifest.MetaString(d.Object, "namespace")
			if have == "" && kinds.Lookup(d.APIVersion(), d.Kind()).Namespaced {
				have = "default"
			}
			if have != ns {
				continue
			}
		}
		out = append(out, i)
	}
	return out
}

// check is one row answered by a target's engine results.
type check struct {
	row    int
	rule   string
	target *target
	docs   []int
	// patched is the entry's patchedResources file, "" when none.
	patched string
	// generated is the entry's expected generatedResource (nil when
	// none), or generatedErr why it could not be read.
	generated    map[string]any
	generatedErr error
}

// compare compares the engine results for the row's resources with the
// expected status want.
func (c *check) compare(want string) (actual string, ok bool, reason, message string) {
	if len(c.docs) == 0 {
		return "", false, "Not found", ""
	}
	var matched []engine.Result
	policyApplied := false
	for _, d := range c.docs {
		if err := c.target.errs[d]; err != nil {
			return "", false, "Error: " + err.Error(), ""
		}
		results := c.target.results[d]
		policyApplied = policyApplied || len(results) > 0
		for _, res := range results {
			if c.target.anyRule || ruleNameMatches(c.rule, res.Rule) {
				matched = append(matched, res)
			}
		}
	}
	if len(matched) == 0 {
		// Some rule of the policy applied, but not the named one: kyverno
		// test reports the entry as excluded, which passes. When no rule of
		// the policy applied at all, only an expected skip holds.
		if policyApplied || want == "skip" {
			return "skip", true, "Excluded", ""
		}
		return "excluded", false, "Excluded: no rule of the policy applied to the resource", ""
	}
	for _, res := range matched {
		if string(res.Status) != want {
			return string(res.Status), false, fmt.Sprintf("Want %s, got %s", want, res.Status), res.Message
		}
	}
	if c.generatedErr != nil {
		return want, false, "Error: " + c.generatedErr.Error(), ""
	}
	if c.generated != nil {
		if ok, reason := compareGenerated(c.generated, matched); !ok {
			return want, false, reason, matched[0].Message
		}
	}
	return want, true, "Ok", matched[0].Message
}

// checkPatched compares the resources of a row with a patchedResources
// file, as kyverno test does: a resource that does not match makes the
// row's result fail (which passes when fail was expected); one that
// matches leaves the rule's status. It returns true when the row is to
// be dropped: the file holds none of the row's resources (kyverno test
// skips a resource "not found in manifest" without a row).
func (c *check) checkPatched(lt *loadedTest, row *Row) (drop bool) {
	missing := 0
	for _, d := range c.docs {
		why := lt.comparePatched(c.patched, lt.resources[d].Object, c.target.results[d])
		switch {
		case why == "":
			continue
		case why == notInManifest:
			missing++
			continue
		case strings.HasPrefix(why, "Error"):
			row.OK, row.Reason = false, why
		default:
			row.Actual, row.OK, row.Reason = "fail", row.Expected == "fail", why
			if row.OK {
				row.Reason = "Ok"
				row.Message = why
			}
		}
		return false
	}
	return missing == len(c.docs)
}

// ruleNameMatches reports whether a result of rule got answers an entry
// naming want; as in kyverno test, an entry naming a Pod rule also selects
// its autogen rules, and an empty name selects every rule.
func ruleNameMatches(want, got string) bool {
	return want == "" || got == want || got == "autogen-"+want || got == "autogen-cronjob-"+want
}

// failedOnly returns a copy of the report with only failing rows.
func (r *Report) failedOnly() *Report {
	out := &Report{Pass: r.Pass, Fail: r.Fail, Skip: r.Skip}
	for _, t := range r.Tests {
		ft := t
		ft.Rows = nil
		for _, row := range t.Rows {
			if !row.OK {
				ft.Rows = append(ft.Rows, row)
			}
		}
		out.Tests = append(out.Tests, ft)
	}
	return out
}

// classify names the class of policies a test exercises (see TestReport.Class).
func classify(set *policy.Set) string {
	for _, u := range set.Unsupported {
		return u.Kind
	}
	if len(set.Mutating) > 0 {
		return "MutatingPolicy"
	}
	if len(set.MutatingAdmission) > 0 {
		return "MutatingAdmissionPolicy"
	}
	if len(set.Validating) > 0 {
		return "ValidatingPolicy"
	}
	if len(set.Admission) > 0 {
		return "ValidatingAdmissionPolicy"
	}
	if len(set.Generating) > 0 {
		return "GeneratingPolicy"
	}
	class := "validate"
	for _, p := range set.Policies {
		for _, r := range p.Rules {
			switch {
			case r.Spec.Validation != nil && r.Spec.Validation.CEL != nil:
				return "validate.cel"
			case r.Spec.Mutation != nil:
				class = "mutate"
			case r.Spec.Generation != nil:
				class = "generate"
			case len(r.Spec.VerifyImages) > 0:
				class = "verifyImages"
			}
		}
	}
	return class
}

// unwrapPathErr drops the operation and path of an *fs.PathError, which
// the caller's message already names.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
