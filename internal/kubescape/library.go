package kubescape

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Framework is a named set of controls (frameworks/*.json).
type Framework struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Controls    []string `json:"controls"` // control IDs, in the file's order
	File        string   `json:"-"`
}

// Control is one control (controls/*.json).
type Control struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Remediation string  `json:"remediation,omitempty"`
	BaseScore   float64 `json:"baseScore"`
	// Severity is the baseScore as Kubescape maps it: critical (9 and
	// more), high (7), medium (4), low (1), unknown below.
	Severity string   `json:"severity"`
	Rules    []string `json:"rules"` // rule names
	// ManualReview is set for controls Kubescape leaves to a person
	// (attributes.actionRequired "manual review").
	ManualReview bool `json:"manualReview,omitempty"`
	// WholeCluster is set for controls whose rules join objects across
	// namespaces (attributes.requiresWholeClusterInput): large scans do
	// not split their input by namespace.
	WholeCluster bool   `json:"wholeCluster,omitempty"`
	File         string `json:"-"`
}

// Match selects the objects a rule receives (rule.metadata.json match).
type Match struct {
	APIGroups   []string `json:"apiGroups"`
	APIVersions []string `json:"apiVersions"`
	Resources   []string `json:"resources"`
}

// ConfigInput is one control configuration input a rule reads.
type ConfigInput struct {
	Path        string `json:"path"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// RuleMetadata is rule.metadata.json, the fields the runtime uses.
type RuleMetadata struct {
	Name         string         `json:"name"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	RuleLanguage string         `json:"ruleLanguage"`
	Match        []Match        `json:"match"`
	DynamicMatch []Match        `json:"dynamicMatch,omitempty"`
	Dependencies []struct {
		PackageName string `json:"packageName"`
	} `json:"ruleDependencies,omitempty"`
	ConfigInputs        []string      `json:"configInputs,omitempty"`
	ControlConfigInputs []ConfigInput `json:"controlConfigInputs,omitempty"`
	Description         string        `json:"description,omitempty"`
	Remediation         string        `json:"remediation,omitempty"`
}

// Rule is one rule directory, compiled.
type Rule struct {
	Name     string
	Dir      string
	Metadata RuleMetadata
	// Raw and Filter are the Rego sources (Filter "" without filter.rego).
	Raw, Filter string
	// rawModule and filterModule are the parsed sources (filterModule nil
	// without filter.rego); raw and filter their compilers, built once by
	// compile.
	rawModule, filterModule *ast.Module
	helpers                 map[string]*ast.Module
	compileOnce             sync.Once
	compileErr              error
	raw, filter             *ast.Compiler
	// external names the non-Kubernetes data the rule needs ("" when
	// none): host sensor or cloud provider objects.
	external string
	// signatures is set when the rule calls the cosign builtins.
	signatures bool
}

// Library is a loaded control library. It is safe for concurrent use.
type Library struct {
	Dir        string
	Frameworks []*Framework        // by name
	Controls   map[string]*Control // by ID
	Rules      map[string]*Rule    // by name
	Inputs     map[string][]string // postureControlInputs in use
	sig        ImageSignatures
	// preparedQueries holds a *preparedEntry per rule (and filter).
	preparedQueries sync.Map
}

// Option configures Load.
type Option func(*loadOptions)

type loadOptions struct {
	controlConfig string
	sig           ImageSignatures
	deferCompile  bool
}

// WithDeferredCompile makes Load read and parse every rule but compile
// none: a rule is compiled on its first evaluation, or by
// Library.Compile. A scan that runs a few frameworks then compiles only
// their rules (the corpus has 185 rules, NSA and MITRE use 29).
func WithDeferredCompile() Option {
	return func(o *loadOptions) { o.deferCompile = true }
}

// WithControlConfig replaces the library's default-config-inputs.json by
// FILE (Kubescape's --controls-config): a JSON file with
// settings.postureControlInputs, or a bare postureControlInputs object.
// Inputs it does not name keep the library's defaults.
func WithControlConfig(file string) Option {
	return func(o *loadOptions) { o.controlConfig = file }
}

// WithImageSignatures answers the cosign builtins.
func WithImageSignatures(s ImageSignatures) Option {
	return func(o *loadOptions) { o.sig = s }
}

// Load reads and compiles the library in dir. Every problem is reported,
// each naming its file: malformed JSON, Rego that does not parse or
// compile, a rule directory without its rule.metadata.json or raw.rego,
// a rule whose metadata names another rule.
func Load(dir string, opts ...Option) (*Library, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	l := &Library{Dir: dir, Controls: map[string]*Control{}, Rules: map[string]*Rule{}, sig: o.sig}
	var errs []error
	if err := l.loadFrameworks(); err != nil {
		errs = append(errs, err)
	}
	if err := l.loadControls(); err != nil {
		errs = append(errs, err)
	}
	if err := l.loadRules(); err != nil {
		errs = append(errs, err)
	} else if !o.deferCompile {
		if err := l.Compile(l.ruleNames()...); err != nil {
			errs = append(errs, err)
		}
	}
	inputs, err := readInputs(filepath.Join(dir, "default-config-inputs.json"), true)
	if err != nil {
		errs = append(errs, err)
	}
	if o.controlConfig != "" {
		override, err := readInputs(o.controlConfig, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("--control-config: %w", err))
		}
		if inputs == nil {
			inputs = map[string][]string{}
		}
		for k, v := range override {
			inputs[k] = v
		}
	}
	l.Inputs = inputs
	if len(errs) > 0 {
		return nil, fmt.Errorf("load library %s: %w", dir, errors.Join(errs...))
	}
	if len(l.Rules) == 0 && len(l.Controls) == 0 {
		return nil, fmt.Errorf("load library %s: no rules/ and no controls/: not a control library", dir)
	}
	return l, nil
}

// jsonFiles lists dir/*.json sorted; a missing dir is no files.
func jsonFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", file, jsonError(data, err))
	}
	return nil
}

// jsonError adds the line of a syntax error.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + strings.Count(string(data[:min(int(se.Offset), len(data))]), "\n")
		return fmt.Errorf("line %d: %w", line, err)
	}
	return err
}

func (l *Library) loadFrameworks() error {
	files, err := jsonFiles(filepath.Join(l.Dir, "frameworks"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		var raw struct {
			Name           string `json:"name"`
			Description    string `json:"description"`
			ActiveControls []struct {
				ControlID string `json:"controlID"`
			} `json:"activeControls"`
			ControlsNames []string `json:"controlsNames"`
		}
		if err := readJSON(f, &raw); err != nil {
			errs = append(errs, err)
			continue
		}
		if raw.Name == "" {
			errs = append(errs, fmt.Errorf("%s: framework without a name", f))
			continue
		}
		fw := &Framework{Name: raw.Name, Description: raw.Description, File: f}
		for _, c := range raw.ActiveControls {
			fw.Controls = append(fw.Controls, c.ControlID)
		}
		l.Frameworks = append(l.Frameworks, fw)
	}
	sort.Slice(l.Frameworks, func(i, j int) bool { return l.Frameworks[i].Name < l.Frameworks[j].Name })
	return errors.Join(errs...)
}

func (l *Library) loadControls() error {
	files, err := jsonFiles(filepath.Join(l.Dir, "controls"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		var raw struct {
			ControlID   string         `json:"controlID"`
			Name        string         `json:"name"`
			Description string         `json:"description"`
			Remediation string         `json:"remediation"`
			BaseScore   float64        `json:"baseScore"`
			RulesNames  []string       `json:"rulesNames"`
			Attributes  map[string]any `json:"attributes"`
		}
		if err := readJSON(f, &raw); err != nil {
			errs = append(errs, err)
			continue
		}
		if raw.ControlID == "" {
			errs = append(errs, fmt.Errorf("%s: control without a controlID", f))
			continue
		}
		if prev, ok := l.Controls[raw.ControlID]; ok {
			errs = append(errs, fmt.Errorf("%s: control %s is also defined in %s", f, raw.ControlID, prev.File))
			continue
		}
		action, _ := raw.Attributes["actionRequired"].(string)
		whole := false
		switch v := raw.Attributes[wholeClusterAttribute].(type) {
		case bool:
			whole = v
		case string:
			whole = strings.EqualFold(v, "true")
		}
		l.Controls[raw.ControlID] = &Control{ID: raw.ControlID, Name: raw.Name, Description: raw.Description,
			Remediation: raw.Remediation, BaseScore: raw.BaseScore, Severity: Severity(raw.BaseScore),
			Rules: raw.RulesNames, ManualReview: action == "manual review", WholeCluster: whole, File: f}
	}
	return errors.Join(errs...)
}

// Severity maps a control's baseScore to a severity as Kubescape does.
func Severity(baseScore float64) string {
	switch {
	case baseScore >= 9:
		return "critical"
	case baseScore >= 7:
		return "high"
	case baseScore >= 4:
		return "medium"
	case baseScore >= 1:
		return "low"
	}
	return "unknown"
}

func (l *Library) loadRules() error {
	root := filepath.Join(l.Dir, "rules")
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	helpers, err := parseHelpers()
	if err != nil {
		return err
	}
	rules := make([]*Rule, len(dirs))
	errs := make([]error, len(dirs))
	parallel(len(dirs), func(i int) { rules[i], errs[i] = loadRule(dirs[i], helpers) })
	for _, r := range rules {
		if r == nil {
			continue
		}
		if prev, ok := l.Rules[r.Name]; ok {
			errs = append(errs, fmt.Errorf("%s: rule %s is also defined in %s", r.Dir, r.Name, prev.Dir))
			continue
		}
		l.Rules[r.Name] = r
	}
	return errors.Join(errs...)
}

// parallel runs f(0) ... f(n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

// ruleNames returns the names of every rule, sorted.
func (l *Library) ruleNames() []string {
	names := make([]string, 0, len(l.Rules))
	for n := range l.Rules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// RulesOf returns the names of the rules the controls ids name and the
// library has, sorted, without duplicates.
func (l *Library) RulesOf(ids ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		c := l.Controls[id]
		if c == nil {
			continue
		}
		for _, rn := range c.Rules {
			if _, ok := l.Rules[rn]; ok && !seen[rn] {
				seen[rn] = true
				out = append(out, rn)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Compile compiles the named rules (their raw.rego and filter.rego) that
// are not compiled yet, in parallel, and reports every rule that does not
// compile, naming its file. Unknown names are ignored. Rules are compiled
// once: a rule Load compiled, or an earlier Compile, costs nothing.
func (l *Library) Compile(names ...string) error {
	errs := make([]error, len(names))
	parallel(len(names), func(i int) {
		if r := l.Rules[names[i]]; r != nil {
			errs[i] = r.compile()
		}
	})
	return errors.Join(errs...)
}

// compile builds the rule's compilers on first use; later calls return
// the first call's error.
func (r *Rule) compile() error {
	r.compileOnce.Do(func() {
		if r.raw, r.compileErr = compileRule(filepath.Join(r.Dir, "raw.rego"), r.rawModule, r.helpers); r.compileErr != nil {
			return
		}
		if r.filterModule != nil {
			r.filter, r.compileErr = compileRule(filepath.Join(r.Dir, "filter.rego"), r.filterModule, r.helpers)
		}
	})
	return r.compileErr
}

// loadRule reads and parses one rule directory.
func loadRule(dir string, helpers map[string]*ast.Module) (*Rule, error) {
	metaFile := filepath.Join(dir, "rule.metadata.json")
	var meta RuleMetadata
	if err := readJSON(metaFile, &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: rule without rule.metadata.json", dir)
		}
		return nil, err
	}
	if meta.Name == "" {
		return nil, fmt.Errorf("%s: rule without a name", metaFile)
	}
	if lang := strings.ToLower(meta.RuleLanguage); lang != "" && lang != "rego" {
		return nil, fmt.Errorf("%s: rule language %q is not supported (want Rego)", metaFile, meta.RuleLanguage)
	}
	r := &Rule{Name: meta.Name, Dir: dir, Metadata: meta, external: externalData(meta), helpers: helpers}
	rawFile := filepath.Join(dir, "raw.rego")
	raw, err := os.ReadFile(rawFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: rule %s without raw.rego", dir, meta.Name)
		}
		return nil, err
	}
	r.Raw = string(raw)
	if r.rawModule, err = parseRule(rawFile, r.Raw); err != nil {
		return nil, err
	}
	r.signatures = callsPrefix(r.rawModule, "cosign.")
	filterFile := filepath.Join(dir, "filter.rego")
	filter, err := os.ReadFile(filterFile)
	switch {
	case err == nil:
		r.Filter = string(filter)
		if r.filterModule, err = parseRule(filterFile, r.Filter); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return r, nil
}

// regoParser parses rules in Rego v0 syntax (modules importing rego.v1
// are v1), as Kubescape parses them.
var regoParser = ast.ParserOptions{RegoVersion: ast.RegoV0}

// parseHelpers parses the helper packages, once per Load: compilers copy
// the modules they are given.
func parseHelpers() (map[string]*ast.Module, error) {
	modules := map[string]*ast.Module{}
	for name, text := range helperModules() {
		m, err := ast.ParseModuleWithOpts(name+".rego", text, regoParser)
		if err != nil {
			return nil, fmt.Errorf("helper package %s: %w", name, err)
		}
		modules["helper:"+name] = m
	}
	return modules, nil
}

// parseRule parses a rule module, which must be package armo_builtins.
func parseRule(file, src string) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(file, src, regoParser)
	if err != nil {
		return nil, fmt.Errorf("%w", err) // OPA's errors name the file and line
	}
	if m.Package.Path.String() != "data.armo_builtins" {
		return nil, fmt.Errorf("%s: package %s, want armo_builtins", file, strings.TrimPrefix(m.Package.Path.String(), "data."))
	}
	return m, nil
}

// compileRule compiles a parsed rule module with the helper packages and
// the custom builtins, as Kubescape compiles it.
func compileRule(file string, m *ast.Module, helpers map[string]*ast.Module) (*ast.Compiler, error) {
	return compileRewritten(file, m, helpers, rewriteRule)
}

// rewriteRule returns a copy of m with compileRule's rewrites applied, in
// order (hoist.go, hoistdata.go); m is not changed.
func rewriteRule(m *ast.Module) *ast.Module {
	h := hoistClosedComprehensions(m)
	indexKindIterations(h)
	splitCalls(h)
	deferIterations(h)
	hoistDataIterations(h)
	return h
}

// compileRewritten compiles rewrite(m) with the helper packages and the
// custom builtins. The rewrites are there for speed only: should the
// rewritten module not compile, m is compiled as written, and when that
// fails too, its error is returned (the one its author can read). When
// the rewrite replaced builtin calls with portcullis.any_test, whose
// arguments the type checker cannot see through, m is compiled as written
// first: a rule with a type error is refused, as Kubescape refuses it,
// not run with the call failing at evaluation.
func compileRewritten(file string, m *ast.Module, helpers map[string]*ast.Module, rewrite func(*ast.Module) *ast.Module) (*ast.Compiler, error) {
	r := rewrite(m)
	if callsPrefix(r, declAnyTest.Name) && !callsPrefix(m, declAnyTest.Name) {
		if _, err := compileModule(file, m, helpers); err != nil {
			return nil, err
		}
	}
	c, err := compileModule(file, r, helpers)
	if err == nil {
		return c, nil
	}
	return compileModule(file, m, helpers)
}

// compileModule compiles m, named file, with helpers and the custom
// builtins (compilers copy the modules they are given).
func compileModule(file string, m *ast.Module, helpers map[string]*ast.Module) (*ast.Compiler, error) {
	modules := make(map[string]*ast.Module, len(helpers)+1)
	for k, h := range helpers {
		modules[k] = h
	}
	modules[file] = m
	caps := ast.CapabilitiesForThisVersion()
	for _, b := range builtinDecls() {
		caps.Builtins = append(caps.Builtins, b)
	}
	c := ast.NewCompiler().WithCapabilities(caps).WithDefaultRegoVersion(ast.RegoV0)
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("compile: %w", c.Errors)
	}
	return c, nil
}

// callsPrefix reports whether m calls a function whose name starts with
// prefix.
func callsPrefix(m *ast.Module, prefix string) bool {
	found := false
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if e.IsCall() && strings.HasPrefix(e.Operator().String(), prefix) {
			found = true
		}
		return found
	})
	return found
}

// externalData names what a rule needs beyond Kubernetes objects: objects
// of the host sensor (hostdata.kubescape.cloud, or any dynamicMatch),
// cloud provider APIs, or an image scanner. "" when it needs none.
func externalData(m RuleMetadata) string {
	groups := map[string]bool{}
	for _, mt := range append(append([]Match{}, m.Match...), m.DynamicMatch...) {
		for _, g := range mt.APIGroups {
			groups[g] = true
		}
	}
	var need []string
	for g := range groups {
		if what := externalGroup(g); what != "" {
			need = append(need, what)
		}
	}
	if len(need) == 0 && len(m.DynamicMatch) > 0 {
		need = append(need, "data outside the Kubernetes API")
	}
	sort.Strings(need)
	return strings.Join(slicesCompact(need), ", ")
}

// externalGroup describes the source of an API group Kubernetes does not
// serve, "" for the others.
func externalGroup(g string) string {
	switch {
	case strings.HasSuffix(g, "kubescape.cloud"):
		return "host sensor data (" + g + ")"
	case g == "management.azure.com", g == "eks.amazonaws.com", g == "container.googleapis.com",
		strings.HasSuffix(g, ".amazonaws.com"), strings.HasSuffix(g, ".googleapis.com"), strings.HasSuffix(g, ".azure.com"):
		return "cloud provider API (" + g + ")"
	case g == "armo.vuln.images", g == "image.vulnscan.com":
		return "image vulnerability scan (" + g + ")"
	}
	return ""
}

func slicesCompact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// readInputs reads postureControlInputs from a Kubescape configuration
// file (settings.postureControlInputs) or a bare {"postureControlInputs":
// ...}. A missing library default (library true) is no inputs; a missing
// --control-config file is an error.
func readInputs(file string, library bool) (map[string][]string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && !library {
		return nil, err
	}
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]string{}, nil // a library may have none
	}
	if err != nil {
		return nil, err
	}
	var doc struct {
		Settings struct {
			PostureControlInputs map[string][]string `json:"postureControlInputs"`
		} `json:"settings"`
		PostureControlInputs map[string][]string `json:"postureControlInputs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, jsonError(data, err))
	}
	out := doc.Settings.PostureControlInputs
	if out == nil {
		out = doc.PostureControlInputs
	}
	if out == nil {
		return nil, fmt.Errorf("%s: no settings.postureControlInputs", file)
	}
	return out, nil
}

// Catalog metadata.

// Framework returns the framework named name (case-insensitive; "nsa"
// also finds "NSA"), or nil.
func (l *Library) Framework(name string) *Framework {
	for _, f := range l.Frameworks {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// ControlIDs returns every control ID, sorted.
func (l *Library) ControlIDs() []string {
	ids := make([]string, 0, len(l.Controls))
	for id := range l.Controls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
