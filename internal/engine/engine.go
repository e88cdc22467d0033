package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/lang/jmespath"
	"github.com/portcullis/portcullis/internal/lang/pattern"
	"github.com/portcullis/portcullis/internal/lang/variables"
	"github.com/portcullis/portcullis/internal/policy"
)

// Engine evaluates resources against policy sets. It is safe for
// concurrent use; create one per process.
type Engine struct {
	jp      *jmespath.Interpreter
	images  ImageRuleVerifier
	cips    ImagePolicyVerifier
	cipOpts ImagePolicyOptions
	// handlers are the policy handlers of each phase (see handler).
	handlers map[Phase][]handler
}

// Option configures an Engine.
type Option func(*Engine)

// WithInterpreter sets the JMESPath interpreter (default jmespath.New()).
func WithInterpreter(jp *jmespath.Interpreter) Option {
	return func(e *Engine) { e.jp = jp }
}

// New returns an Engine.
func New(opts ...Option) *Engine {
	e := &Engine{}
	for _, o := range opts {
		o(e)
	}
	if e.jp == nil {
		e.jp = jmespath.New()
	}
	e.handlers = phaseHandlers()
	return e
}

// ErrNoResource is returned when an Input has neither Resource nor OldResource.
var ErrNoResource = errors.New("input has no resource")

// Evaluate decides one resource against every policy of set that applies
// to it, through the handlers of in.Phase (Kyverno rules by rule type,
// ValidatingPolicies, ValidatingAdmissionPolicies, ClusterImagePolicies),
// and returns one Result per applied rule (rules that do not match the
// resource produce no result). It returns an error for an unusable input
// or when ctx is done (with the results so far); rule-level problems are
// results with StatusError.
func (e *Engine) Evaluate(ctx context.Context, set *policy.Set, in Input) ([]Result, error) {
	obj := in.Resource
	if obj == nil {
		obj = in.OldResource
	}
	if obj == nil {
		return nil, ErrNoResource
	}
	req := newRequest(obj, &in)
	if req.kind == "" {
		return nil, fmt.Errorf("resource has no kind")
	}
	ev := &evaluation{set: set, in: &in, req: req}
	var results []Result
	for _, h := range e.handlers[in.Phase] {
		out, err := h.evaluate(ctx, e, ev)
		if results == nil {
			results = out // most resources get results from one handler: no copy
		} else {
			results = append(results, out...)
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func applied(s Status) bool {
	return s == StatusPass || s == StatusFail || s == StatusWarn
}

func newRequest(obj map[string]any, in *Input) *request {
	meta, _ := obj["metadata"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	op := in.Operation
	if op == "" {
		op = "CREATE"
	}
	return &request{
		apiVersion:      str(obj, "apiVersion"),
		kind:            str(obj, "kind"),
		name:            str(meta, "name"),
		namespace:       str(meta, "namespace"),
		subresource:     in.Subresource,
		operation:       op,
		labels:          stringMap(meta["labels"]),
		annotations:     stringMap(meta["annotations"]),
		namespaceLabels: in.NamespaceLabels,
		user:            in.UserInfo,
	}
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		} else {
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// searchFunc adapts a function to variables.Searcher.
type searchFunc func(expr string, data any) (any, error)

// Search implements variables.Searcher.
func (f searchFunc) Search(expr string, data any) (any, error) { return f(expr, data) }

// newContext returns the variable context of one evaluation; its JMESPath
// queries stop when ctx ends (and at the interpreter's cost budget).
func (e *Engine) newContext(ctx context.Context, in *Input, req *request) *variables.Context {
	c := variables.NewContext(searchFunc(func(expr string, data any) (any, error) {
		return e.jp.SearchContext(ctx, expr, data)
	}))
	vreq := variables.Request{
		Operation:    req.operation,
		Object:       in.Resource,
		OldObject:    in.OldResource,
		Roles:        in.UserInfo.Roles,
		ClusterRoles: in.UserInfo.ClusterRoles,
	}
	if in.UserInfo.Username != "" || len(in.UserInfo.Groups) > 0 {
		vreq.UserInfo = &variables.UserInfo{Username: in.UserInfo.Username, UID: in.UserInfo.UID, Groups: in.UserInfo.Groups}
	}
	c.SetRequest(vreq)
	return c
}

// evalRule evaluates one applicable rule.
func (e *Engine) evalRule(ctx context.Context, r *policy.Rule, ev *evaluation, c *variables.Context, cin *cel.Input) Result {
	in, req := ev.in, ev.req
	res := ruleResult(r, req)
	c.Checkpoint()
	defer c.Restore()
	var values map[string]any
	if in.Values != nil {
		values = in.Values.For(r.Policy.Name(), r.Name(), req.name)
		if err := applyValues(c, values); err != nil {
			return res.with(StatusError, fmt.Sprintf("invalid values: %v", err), "")
		}
	}
	if err := e.loadContext(ctx, c, r.Spec.Context, values, in.Cluster); err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to load context: %v", err), "")
	}
	ok, err := checkPreconditions(c, r.Spec.Preconditions)
	if err != nil {
		return res.with(StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), "")
	}
	if !ok {
		return res.with(StatusSkip, "preconditions not met", "")
	}
	// PolicyExceptions are checked once the rule's context and
	// preconditions are in, as Kyverno's rule handlers do.
	xs := ruleExceptions(ev.set, r, in, req, c)
	if full := fullExemption(r, xs); len(full) > 0 {
		return exempted(res, full)
	}
	v := &validator{e: e, rule: r, c: c, resource: in.Resource, values: values, cluster: in.Cluster,
		deleting: req.operation == "DELETE" || in.Resource == nil}
	if cin != nil {
		v.cin = *cin
	}
	var out outcome
	if len(xs) > 0 {
		// Only podSecurity exclusions: the other controls still apply.
		var skipped bool
		if out, skipped = v.podSecurityExempted(xs); skipped {
			res.Exceptions = exceptionKeys(xs)
		}
	} else {
		out = v.validate(ctx, r.Spec.Validation, r.Pattern, r.AnyPatterns)
	}
	if out.status == StatusFail && !r.Policy.Scored {
		out.status = StatusWarn
	}
	return res.with(out.status, out.msg, out.path)
}

// ruleResult is the Result of Kyverno rule r on req, before its outcome.
func ruleResult(r *policy.Rule, req *request) Result {
	return Result{
		Policy:      r.Policy.Key(),
		PolicyKind:  r.Policy.Kind(),
		Rule:        r.Name(),
		Resource:    req.resource(),
		Severity:    r.Policy.Severity,
		Category:    r.Policy.Category,
		Enforce:     r.FailureAction == policy.Enforce,
		Autogen:     r.Autogen != "",
		Control:     r.Policy.Control,
		Remediation: r.Policy.Remediation,
	}
}

func (r Result) with(s Status, msg, path string) Result {
	r.Status, r.Message, r.Path = s, msg, path
	return r
}

// applyValues sets externally supplied variables in the context.
func applyValues(c *variables.Context, values map[string]any) error {
	for k, v := range values {
		if err := c.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// loadContext evaluates the rule's context entries in order. Entries
// whose name a values file supplies are taken from there. configMap and
// apiCall entries are read from cluster when it is given (admission, see
// Input.Cluster); offline (cluster nil) they are left to values, as
// imageRegistry and globalReference entries always are.
func (e *Engine) loadContext(ctx context.Context, c *variables.Context, entries []kyvernov1.ContextEntry, values map[string]any, cluster cel.ResourceStore) error {
	for _, ce := range entries {
		if _, given := values[ce.Name]; given {
			continue
		}
		var val any
		var err error
		switch {
		case ce.Variable != nil:
			val, err = e.loadVariable(ctx, c, ce)
		case ce.ConfigMap != nil && cluster != nil:
			val, err = loadConfigMap(ctx, c, ce.ConfigMap, cluster)
		case ce.APICall != nil && cluster != nil:
			val, err = e.loadAPICall(ctx, c, ce.APICall, cluster)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("context entry %q: %w", ce.Name, err)
		}
		if err := c.Replace(ce.Name, val); err != nil {
			return fmt.Errorf("context entry %q: %w", ce.Name, err)
		}
	}
	return nil
}

func (e *Engine) loadVariable(ctx context.Context, c *variables.Context, ce kyvernov1.ContextEntry) (any, error) {
	v := ce.Variable
	path := ""
	if v.JMESPath != "" {
		p, err := variables.Substitute(c, v.JMESPath)
		if err != nil {
			return nil, fmt.Errorf("substitute variables in jmesPath %q: %w", v.JMESPath, err)
		}
		s, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("jmesPath %q did not resolve to a string", v.JMESPath)
		}
		path = s
	}
	var def any
	if v.Default != nil {
		d, err := variables.Substitute(c, v.Default)
		if err != nil {
			return nil, fmt.Errorf("substitute variables in default: %w", err)
		}
		def = d
	}
	var out any
	if v.Value != nil {
		val, err := variables.Substitute(c, v.Value)
		if err != nil {
			return nil, fmt.Errorf("substitute variables in value: %w", err)
		}
		if path != "" {
			r, err := e.jp.SearchContext(ctx, path, val)
			if err != nil {
				if def == nil {
					return nil, fmt.Errorf("apply jmesPath %q: %w", path, err)
				}
			} else {
				out = r
			}
		} else {
			out = val
		}
	} else if path != "" {
		r, err := c.Query(path)
		if err != nil {
			if def == nil {
				return nil, fmt.Errorf("query %q: %w", path, err)
			}
		} else {
			out = r
		}
	}
	if out == nil {
		out = def
	}
	if out == nil && v.Value == nil && path == "" {
		return nil, fmt.Errorf("variable has no value")
	}
	return out, nil
}

// checkPreconditions substitutes variables and evaluates the block. As in
// current Kyverno, an unresolved variable is an error (older Kyverno
// versions substituted ""). A nil block holds.
func checkPreconditions(c *variables.Context, raw any) (bool, error) {
	if raw == nil {
		return true, nil
	}
	ok, _, subErr, err := checkConditions(c, raw)
	if subErr != nil {
		return false, subErr
	}
	return ok, err
}

// outcome is a validation result before it becomes a Result.
type outcome struct {
	status Status
	msg    string
	path   string
}

// validator evaluates one rule's validate body.
type validator struct {
	cin      cel.Input
	e        *Engine
	rule     *policy.Rule
	c        *variables.Context
	resource map[string]any
	values   map[string]any
	// cluster answers configMap and apiCall context entries (nil offline).
	cluster cel.ResourceStore
	// located is set once a failing foreach element's path has been
	// made a path in the resource (see elementPath).
	located bool
	// deleting is set for a DELETE request: Kyverno does not validate
	// patterns or podSecurity against the deleted resource.
	deleting bool
}

func (v *validator) validate(ctx context.Context, val *kyvernov1.Validation, pre *pattern.Pattern, preAny []*pattern.Pattern) outcome {
	switch {
	case val.Deny != nil:
		return v.deny(val.Deny, true)
	case val.Pattern != nil || val.AnyPattern != nil:
		if v.deleting {
			// Kyverno substitutes the variables, then skips the deleted
			// resource without a response.
			p := val.Pattern
			if p == nil {
				p = val.AnyPattern
			}
			if _, err := variables.Substitute(v.c, p); err != nil {
				return outcome{StatusError, fmt.Sprintf("variable substitution failed for rule %s: %v", v.rule.Name(), err), ""}
			}
			return outcome{}
		}
		return v.patterns(v.resource, val.Pattern, val.AnyPattern, pre, preAny, pattern.Options{})
	case len(val.ForEach) > 0:
		return v.forEach(ctx, val.ForEach, 0)
	case val.PodSecurity != nil:
		if v.deleting {
			return outcome{}
		}
		return v.podSecurity()
	case val.CEL != nil:
		return v.celRule(ctx)
	default:
		return outcome{StatusError, "rule has no supported validate body", ""}
	}
}

func (v *validator) ruleMessage() string { return v.rule.Spec.Validation.Message }

// passMessage is the message of a validate rule that passed.
func passMessage(rule string) string { return "validation rule '" + rule + "' passed." }

// deny evaluates deny conditions. passMsg asks for the message of a pass,
// which a foreach element's result does not carry (one string fewer per
// element and rule).
func (v *validator) deny(d *kyvernov1.Deny, passMsg bool) outcome {
	denied, condMsg, subErr, err := checkConditions(v.c, d.Conditions)
	if subErr != nil {
		return outcome{StatusError, fmt.Sprintf("failed to substitute variables in deny conditions: %v", subErr), ""}
	}
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to check deny conditions: %v", err), ""}
	}
	if !denied {
		if !passMsg {
			return outcome{status: StatusPass}
		}
		return outcome{StatusPass, passMessage(v.rule.Name()), ""}
	}
	msg := v.ruleMessage()
	switch {
	case msg == "" && condMsg == "":
		msg = fmt.Sprintf("validation error: rule %s failed", v.rule.Name())
	case msg == "":
		msg = condMsg
	default:
		msg = v.substituteMessage(msg)
	}
	return outcome{StatusFail, msg, ""}
}

func (v *validator) substituteMessage(msg string) string {
	if !strings.Contains(msg, "{{") {
		return msg
	}
	out, err := variables.Substitute(v.c, msg)
	if err != nil {
		return msg
	}
	if s, ok := out.(string); ok {
		return s
	}
	return fmt.Sprint(out)
}

// patterns validates resource against pattern or anyPattern, substituting
// variables first when the rule has them.
func (v *validator) patterns(resource map[string]any, pat, anyPat any, pre *pattern.Pattern, preAny []*pattern.Pattern, opts pattern.Options) outcome {
	name := v.rule.Name()
	if pat != nil {
		cp := pre
		if cp == nil {
			var o *outcome
			cp, o = v.compileWithVariables(pat)
			if o != nil {
				return *o
			}
		}
		err := cp.ValidateWithOptions(resource, opts)
		if err == nil {
			return outcome{StatusPass, passMessage(name), ""}
		}
		var pe *pattern.Error
		if !errors.As(err, &pe) {
			return outcome{StatusError, v.buildErrorMessage(err, ""), ""}
		}
		switch pe.Outcome() {
		case pattern.OutcomeSkip:
			return outcome{StatusSkip, pe.Error(), ""}
		case pattern.OutcomeError:
			return outcome{StatusError, v.buildErrorMessage(err, ""), ""}
		}
		return outcome{StatusFail, v.buildErrorMessage(err, pe.Path), pe.Path}
	}
	list, _ := anyPat.([]any)
	var failed, skipped []string
	firstPath := ""
	for i, p := range list {
		var cp *pattern.Pattern
		if preAny != nil {
			cp = preAny[i]
		} else {
			var o *outcome
			cp, o = v.compileWithVariables(p)
			if o != nil {
				return *o
			}
		}
		err := cp.ValidateWithOptions(resource, opts)
		if err == nil {
			return outcome{StatusPass, fmt.Sprintf("validation rule '%s' anyPattern[%d] passed.", name, i), ""}
		}
		var pe *pattern.Error
		if !errors.As(err, &pe) {
			continue
		}
		switch {
		case pe.Skip:
			skipped = append(skipped, fmt.Sprintf("rule %s[%d] skipped: %s", name, i, pe.Error()))
		case pe.Path == "":
			failed = append(failed, fmt.Sprintf("rule %s[%d] failed: %s", name, i, pe.Error()))
		default:
			if firstPath == "" {
				firstPath = pe.Path
			}
			failed = append(failed, fmt.Sprintf("rule %s[%d] failed at path %s", name, i, pe.Path))
		}
	}
	if len(failed) == 0 && len(skipped) > 0 {
		return outcome{StatusSkip, strings.Join(skipped, " "), ""}
	}
	if len(failed) > 0 {
		errStr := strings.Join(failed, " ")
		msg := v.ruleMessage()
		switch {
		case msg == "":
			msg = "validation error: " + errStr
		case strings.HasSuffix(msg, "."):
			msg = "validation error: " + v.substituteMessage(msg) + " " + errStr
		default:
			msg = "validation error: " + v.substituteMessage(msg) + ". " + errStr
		}
		return outcome{StatusFail, msg, firstPath}
	}
	return outcome{StatusPass, v.ruleMessage(), ""}
}

func (v *validator) compileWithVariables(p any) (*pattern.Pattern, *outcome) {
	sub, err := variables.Substitute(v.c, p)
	if err != nil {
		return nil, &outcome{StatusError, fmt.Sprintf("variable substitution failed for rule %s: %v", v.rule.Name(), err), ""}
	}
	cp, err := pattern.Compile(sub)
	if err != nil {
		return nil, &outcome{StatusError, fmt.Sprintf("invalid pattern after variable substitution in rule %s: %v", v.rule.Name(), err), ""}
	}
	return cp, nil
}

func (v *validator) buildErrorMessage(err error, path string) string {
	name := v.rule.Name()
	msg := v.ruleMessage()
	if msg == "" {
		if path != "" {
			return fmt.Sprintf("validation error: rule %s failed at path %s", name, path)
		}
		return fmt.Sprintf("validation error: rule %s execution error: %s", name, err)
	}
	if strings.Contains(msg, "{{") {
		if _, serr := variables.Substitute(v.c, msg); serr != nil {
			// Kyverno's wording when the message cannot be substituted.
			return fmt.Sprintf("validation error: variables substitution error in rule %s execution error: %s", name, err)
		}
	}
	msg = v.substituteMessage(msg)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	if path != "" {
		return fmt.Sprintf("validation error: %s rule %s failed at path %s", msg, name, path)
	}
	return fmt.Sprintf("validation error: %s rule %s execution error: %s", msg, name, err)
}

// forEach evaluates validate.foreach (and nested foreach at depth > 0).
func (v *validator) forEach(ctx context.Context, list []kyvernov1.ForEach, depth int) outcome {
	applied := 0
	for _, fe := range list {
		// Rules iterating over the same list (the PSS rules over every
		// container) compute it once per evaluation. A nested list is
		// one element's: nothing to share.
		query := v.c.Query
		if depth == 0 {
			query = v.c.QueryShared
		}
		elements, err := v.list(fe.List, query)
		if err != nil {
			continue
		}
		o, n := v.forEachElements(ctx, fe, elements, depth)
		if o.status != StatusPass {
			return o
		}
		applied += n
	}
	if applied == 0 {
		return outcome{StatusSkip, "rule skipped", ""}
	}
	return outcome{StatusPass, "rule passed", ""}
}

func (v *validator) evaluateList(expr string) ([]any, error) {
	return v.list(expr, v.c.Query)
}

// list evaluates a foreach list expression with query (Query or
// QueryShared of the validator's context).
func (v *validator) list(expr string, query func(string) (any, error)) ([]any, error) {
	q := expr
	if strings.Contains(q, "{{") {
		s, err := variables.Substitute(v.c, q)
		if err != nil {
			return nil, err
		}
		q, _ = s.(string)
	}
	q = strings.TrimSpace(q)
	q = strings.TrimSuffix(strings.TrimPrefix(q, "{{"), "}}")
	r, err := query(strings.TrimSpace(q))
	if err != nil {
		return nil, err
	}
	list, ok := r.([]any)
	if !ok {
		// Kyverno iterates over a single element when the list
		// expression yields something else than a list.
		return []any{r}, nil
	}
	return list, nil
}

func (v *validator) forEachElements(ctx context.Context, fe kyvernov1.ForEach, elements []any, depth int) (outcome, int) {
	v.c.Checkpoint()
	defer v.c.Restore()
	applied := 0
	for i, el := range elements {
		if el == nil {
			continue
		}
		v.c.Reset()
		v.c.SetElement(el, i, depth)
		elemMap, isMap := el.(map[string]any)
		scoped := isMap
		if fe.ElementScope != nil {
			if *fe.ElementScope && !isMap {
				return outcome{StatusError, fmt.Sprintf("failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps, expected type=map got type=%T", el), ""}, applied
			}
			scoped = *fe.ElementScope
		}
		target := v.resource
		if scoped {
			target = elemMap
		}
		v.located = false
		o := v.forEachElement(ctx, fe, target, depth)
		switch o.status {
		case StatusSkip:
			continue
		case StatusPass:
			applied++
		case StatusError:
			if i < len(elements)-1 {
				continue
			}
			return outcome{StatusError, "validation failure: " + o.msg, v.elementPath(el, scoped, o.path)}, applied
		default:
			return outcome{StatusFail, "validation failure: " + o.msg, v.elementPath(el, scoped, o.path)}, applied
		}
	}
	return outcome{StatusPass, "", ""}, applied
}

// elementPath turns the path of a foreach element's failure into a path
// in the resource: a scoped element's pattern fails at a path relative to
// the element ("/image/"), and a deny names no path at all, so the
// element's own place in the resource ("/spec/containers/0/") is put in
// front. A path a nested foreach already located (v.located), or that an
// unscoped pattern found on the whole resource, is kept, as is the path
// of an element that is no object of the resource.
func (v *validator) elementPath(el any, scoped bool, path string) string {
	m, ok := el.(map[string]any)
	if !ok || v.located || (!scoped && path != "") {
		return path
	}
	prefix, found := objectPath(v.resource, m, 0)
	if !found {
		return path
	}
	v.located = true
	return prefix + strings.TrimPrefix(path, "/")
}

// objectPath finds target inside node by identity (foreach elements are
// the resource's own maps, returned by JMESPath without copying) and
// returns its path, "/spec/containers/0/".
func objectPath(node any, target map[string]any, depth int) (string, bool) {
	if depth > 32 {
		return "", false
	}
	switch n := node.(type) {
	case map[string]any:
		if len(n) > 0 && len(target) > 0 && reflect.ValueOf(n).UnsafePointer() == reflect.ValueOf(target).UnsafePointer() {
			return "/", true
		}
		for k, c := range n {
			if !isContainer(c) {
				continue
			}
			if p, ok := objectPath(c, target, depth+1); ok {
				return "/" + k + p, true
			}
		}
	case []any:
		for i, c := range n {
			if !isContainer(c) {
				continue
			}
			if p, ok := objectPath(c, target, depth+1); ok {
				return "/" + strconv.Itoa(i) + p, true
			}
		}
	}
	return "", false
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func (v *validator) forEachElement(ctx context.Context, fe kyvernov1.ForEach, target map[string]any, depth int) outcome {
	if err := v.e.loadContext(ctx, v.c, fe.Context, v.values, v.cluster); err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to load context: %v", err), ""}
	}
	ok, err := checkPreconditions(v.c, fe.Preconditions)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to evaluate preconditions: %v", err), ""}
	}
	if !ok {
		return outcome{StatusSkip, "preconditions not met", ""}
	}
	switch {
	case fe.Deny != nil:
		return v.deny(fe.Deny, false)
	case fe.Pattern != nil || fe.AnyPattern != nil:
		// Kyverno sees foreach elements as decoded JSON, with float numbers.
		return v.patterns(target, fe.Pattern, fe.AnyPattern, nil, nil, pattern.Options{FloatNumbers: true})
	case len(fe.ForEach) > 0:
		return v.forEach(ctx, fe.ForEach, depth+1)
	}
	return outcome{StatusError, "foreach has no pattern, anyPattern, deny or foreach", ""}
}

func (v *validator) podSecurity() outcome {
	chk := v.rule.PodSecurity
	if chk == nil {
		return outcome{StatusError, "podSecurity was not compiled", ""}
	}
	res, err := chk.Evaluate(v.resource)
	if err != nil {
		return outcome{StatusError, fmt.Sprintf("failed to evaluate podSecurity: %v", err), ""}
	}
	if res.Allowed {
		// Kyverno capitalises this message for podSecurity rules.
		return outcome{StatusPass, fmt.Sprintf("Validation rule '%s' passed.", v.rule.Name()), ""}
	}
	return outcome{StatusFail, res.Message(v.rule.Name(), v.rule.PodSecuritySpec), ""}
}
