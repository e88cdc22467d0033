package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// KindGeneratingPolicy is the PolicyKind of GeneratingPolicy results.
const KindGeneratingPolicy = policy.KindGeneratingPolicy

// GeneratedObjects decodes Result.Generated: the objects a generate rule or
// GeneratingPolicy wants to exist (nil when none).
func (r Result) GeneratedObjects() ([]map[string]any, error) {
	if r.Generated == "" {
		return nil, nil
	}
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.Generated), &out); err != nil {
		return nil, fmt.Errorf("decode generated objects of %s/%s: %w", r.Policy, r.Rule, err)
	}
	return out, nil
}

// generateRule evaluates generate bodies (PhaseGenerate): the objects the
// rule wants, with variables substituted and clone sources read through
// Input.Resources, in Result.Generated. Creating them is the caller's job
// (internal/generate).
type generateRule struct{}

func (generateRule) handles(r *policy.Rule) bool { return r.Generate != nil }

func (generateRule) process(ctx context.Context, e *Engine, ev *evaluation, r *policy.Rule, out []Result) []Result {
	req, in := ev.req, ev.in
	res := ruleResult(r, req)
	c := ev.vars(ctx, e)
	c.Checkpoint()
	defer c.Restore()
	var values map[string]any
	if in.Values != nil {
		values = in.Values.For(r.Policy.Name(), r.Name(), req.name)
		if err := applyValues(c, values); err != nil {
			return append(out, res.with(StatusError, fmt.Sprintf("invalid values: %v", err), ""))
		}
	}
	if err := e.loadContext(ctx, c, r.Spec.Context, values, in.Cluster); err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to load context: %v", err), ""))
	}
	ok, err := checkPreconditions(c, r.Spec.Preconditions)
	if err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), ""))
	}
	if !ok {
		return append(out, res.with(StatusSkip, "preconditions not met", ""))
	}
	g := &generator{e: e, c: c, in: in, rule: r}
	var objs []map[string]any
	if len(r.Generate.Spec.ForEach) == 0 {
		objs, err = g.pattern(ctx, r.Generate.Spec.GeneratePattern)
	} else {
		objs, err = g.forEach(ctx, r.Generate.Spec.ForEach, values)
	}
	if err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to generate resource: %v", err), ""))
	}
	if len(objs) == 0 {
		return append(out, res.with(StatusSkip, "nothing to generate", ""))
	}
	data, err := json.Marshal(objs)
	if err != nil {
		return append(out, res.with(StatusError, fmt.Sprintf("failed to encode generated resources: %v", err), ""))
	}
	res = res.with(StatusPass, fmt.Sprintf("generated %s", describe(objs)), "")
	res.Generated = string(data)
	return append(out, res)
}

// describe names generated objects for a message: "ConfigMap ns/name".
func describe(objs []map[string]any) string {
	parts := make([]string, 0, len(objs))
	for _, o := range objs {
		meta, _ := o["metadata"].(map[string]any)
		kind, _ := o["kind"].(string)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		if ns != "" {
			name = ns + "/" + name
		}
		parts = append(parts, kind+" "+name)
	}
	return strings.Join(parts, ", ")
}

// generator computes the objects of one generate rule.
type generator struct {
	e    *Engine
	c    *variables.Context
	in   *Input
	rule *policy.Rule
}

func (g *generator) forEach(ctx context.Context, list []kyvernov1.ForEachGeneration, values map[string]any) ([]map[string]any, error) {
	var out []map[string]any
	for i, fe := range list {
		v := &validator{e: g.e, c: g.c}
		elements, err := v.evaluateList(fe.List)
		if err != nil {
			return nil, fmt.Errorf("foreach[%d]: list %q: %w", i, fe.List, err)
		}
		for j, el := range elements {
			objs, err := g.element(ctx, fe, el, j, values)
			if err != nil {
				return nil, fmt.Errorf("foreach[%d] element %d: %w", i, j, err)
			}
			out = append(out, objs...)
		}
	}
	return out, nil
}

func (g *generator) element(ctx context.Context, fe kyvernov1.ForEachGeneration, el any, index int, values map[string]any) ([]map[string]any, error) {
	g.c.Checkpoint()
	defer g.c.Restore()
	g.c.SetElement(el, index, 0)
	if err := g.e.loadContext(ctx, g.c, fe.Context, values, g.in.Cluster); err != nil {
		return nil, fmt.Errorf("failed to load context: %w", err)
	}
	ok, err := checkPreconditions(g.c, fe.Preconditions)
	if err != nil {
		return nil, fmt.Errorf("failed to evaluate preconditions: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return g.pattern(ctx, fe.GeneratePattern)
}

// str substitutes the variables of one string field.
func (g *generator) str(field, s string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	v, err := variables.Substitute(g.c, s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	}
	return fmt.Sprint(v), nil
}

// pattern computes the objects of one generate target.
func (g *generator) pattern(ctx context.Context, p kyvernov1.GeneratePattern) ([]map[string]any, error) {
	apiVersion, err := g.str("apiVersion", p.APIVersion)
	if err != nil {
		return nil, err
	}
	kind, err := g.str("kind", p.Kind)
	if err != nil {
		return nil, err
	}
	ns, err := g.str("namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	name, err := g.str("name", p.Name)
	if err != nil {
		return nil, err
	}
	if apiVersion == "" {
		apiVersion = "v1"
	}
	switch {
	case p.Data != nil:
		data, err := variables.Substitute(g.c, p.Data)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		obj, ok := deepCopyJSON(data).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("data is not an object")
		}
		return []map[string]any{target(obj, apiVersion, kind, ns, name)}, nil
	case p.Clone != nil:
		srcNS, err := g.str("clone.namespace", p.Clone.Namespace)
		if err != nil {
			return nil, err
		}
		srcName, err := g.str("clone.name", p.Clone.Name)
		if err != nil {
			return nil, err
		}
		src, err := g.get(ctx, apiVersion, kind, srcNS, srcName)
		if err != nil {
			return nil, err
		}
		return []map[string]any{target(cloneOf(src, apiVersion, kind), apiVersion, kind, ns, name)}, nil
	case p.CloneList != nil:
		srcNS, err := g.str("cloneList.namespace", p.CloneList.Namespace)
		if err != nil {
			return nil, err
		}
		var sel labels.Selector = labels.Everything()
		if p.CloneList.Selector != nil {
			s, err := metav1.LabelSelectorAsSelector(p.CloneList.Selector)
			if err != nil {
				return nil, fmt.Errorf("cloneList.selector: %w", err)
			}
			sel = s
		}
		var out []map[string]any
		for _, k := range p.CloneList.Kinds {
			av, kd := "v1", k
			if i := strings.LastIndex(k, "/"); i >= 0 {
				av, kd = k[:i], k[i+1:]
			}
			srcs, err := g.list(ctx, av, kd, srcNS)
			if err != nil {
				return nil, err
			}
			for _, src := range srcs {
				meta, _ := src["metadata"].(map[string]any)
				if !sel.Matches(labels.Set(stringMap(meta["labels"]))) {
					continue
				}
				srcName, _ := meta["name"].(string)
				out = append(out, target(cloneOf(src, av, kd), av, kd, ns, srcName))
			}
		}
		return out, nil
	}
	return nil, errors.New("generate has no data, clone or cloneList")
}

// get reads a clone source through Input.Resources.
func (g *generator) get(ctx context.Context, apiVersion, kind, ns, name string) (map[string]any, error) {
	if g.in.Resources == nil {
		return nil, fmt.Errorf("source %s %s/%s: no resource lookup available", kind, ns, name)
	}
	info := kinds.Lookup(apiVersion, kind)
	if !info.Namespaced {
		ns = ""
	}
	obj, err := g.in.Resources.Get(ctx, apiVersion, info.Resource, ns, name)
	if err != nil {
		if errors.Is(err, cel.ErrNotFound) {
			return nil, fmt.Errorf("source resource %s %s/%s not found", kind, ns, name)
		}
		return nil, fmt.Errorf("source %s %s/%s: %w", kind, ns, name, err)
	}
	return obj, nil
}

func (g *generator) list(ctx context.Context, apiVersion, kind, ns string) ([]map[string]any, error) {
	if g.in.Resources == nil {
		return nil, fmt.Errorf("sources %s in %s: no resource lookup available", kind, ns)
	}
	info := kinds.Lookup(apiVersion, kind)
	objs, err := g.in.Resources.List(ctx, apiVersion, info.Resource, ns)
	if err != nil && !errors.Is(err, cel.ErrNotFound) {
		return nil, fmt.Errorf("sources %s in %s: %w", kind, ns, err)
	}
	return objs, nil
}

// target sets the identity of a generated object: apiVersion, kind, name
// and (when given) namespace.
func target(obj map[string]any, apiVersion, kind, ns, name string) map[string]any {
	obj["apiVersion"] = apiVersion
	obj["kind"] = kind
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = name
	if ns != "" {
		meta["namespace"] = ns
	} else {
		delete(meta, "namespace")
	}
	obj["metadata"] = meta
	return obj
}

// Labels naming the source of a clone, as Kyverno sets them.
const (
	LabelSourceGroup     = "generate.kyverno.io/source-group"
	LabelSourceVersion   = "generate.kyverno.io/source-version"
	LabelSourceKind      = "generate.kyverno.io/source-kind"
	LabelSourceNamespace = "generate.kyverno.io/source-namespace"
	LabelSourceName      = "generate.kyverno.io/source-name"
)

// cloneOf copies a clone source without what the API server owns:
// status, and every metadata field but labels and annotations (Kyverno
// keeps those), and adds the source-* labels naming the source (the other
// generate labels are added by internal/generate).
func cloneOf(src map[string]any, apiVersion, kind string) map[string]any {
	obj := deepCopyJSON(src).(map[string]any)
	delete(obj, "status")
	meta, _ := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	group, version := kinds.GroupVersion(apiVersion)
	srcNS, _ := meta["namespace"].(string)
	srcName, _ := meta["name"].(string)
	labels[LabelSourceGroup], labels[LabelSourceVersion], labels[LabelSourceKind] = group, version, kind
	labels[LabelSourceNamespace], labels[LabelSourceName] = srcNS, srcName
	meta["labels"] = labels
	keep := map[string]any{}
	for _, k := range []string{"labels", "annotations"} {
		if v, ok := meta[k]; ok {
			keep[k] = v
		}
	}
	if a, ok := keep["annotations"].(map[string]any); ok {
		delete(a, "kubectl.kubernetes.io/last-applied-configuration")
		if len(a) == 0 {
			delete(keep, "annotations")
		}
	}
	obj["metadata"] = keep
	return obj
}

func deepCopyJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = deepCopyJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = deepCopyJSON(x)
		}
		return out
	}
	return v
}

// generatingPolicies evaluates GeneratingPolicies (PhaseGenerate).
type generatingPolicies struct{}

func (generatingPolicies) evaluate(ctx context.Context, e *Engine, ev *evaluation) ([]Result, error) {
	if len(ev.set.Generating) == 0 {
		return nil, nil
	}
	req := ev.req
	mreq := matchRequest(req)
	var out []Result
	for _, gp := range ev.set.Generating {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("evaluate %s: %w", req.kind, err)
		}
		if !gp.Match.Matches(mreq) {
			continue
		}
		res := Result{Policy: gp.Name(), PolicyKind: KindGeneratingPolicy, Resource: req.resource(),
			Severity: gp.Severity, Category: gp.Category}
		cin := ev.celInput()
		m, err := gp.Program.Match(ctx, *cin)
		switch {
		case err != nil:
			out = append(out, res.with(StatusError, fmt.Sprintf("failed to evaluate matchConditions: %v", err), ""))
			continue
		case !m.Matches:
			continue
		}
		objs, err := gp.Program.Generate(ctx, *cin)
		if err != nil {
			out = append(out, res.with(StatusError, fmt.Sprintf("failed to generate resources: %v", err), ""))
			continue
		}
		if len(objs) == 0 {
			out = append(out, res.with(StatusSkip, "nothing to generate", ""))
			continue
		}
		data, err := json.Marshal(objs)
		if err != nil {
			out = append(out, res.with(StatusError, fmt.Sprintf("failed to encode generated resources: %v", err), ""))
			continue
		}
		res = res.with(StatusPass, fmt.Sprintf("generated %s", describe(objs)), "")
		res.Generated = string(data)
		out = append(out, res)
	}
	return out, nil
}
