package kubescape

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Data is what a rule reads under data: the control configuration inputs
// (data.postureControlInputs) and the inputs the scanner supplies itself
// (data.dataControlInputs: cloudProvider).
type Data struct {
	PostureControlInputs map[string][]string `json:"postureControlInputs"`
	DataControlInputs    map[string]string   `json:"dataControlInputs"`
}

func (d Data) store() storage.Store {
	return inmem.NewFromObject(map[string]any{
		"postureControlInputs": d.PostureControlInputs,
		"dataControlInputs":    d.DataControlInputs,
	})
}

// packageQuery is what every rule is asked: its whole package. As in
// Kubescape, every rule of the package (deny, or any other name) holds
// responses.
const packageQuery = "data.armo_builtins"

// prepare builds the query of one compiled rule module over data.
func (l *Library) prepare(ctx context.Context, c *ast.Compiler, d Data) (rego.PreparedEvalQuery, error) {
	opts := []func(*rego.Rego){
		rego.Query(packageQuery),
		rego.Compiler(c),
		rego.Store(d.store()),
		rego.SetRegoVersion(ast.RegoV0),
	}
	opts = append(opts, builtinOptions(l.sig)...)
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return rego.PreparedEvalQuery{}, fmt.Errorf("prepare query: %w", err)
	}
	return pq, nil
}

// evalPrepared runs a prepared rule on input (an ast array of objects).
// Evaluation stops when ctx is done. With strip, the Kubernetes objects of
// the responses keep only what reportFields keeps.
func evalPrepared(ctx context.Context, pq rego.PreparedEvalQuery, input ast.Value, strip bool) ([]Response, error) {
	// The package's value is read into responses where OPA gives it,
	// without its conversion into Go values: that conversion of whole
	// objects was a third of a scan's allocations.
	rs, err := pq.Eval(ctx, rego.EvalParsedInput(input), rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) {
		rs, err := packageResponses(t.Value, strip)
		return evaluated{rs, err}, nil
	}))
	if err != nil {
		var te *topdown.Error
		if errors.As(err, &te) && te.Code == topdown.CancelErr {
			if cerr := ctx.Err(); cerr != nil {
				return nil, fmt.Errorf("evaluation stopped: %w", cerr)
			}
		}
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	e, ok := rs[0].Expressions[0].Value.(evaluated)
	if !ok {
		return nil, fmt.Errorf("the query gave %T, not the package's responses", rs[0].Expressions[0].Value)
	}
	return e.responses, e.err
}

// evaluated is what a query's result is converted to: the package's
// responses.
type evaluated struct {
	responses []Response
	err       error
}

// packageResponses collects the responses of every rule of the package
// value v, in rule name order, leaving out the rules the compiler added
// (hoisted). A rule whose value is not a list of responses is an error,
// as it is for Kubescape.
func packageResponses(v ast.Value, strip bool) ([]Response, error) {
	pkg, ok := v.(ast.Object)
	if !ok {
		return nil, nil
	}
	type rule struct {
		name  string
		value ast.Value
	}
	rules := make([]rule, 0, pkg.Len())
	err := pkg.Iter(func(k, x *ast.Term) error {
		name, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("package value has a non-string key %v", k)
		}
		if !hoisted(string(name)) {
			rules = append(rules, rule{string(name), x.Value})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("convert responses: %w", err)
	}
	slices.SortFunc(rules, func(a, b rule) int { return strings.Compare(a.name, b.name) })
	var out []Response
	var errs []error
	for _, r := range rules {
		rs, ok := valueResponses(r.value, strip)
		if !ok {
			rs, err = jsonResponses(r.value, strip)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.name, err))
			continue
		}
		out = append(out, rs...)
	}
	return out, errors.Join(errs...)
}

// EvalRule evaluates the rule's raw.rego (filter false) or filter.rego
// (filter true) on objects with data, as the library's test runner does:
// objects go in as given, in order, after the rule's aggregator; the
// responses' Kubernetes objects are stripped as Kubescape strips them.
func (l *Library) EvalRule(ctx context.Context, r *Rule, objects []map[string]any, d Data, filter bool) ([]Response, error) {
	if err := r.compile(); err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	c := r.raw
	if filter {
		if r.filter == nil {
			return nil, fmt.Errorf("rule %s has no filter.rego", r.Name)
		}
		c = r.filter
	}
	pq, err := l.prepare(ctx, c, d)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	input, err := inputValue(aggregate(r, envelopes(objects)), nil)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	rs, err := evalPrepared(ctx, pq, input, false)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	keepFields(rs)
	return rs, nil
}

// inputValue is the ast array of objects; conv, when set, converts (and
// may cache) one object.
func inputValue(objs []map[string]any, conv func(map[string]any) (ast.Value, error)) (ast.Value, error) {
	terms := make([]*ast.Term, len(objs))
	for i, o := range objs {
		var v ast.Value
		var err error
		if conv != nil {
			v, err = conv(o)
		} else {
			v, err = ast.InterfaceToValue(o)
		}
		if err != nil {
			return nil, fmt.Errorf("input object %d: %w", i, err)
		}
		terms[i] = ast.NewTerm(v)
	}
	return ast.NewArray(terms...), nil
}

// Aggregators (rule attribute resourcesAggregator), as Kubescape's.
const (
	aggregatorAttribute   = "resourcesAggregator"
	aggregateSubjects     = "subject-role-rolebinding"
	aggregateAPIServerPod = "apiserver-pod"
	relatedObjectsKey     = "relatedObjects"
)

// aggregates reports whether r has an aggregator: its input is made of
// its objects rather than the objects themselves.
func aggregates(r *Rule) bool {
	switch how, _ := r.Metadata.Attributes[aggregatorAttribute].(string); how {
	case aggregateSubjects, aggregateAPIServerPod:
		return true
	}
	return false
}

// aggregate turns a rule's objects into its input: unchanged, or one object
// per subject of each (binding, role) pair, or the API server Pod.
func aggregate(r *Rule, objs []map[string]any) []map[string]any {
	how, _ := r.Metadata.Attributes[aggregatorAttribute].(string)
	switch how {
	case aggregateSubjects:
		return aggregateBySubjects(objs)
	case aggregateAPIServerPod:
		for _, o := range objs {
			md, _ := o["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			ns, _ := md["namespace"].(string)
			if o["kind"] == "Pod" && ns == "kube-system" && (strings.Contains(name, "apiserver") || strings.Contains(name, "api-server")) {
				return []map[string]any{o}
			}
		}
		return nil
	}
	return objs
}

func aggregateBySubjects(objs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, b := range objs {
		bk, _ := b["kind"].(string)
		if !strings.HasSuffix(bk, "Binding") {
			continue
		}
		ref, _ := b["roleRef"].(map[string]any)
		refKind, ok1 := ref["kind"].(string)
		refName, ok2 := ref["name"].(string)
		if !ok1 || !ok2 {
			continue
		}
		for _, role := range objs {
			rk, _ := role["kind"].(string)
			if !strings.HasSuffix(rk, "Role") || rk != refKind {
				continue
			}
			md, _ := role["metadata"].(map[string]any)
			if name, _ := md["name"].(string); name != refName {
				continue
			}
			subjects, _ := b["subjects"].([]any)
			for _, s := range subjects {
				sm, ok := s.(map[string]any)
				if !ok {
					continue
				}
				cp := deepCopy(sm).(map[string]any)
				cp[relatedObjectsKey] = []any{b, role}
				out = append(out, cp)
			}
		}
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// matches reports whether obj is selected by one of ms: its API group and
// version and its kind listed ("*" for any).
func matches(ms []Match, obj map[string]any) bool {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	for _, m := range ms {
		if anyOf(m.APIGroups, group) && anyOf(m.APIVersions, version) && anyOf(m.Resources, kind) {
			return true
		}
	}
	return false
}

func anyOf(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}

// hostSensorGroup is the API group of the host sensor's objects.
const hostSensorGroup = "hostdata.kubescape.cloud"

// envelopes returns objects as Kubescape hands them to rules: host sensor
// objects are reduced to their envelope (apiVersion, kind, metadata.name,
// data), others are unchanged.
func envelopes(objs []map[string]any) []map[string]any {
	var out []map[string]any
	for i, o := range objs {
		e, changed := envelope(o)
		if out == nil && changed {
			out = append(make([]map[string]any, 0, len(objs)), objs[:i]...)
		}
		if out != nil {
			out = append(out, e)
		}
	}
	if out == nil {
		return objs
	}
	return out
}

// isHostSensor reports whether o is an object of the host sensor (one
// envelope reduces).
func isHostSensor(o map[string]any) bool {
	apiVersion, _ := o["apiVersion"].(string)
	group, _, _ := strings.Cut(apiVersion, "/")
	return group == hostSensorGroup
}

// envelope returns o as a rule sees it, and whether that differs from o.
func envelope(o map[string]any) (map[string]any, bool) {
	if !isHostSensor(o) {
		return o, false
	}
	apiVersion, _ := o["apiVersion"].(string)
	kind, _ := o["kind"].(string)
	md, _ := o["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
		"data":       o["data"],
	}, true
}
