package kyvernotest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"sigs.k8s.io/yaml"
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
			return nil, fmt.Errorf("read %s: %w", p, err)
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
}

// Run runs every test file and aggregates the report.
func (r *Runner) Run(ctx context.Context, files []string) (*Report, error) {
	rep := &Report{}
	for _, f := range files {
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
	return rep, nil
}

type loadedTest struct {
	spec      TestFile
	dir       string
	set       *policy.Set
	resources []manifest.Document
	values    *ValuesSpec
	user      engine.UserInfo
	resStore  cel.ResourceStore
	imgStore  cel.ImageStore
	// contextResources are the Context file's cluster resources.
	contextResources []map[string]any
}

// RunFile runs one test file. Load problems are reported in the
// TestReport (every expected row fails with the reason), never dropped.
func (r *Runner) RunFile(ctx context.Context, file string) TestReport {
	tr := TestReport{File: file}
	lt, err := load(file)
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
	id := 0
	cache := map[string][]engine.Result{}
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
			row := Row{ID: id, Policy: exp.Policy, Rule: exp.Rule, Expected: want,
				Resource: resourceLabel(exp.Kind, exp.Namespace, name)}
			row.Actual, row.OK, row.Reason, row.Message = r.check(ctx, lt, exp, name, want, tr.Error, cache)
			tr.Rows = append(tr.Rows, row)
		}
	}
	return tr
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

func (r *Runner) check(ctx context.Context, lt *loadedTest, exp ResultSpec, name, want, loadErr string, cache map[string][]engine.Result) (actual string, ok bool, reason, message string) {
	if exp.IsMutatingPolicy || exp.IsGeneratingPolicy || exp.IsImageValidatingPolicy {
		return "", false, "Unsupported: policy kind not supported yet", ""
	}
	if ap := lt.set.AdmissionPolicy(exp.Policy); ap != nil && (exp.IsValidatingAdmissionPolicy || lt.set.Policy(exp.Policy) == nil) {
		return r.checkResults(ctx, lt, exp, name, want, cache, "vap/"+ap.Name(), lt.set.OnlyAdmission(ap), true)
	}
	if exp.IsValidatingAdmissionPolicy {
		if loadErr != "" {
			return "", false, "Policy not loaded: " + loadErr, ""
		}
		return "", false, "Not found: no ValidatingAdmissionPolicy named " + exp.Policy, ""
	}
	if exp.IsValidatingPolicy || (lt.set.Policy(exp.Policy) == nil && lt.set.ValidatingPolicy(exp.Policy) != nil) {
		// Entries name a ValidatingPolicy with isValidatingPolicy, or
		// just by name (kyverno test finds results by policy name).
		vp := lt.set.ValidatingPolicy(exp.Policy)
		if vp == nil {
			if loadErr != "" {
				return "", false, "Policy not loaded: " + loadErr, ""
			}
			return "", false, "Not found: no ValidatingPolicy named " + exp.Policy, ""
		}
		return r.checkResults(ctx, lt, exp, name, want, cache, vp.Name(), lt.set.OnlyValidating(vp), true)
	}
	if exp.PatchedResource != "" || exp.GeneratedResource != "" {
		return "", false, "Unsupported: mutate and generate results are not supported yet", ""
	}
	pol := lt.set.Policy(exp.Policy)
	if pol == nil {
		if loadErr != "" {
			return "", false, "Policy not loaded: " + loadErr, ""
		}
		return "", false, "Not found: no policy named " + exp.Policy, ""
	}
	if exp.Rule != "" {
		var rule *policy.Rule
		for _, rr := range pol.Rules {
			if rr.Name() == exp.Rule {
				rule = rr
			}
		}
		if rule != nil && rule.Spec.Validation == nil {
			return "", false, "Unsupported: only validate rules are supported yet", ""
		}
	}
	return r.checkResults(ctx, lt, exp, name, want, cache, pol.Key(), lt.set.Only(pol), false)
}

// checkResults evaluates the resources an entry names against one policy
// (set holds just it) and compares the results with the expectation.
// anyRule ignores rule names (ValidatingPolicy entries name none).
func (r *Runner) checkResults(ctx context.Context, lt *loadedTest, exp ResultSpec, name, want string, cache map[string][]engine.Result, policyKey string, set *policy.Set, anyRule bool) (actual string, ok bool, reason, message string) {
	ns, rname := exp.Namespace, name
	if i := strings.IndexByte(name, '/'); i >= 0 && ns == "" {
		ns, rname = name[:i], name[i+1:]
	}
	var docs []manifest.Document
	for _, d := range lt.resources {
		if d.Name() != rname {
			continue
		}
		if exp.Kind != "" && d.Kind() != exp.Kind {
			continue
		}
		if ns != "" {
			have := manifest.MetaString(d.Object, "namespace")
			if have == "" && kinds.Lookup(d.APIVersion(), d.Kind()).Namespaced {
				// kyverno test places namespaced resources without a
				// namespace in "default".
				have = "default"
			}
			if have != ns {
				continue
			}
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		return "", false, "Not found", ""
	}
	var matched []engine.Result
	policyApplied := false
	for _, d := range docs {
		key := fmt.Sprintf("%s|%s|%d|%p", policyKey, d.Source, d.Index, d.Object)
		results, done := cache[key]
		if !done {
			var err error
			results, err = r.evaluate(ctx, lt, set, d)
			if err != nil {
				return "", false, "Error: " + err.Error(), ""
			}
			cache[key] = results
		}
		policyApplied = policyApplied || len(results) > 0
		for _, res := range results {
			if anyRule || ruleNameMatches(exp.Rule, res.Rule) {
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
	return want, true, "Ok", matched[0].Message
}

// ruleNameMatches reports whether a result of rule got answers an entry
// naming want; as in kyverno test, an entry naming a Pod rule also selects
// its autogen rules, and an empty name selects every rule.
func ruleNameMatches(want, got string) bool {
	return want == "" || got == want || got == "autogen-"+want || got == "autogen-cronjob-"+want
}

func (r *Runner) evaluate(ctx context.Context, lt *loadedTest, set *policy.Set, d manifest.Document) ([]engine.Result, error) {
	policyName := ""
	switch {
	case len(set.Policies) > 0:
		policyName = set.Policies[0].Name()
	case len(set.Validating) > 0:
		policyName = set.Validating[0].Name()
	case len(set.Admission) > 0:
		policyName = set.Admission[0].Name()
	}
	name := d.Name()
	op := "CREATE"
	vals := lt.values
	if vals != nil {
		if v, ok := vals.GlobalValues["request.operation"].(string); ok {
			op = v
		}
		for _, pv := range vals.Policies {
			if pv.Name != policyName {
				continue
			}
			for _, rv := range pv.Resources {
				if rv.Name == name {
					if v, ok := rv.Values["request.operation"].(string); ok {
						op = v
					}
				}
			}
		}
	}
	in := engine.Input{Resource: d.Object, Operation: op, UserInfo: lt.user, Resources: lt.resStore, Images: lt.imgStore}
	switch op {
	case "UPDATE":
		in.OldResource = d.Object
	case "DELETE":
		in.OldResource, in.Resource = d.Object, nil
	}
	ns := manifest.MetaString(d.Object, "namespace")
	// A Namespace from the values file or the test's resources is the
	// resource's namespace.
	in = in.WithNamespace(lt.namespace(ns))
	if vals != nil {
		for _, nl := range vals.NamespaceSelector {
			if nl.Name == ns {
				in.NamespaceLabels = nl.Labels
			}
		}
		in.Values = engine.ValuesFunc(func(policyName, rule, resource string) map[string]any {
			return vals.merged(policyName, rule, resource)
		})
	}
	return r.Engine.Evaluate(ctx, set, in)
}

// merged returns global, then resource, then rule values (later wins).
func (v *ValuesSpec) merged(policyName, rule, resource string) map[string]any {
	out := map[string]any{}
	for k, x := range v.GlobalValues {
		out[k] = x
	}
	for _, pv := range v.Policies {
		if pv.Name != policyName {
			continue
		}
		for _, rv := range pv.Resources {
			if rv.Name == resource {
				for k, x := range rv.Values {
					out[k] = x
				}
			}
		}
		for _, rv := range pv.Rules {
			if rv.Name == rule {
				for k, x := range rv.Values {
					out[k] = x
				}
			}
		}
	}
	return out
}

func load(file string) (*loadedTest, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read test: %w", err)
	}
	lt := &loadedTest{dir: filepath.Dir(file), set: &policy.Set{}}
	if err := yaml.Unmarshal(data, &lt.spec); err != nil {
		return nil, fmt.Errorf("parse test %s: %w", file, err)
	}
	if lt.spec.Kind != "" && lt.spec.Kind != "Test" {
		return nil, fmt.Errorf("%s: kind %q is not a Test", file, lt.spec.Kind)
	}
	var errs []error
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(lt.dir, p)
	}
	var policyPaths []string
	for _, p := range lt.spec.Policies {
		policyPaths = append(policyPaths, rel(p))
	}
	set, err := policy.LoadFiles(policyPaths, policy.Options{SkipUnsupported: true})
	if set != nil {
		lt.set = set
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("load policies: %w", err))
	}
	var resPaths []string
	for _, p := range lt.spec.Resources {
		resPaths = append(resPaths, rel(p))
	}
	docs, err := manifest.ReadPaths(resPaths, strings.NewReader(""))
	for i := range docs {
		docs[i].Object = defaultNamespace(docs[i].Object)
	}
	lt.resources = docs
	if err != nil {
		errs = append(errs, fmt.Errorf("load resources: %w", err))
	}
	if lt.spec.Variables != "" {
		v, err := loadValues(rel(lt.spec.Variables))
		if err != nil {
			errs = append(errs, err)
		}
		lt.values = v
	}
	if lt.spec.Values != nil {
		if lt.values == nil {
			lt.values = lt.spec.Values
		} else {
			lt.values = mergeValues(lt.values, lt.spec.Values)
		}
	}
	if lt.spec.Context != "" {
		if err := lt.loadContext(rel(lt.spec.Context)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(lt.contextResources) > 0 || lt.set.UsesCEL() {
		if err := lt.buildResourceStore(); err != nil {
			errs = append(errs, err)
		}
	}
	if lt.spec.UserInfo != "" {
		u, err := loadUserInfo(rel(lt.spec.UserInfo))
		if err != nil {
			errs = append(errs, err)
		}
		lt.user = u
	}
	return lt, errors.Join(errs...)
}

func mergeValues(a, b *ValuesSpec) *ValuesSpec {
	out := *a
	out.GlobalValues = map[string]any{}
	for k, v := range a.GlobalValues {
		out.GlobalValues[k] = v
	}
	for k, v := range b.GlobalValues {
		out.GlobalValues[k] = v
	}
	out.Policies = append(append([]PolicyValues{}, a.Policies...), b.Policies...)
	out.NamespaceSelector = append(append([]NamespaceLabels{}, a.NamespaceSelector...), b.NamespaceSelector...)
	return &out
}

func loadValues(path string) (*ValuesSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read values: %w", err)
	}
	var v ValuesSpec
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("parse values %s: %w", path, err)
	}
	return &v, nil
}

func loadUserInfo(path string) (engine.UserInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return engine.UserInfo{}, fmt.Errorf("read userinfo: %w", err)
	}
	var u UserInfoSpec
	if err := yaml.Unmarshal(data, &u); err != nil {
		return engine.UserInfo{}, fmt.Errorf("parse userinfo %s: %w", path, err)
	}
	return engine.UserInfo{Username: u.UserInfo.Username, UID: u.UserInfo.UID, Groups: u.UserInfo.Groups,
		Roles: u.Roles, ClusterRoles: u.ClusterRoles}, nil
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
	if len(set.Validating) > 0 {
		return "ValidatingPolicy"
	}
	if len(set.Admission) > 0 {
		return "ValidatingAdmissionPolicy"
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

// contextSpec is a cli.kyverno.io/v1alpha1 Context: the cluster resources
// and image metadata that CEL lookups see during a test.
type contextSpec struct {
	Spec struct {
		Resources []map[string]any `json:"resources,omitempty"`
		Images    []map[string]any `json:"images,omitempty"`
	} `json:"spec"`
}

func (lt *loadedTest) loadContext(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read context: %w", err)
	}
	var c contextSpec
	if err := yaml.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("parse context %s: %w", path, err)
	}
	lt.contextResources = c.Spec.Resources
	img, err := cel.NewMemoryImages(c.Spec.Images...)
	if err != nil {
		return fmt.Errorf("context %s: images: %w", path, err)
	}
	lt.imgStore = img
	return nil
}

// buildResourceStore serves CEL lookups and params from the context file's
// resources and the test's own resources.
func (lt *loadedTest) buildResourceStore() error {
	objs := append([]map[string]any{}, lt.contextResources...)
	for _, d := range lt.resources {
		objs = append(objs, d.Object)
	}
	res, err := cel.NewMemoryResources(objs...)
	if err != nil {
		return fmt.Errorf("resources for CEL lookups: %w", err)
	}
	lt.resStore = res
	return nil
}

// defaultNamespace places a namespaced resource without a namespace in
// "default", as kyverno test does (and as kubectl would on apply).
func defaultNamespace(obj map[string]any) map[string]any {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if manifest.MetaString(obj, "namespace") != "" || !kinds.Lookup(apiVersion, kind).Namespaced {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	meta := map[string]any{}
	if m, ok := obj["metadata"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	meta["namespace"] = "default"
	out["metadata"] = meta
	return out
}

// namespace returns the Namespace named name from the values file's
// namespaces, else among the test's resources.
func (lt *loadedTest) namespace(name string) map[string]any {
	if name == "" {
		return nil
	}
	if lt.values != nil {
		for _, ns := range lt.values.Namespaces {
			if manifest.MetaString(ns, "name") == name {
				return ns
			}
		}
	}
	for _, d := range lt.resources {
		if d.Kind() == "Namespace" && d.Name() == name {
			return d.Object
		}
	}
	return nil
}
