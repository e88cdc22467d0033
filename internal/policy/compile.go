package policy

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/lang/conditions"
	"github.com/portcullis/portcullis/internal/lang/jmespath"
	"github.com/portcullis/portcullis/internal/lang/pattern"
	"github.com/portcullis/portcullis/internal/lang/pss"
	"github.com/portcullis/portcullis/internal/manifest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation"
)

// compiler carries what compiling needs; one per Compile call.
type compiler struct {
	jp  *jmespath.Interpreter
	cel celCompiler
}

func (c *compiler) compilePolicy(d manifest.Document) (*Policy, Errors) {
	name := d.Name()
	var errs Errors
	fail := func(rule, field, msg string, err error) {
		errs = append(errs, &Error{Policy: name, Rule: rule, Field: field, Msg: msg, Err: err})
	}
	if name == "" {
		fail("", "metadata.name", "policy has no name", nil)
	}
	spec, _ := d.Object["spec"].(map[string]any)
	if spec == nil {
		fail("", "spec", "policy has no spec", nil)
		return nil, errs
	}
	rawRules, ok := spec["rules"].([]any)
	if !ok || len(rawRules) == 0 {
		fail("", "spec.rules", "policy has no rules", nil)
		return nil, errs
	}
	for i, rr := range rawRules {
		rm, ok := rr.(map[string]any)
		field := fmt.Sprintf("spec.rules[%d]", i)
		if !ok {
			fail("", field, "rule is not a mapping", nil)
			continue
		}
		rname, _ := rm["name"].(string)
		for _, e := range checkRawVerifyImages(rname, field, rm) {
			e.Policy = name
			errs = append(errs, e)
		}
	}
	p, err := decodePolicy(d.Object)
	if err != nil {
		fail("", "", "policy does not match the ClusterPolicy schema", err)
		return nil, errs
	}
	if len(errs) > 0 {
		return nil, errs
	}
	pol := &Policy{Spec: p, File: d.Source, Scored: p.Annotations[AnnotationScored] != "false",
		Severity: p.Annotations[AnnotationSeverity], Category: p.Annotations[AnnotationCategory],
		Title: p.Annotations[AnnotationTitle], Control: p.Annotations[AnnotationControlID],
		Remediation: p.Annotations[AnnotationRemediation]}
	action, err := normalizeAction(p.Spec.ValidationFailureAction)
	if err != nil {
		fail("", "spec.validationFailureAction", err.Error(), nil)
	}
	pol.FailureAction = action
	for i, o := range p.Spec.ValidationFailureActionOverrides {
		if _, err := normalizeAction(o.Action); err != nil || o.Action == "" {
			fail("", fmt.Sprintf("spec.validationFailureActionOverrides[%d].action", i), "want Audit or Enforce", nil)
		}
	}
	checkWebhookSettings(&p.Spec, func(field, msg string) { fail("", field, msg, nil) })
	match, merrs := c.compileWebhookMatch(name, &p.Spec)
	errs = append(errs, merrs...)
	pol.WebhookMatch = match
	if a := p.Spec.ApplyRules; a != "" && a != "All" && a != "One" {
		fail("", "spec.applyRules", fmt.Sprintf("unknown value %q (want All or One)", a), nil)
	}
	seen := map[string]bool{}
	for i := range p.Spec.Rules {
		r := &p.Spec.Rules[i]
		field := fmt.Sprintf("spec.rules[%d]", i)
		if r.Name == "" {
			fail("", field+".name", "rule has no name", nil)
		} else if len(r.Name) > 63 {
			fail(r.Name, field+".name", "rule name longer than 63 characters", nil)
		}
		if seen[r.Name] {
			fail(r.Name, field+".name", "duplicate rule name", nil)
		}
		seen[r.Name] = true
	}
	// Policy-level problems do not stop the rules from being checked:
	// every problem is reported. A written rule's problems are not
	// repeated for the autogen rules generated from it.
	failed := map[string]bool{}
	rules := expandAutogen(p)
	for i := range rules {
		gr := rules[i]
		field := gr.field
		rule, rerrs := c.compileRule(pol, gr, field)
		if gr.autogen == "" {
			failed[field] = len(rerrs) > 0
		} else if failed[strings.TrimSuffix(field, " (autogen)")] {
			rerrs = nil
		}
		for _, e := range rerrs {
			e.Policy = name
			if e.Rule == "" {
				e.Rule = gr.rule.Name
			}
		}
		errs = append(errs, rerrs...)
		if rule != nil {
			pol.Rules = append(pol.Rules, rule)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return pol, nil
}

func normalizeAction(a string) (string, error) {
	switch strings.ToLower(a) {
	case "", "audit":
		return Audit, nil
	case "enforce":
		return Enforce, nil
	}
	return "", fmt.Errorf("unknown failure action %q (want Audit or Enforce)", a)
}

func (c *compiler) compileRule(pol *Policy, gr generatedRule, field string) (*Rule, Errors) {
	r := gr.rule
	var errs Errors
	fail := func(f, msg string, err error) {
		errs = append(errs, &Error{Rule: r.Name, Field: f, Msg: msg, Err: err})
	}
	bodies := 0
	for _, set := range []bool{r.Validation != nil, r.Mutation != nil, r.Generation != nil, len(r.VerifyImages) > 0} {
		if set {
			bodies++
		}
	}
	if bodies == 0 {
		fail(field, "rule has no validate, mutate, generate or verifyImages body", nil)
	} else if bodies > 1 {
		fail(field, "rule has more than one of validate, mutate, generate and verifyImages", nil)
	}
	rule := &Rule{Policy: pol, Spec: r, Autogen: gr.autogen, FailureAction: pol.FailureAction}
	var err error
	if rule.Match, err = c.compileMatch(&r.MatchResources, field+".match", true); err != nil {
		errs = append(errs, asRuleErrors(r.Name, err)...)
	}
	if r.ExcludeResources != nil && !r.ExcludeResources.IsEmpty() {
		if rule.Exclude, err = c.compileMatch(r.ExcludeResources, field+".exclude", false); err != nil {
			errs = append(errs, asRuleErrors(r.Name, err)...)
		}
	}
	rule.kinds = ruleKinds(rule.Match)
	for i, ce := range r.Context {
		errs = append(errs, c.checkContextEntry(r.Name, fmt.Sprintf("%s.context[%d]", field, i), ce)...)
	}
	if r.Preconditions != nil {
		errs = append(errs, c.checkConditions(r.Name, field+".preconditions", r.Preconditions)...)
	}
	if len(r.VerifyImages) > 0 {
		errs = append(errs, c.checkVerifyImages(r.Name, field, r.VerifyImages, pol)...)
	}
	if m := r.Mutation; m != nil {
		errs = append(errs, c.checkMutation(r.Name, field+".mutate", m)...)
	}
	if r.Generation != nil {
		g, gerrs := c.compileGenerate(pol, r, field+".generate")
		errs = append(errs, gerrs...)
		rule.Generate = g
	}
	if v := r.Validation; v != nil {
		vf := field + ".validate"
		if v.FailureAction != nil {
			a, err := normalizeAction(*v.FailureAction)
			if err != nil {
				fail(vf+".failureAction", err.Error(), nil)
			}
			rule.FailureAction = a
		}
		errs = append(errs, c.checkStrings(r.Name, vf+".message", v.Message)...)
		n := 0
		if v.Pattern != nil {
			n++
			rule.Pattern, errs = c.compilePattern(r.Name, vf+".pattern", v.Pattern, errs)
		}
		if v.AnyPattern != nil {
			n++
			list, ok := v.AnyPattern.([]any)
			if !ok || len(list) == 0 {
				fail(vf+".anyPattern", "anyPattern must be a non-empty list of patterns", nil)
			}
			allCompiled := true
			var compiled []*pattern.Pattern
			for i, p := range list {
				var cp *pattern.Pattern
				cp, errs = c.compilePattern(r.Name, fmt.Sprintf("%s.anyPattern[%d]", vf, i), p, errs)
				if cp == nil {
					allCompiled = false
				}
				compiled = append(compiled, cp)
			}
			if allCompiled {
				rule.AnyPatterns = compiled
			}
		}
		if v.Deny != nil {
			n++
			if v.Deny.Conditions != nil {
				errs = append(errs, c.checkConditions(r.Name, vf+".deny.conditions", v.Deny.Conditions)...)
			}
		}
		if len(v.ForEach) > 0 {
			n++
			errs = append(errs, c.checkForEach(r.Name, vf+".foreach", v.ForEach, 0)...)
		}
		if v.PodSecurity != nil {
			n++
			ps := pss.Spec{Level: v.PodSecurity.Level, Version: v.PodSecurity.Version}
			for _, e := range v.PodSecurity.Exclude {
				ps.Exclude = append(ps.Exclude, pss.Exclusion{ControlName: e.ControlName, Images: e.Images,
					RestrictedField: e.RestrictedField, Values: e.Values})
			}
			chk, err := pss.Compile(ps)
			if err != nil {
				fail(vf+".podSecurity", "invalid podSecurity", err)
			}
			rule.PodSecurity, rule.PodSecuritySpec = chk, ps
		}
		if v.CEL != nil {
			n++
			prog, body, cerrs := c.compileCELRule(r, vf+".cel")
			errs = append(errs, cerrs...)
			rule.CEL = prog
			if body != nil && body.ParamKind != nil {
				rule.CELParamKind, rule.CELParamRef = body.ParamKind, body.ParamRef
			}
		}
		for _, other := range []bool{v.Manifests != nil, v.Assert != nil} {
			if other {
				n++
			}
		}
		switch {
		case n == 0:
			fail(vf, "validate has no pattern, anyPattern, deny, foreach, podSecurity, cel, manifests or assert", nil)
		case n > 1:
			fail(vf, "validate must have exactly one of pattern, anyPattern, deny, foreach, podSecurity, cel, manifests and assert", nil)
		}
	}
	return rule, errs
}

func asRuleErrors(rule string, err error) Errors {
	out := AsErrors(err)
	for _, e := range out {
		if e.Rule == "" {
			e.Rule = rule
		}
	}
	return out
}

func (c *compiler) compilePattern(rule, field string, p any, errs Errors) (*pattern.Pattern, Errors) {
	errs = append(errs, c.checkStrings(rule, field, p)...)
	if err := pattern.Check(p); err != nil {
		return nil, append(errs, &Error{Rule: rule, Field: field, Msg: "invalid pattern", Err: err})
	}
	cp, err := pattern.Compile(p)
	if err != nil {
		return nil, append(errs, &Error{Rule: rule, Field: field, Msg: "invalid pattern", Err: err})
	}
	if hasVariables(p) {
		// Compiled again after substitution, per resource.
		return nil, errs
	}
	return cp, errs
}

func (c *compiler) compileMatch(m *kyvernov1.MatchResources, field string, required bool) (*Match, error) {
	var errs Errors
	fail := func(f, msg string, err error) { errs = append(errs, &Error{Field: f, Msg: msg, Err: err}) }
	inline := !m.ResourceDescription.IsEmpty() || !m.UserInfo.IsEmpty()
	if (len(m.Any) > 0 || len(m.All) > 0) && inline {
		fail(field, "use either any/all or resources/subjects/roles, not both", nil)
	}
	if len(m.Any) > 0 && len(m.All) > 0 {
		fail(field, "use either any or all, not both", nil)
	}
	out := &Match{}
	compileFilter := func(f string, rd kyvernov1.ResourceDescription, ui kyvernov1.UserInfo) Filter {
		flt := Filter{Resource: rd, User: ui}
		if required && len(rd.Kinds) == 0 {
			fail(f+".resources.kinds", "match needs at least one kind", nil)
		}
		for i, k := range rd.Kinds {
			ks, err := ParseKind(k)
			if err != nil {
				fail(fmt.Sprintf("%s.resources.kinds[%d]", f, i), "invalid kind", err)
				continue
			}
			flt.Kinds = append(flt.Kinds, ks)
		}
		if rd.Name != "" && len(rd.Names) > 0 {
			fail(f+".resources", "use either name or names, not both", nil)
		}
		for _, sel := range []struct {
			name string
			s    *metav1.LabelSelector
		}{{"selector", rd.Selector}, {"namespaceSelector", rd.NamespaceSelector}} {
			if sel.s == nil {
				continue
			}
			if err := checkSelector(sel.s); err != nil {
				fail(f+".resources."+sel.name, "invalid label selector", err)
			}
		}
		for i, op := range rd.Operations {
			switch op {
			case "CREATE", "UPDATE", "DELETE", "CONNECT":
			default:
				fail(fmt.Sprintf("%s.resources.operations[%d]", f, i), fmt.Sprintf("unknown operation %q (want CREATE, UPDATE, DELETE or CONNECT)", op), nil)
			}
		}
		for i, s := range ui.Subjects {
			switch s.Kind {
			case "User", "Group", "ServiceAccount":
			default:
				fail(fmt.Sprintf("%s.subjects[%d].kind", f, i), fmt.Sprintf("unknown subject kind %q (want User, Group or ServiceAccount)", s.Kind), nil)
			}
		}
		return flt
	}
	switch {
	case len(m.Any) > 0:
		for i, f := range m.Any {
			out.Any = append(out.Any, compileFilter(fmt.Sprintf("%s.any[%d]", field, i), f.ResourceDescription, f.UserInfo))
		}
	case len(m.All) > 0:
		for i, f := range m.All {
			out.All = append(out.All, compileFilter(fmt.Sprintf("%s.all[%d]", field, i), f.ResourceDescription, f.UserInfo))
		}
	case inline:
		out.All = []Filter{compileFilter(field, m.ResourceDescription, m.UserInfo)}
	default:
		if required {
			fail(field, "rule has no match block", nil)
		}
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// checkSelector refuses a label selector the engine could never match
// (it would silently select nothing): keys and values must be valid
// label keys and values, where matchLabels may hold Kyverno's wildcards
// (* and ?), and matchExpressions must be valid requirements.
func checkSelector(s *metav1.LabelSelector) error {
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if errs := validation.IsQualifiedName(withoutWildcards(k)); len(errs) > 0 {
			return fmt.Errorf("matchLabels key %q: %s", k, strings.Join(errs, "; "))
		}
		if v := s.MatchLabels[k]; len(validation.IsValidLabelValue(withoutWildcards(v))) > 0 {
			return fmt.Errorf("matchLabels %q: value %q: %s", k, v, strings.Join(validation.IsValidLabelValue(withoutWildcards(v)), "; "))
		}
	}
	for _, e := range s.MatchExpressions {
		var op selection.Operator
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				return fmt.Errorf("key %q: operator %s needs values", e.Key, e.Operator)
			}
			op = selection.In
			if e.Operator == metav1.LabelSelectorOpNotIn {
				op = selection.NotIn
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				return fmt.Errorf("key %q: operator %s takes no values", e.Key, e.Operator)
			}
			op = selection.Exists
			if e.Operator == metav1.LabelSelectorOpDoesNotExist {
				op = selection.DoesNotExist
			}
		default:
			return fmt.Errorf("key %q: unknown operator %q", e.Key, e.Operator)
		}
		if _, err := labels.NewRequirement(e.Key, op, e.Values); err != nil {
			return fmt.Errorf("matchExpressions key %q: %w", e.Key, err)
		}
	}
	return nil
}

// withoutWildcards puts a letter in place of Kyverno's selector wildcards,
// so the rest of a key or value can be checked as a label's.
func withoutWildcards(s string) string {
	return strings.NewReplacer("*", "x", "?", "x").Replace(s)
}

// ruleKinds lists the kind names a rule's match can select ("*" for any).
func ruleKinds(m *Match) []string {
	if m == nil {
		return []string{"*"}
	}
	set := map[string]bool{}
	filters := append(append([]Filter{}, m.Any...), m.All...)
	if len(m.All) > 1 {
		// Every filter must match: the kinds of any one filter bound it,
		// but keep it simple and safe: union.
		filters = m.All
	}
	for _, f := range filters {
		if len(f.Kinds) == 0 {
			set["*"] = true
		}
		for _, k := range f.Kinds {
			if k.Kind == "*" || strings.ContainsAny(k.Kind, "*?") {
				set["*"] = true
			} else {
				set[k.Kind] = true
			}
		}
	}
	if len(set) == 0 {
		return []string{"*"}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *compiler) checkContextEntry(rule, field string, ce kyvernov1.ContextEntry) Errors {
	var errs Errors
	if ce.Name == "" {
		errs = append(errs, &Error{Rule: rule, Field: field + ".name", Msg: "context entry has no name"})
	}
	n := 0
	for _, set := range []bool{ce.Variable != nil, ce.ConfigMap != nil, ce.APICall != nil, ce.ImageRegistry != nil, ce.GlobalReference != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		errs = append(errs, &Error{Rule: rule, Field: field, Msg: "context entry needs exactly one of variable, configMap, apiCall, imageRegistry and globalReference"})
	}
	if v := ce.Variable; v != nil {
		if v.JMESPath != "" {
			if err := c.checkExpr(v.JMESPath); err != nil {
				errs = append(errs, &Error{Rule: rule, Field: field + ".variable.jmesPath", Msg: "invalid JMESPath", Err: err})
			}
		}
		if v.Value == nil && v.JMESPath == "" && v.Default == nil {
			errs = append(errs, &Error{Rule: rule, Field: field + ".variable", Msg: "variable needs a value, a jmesPath or a default"})
		}
		errs = append(errs, c.checkStrings(rule, field+".variable.value", v.Value)...)
	}
	for name, m := range map[string]map[string]any{"configMap": ce.ConfigMap, "apiCall": ce.APICall, "imageRegistry": ce.ImageRegistry} {
		if m != nil {
			errs = append(errs, c.checkStrings(rule, field+"."+name, m)...)
			if jp, ok := m["jmesPath"].(string); ok && jp != "" && !hasVariables(jp) {
				if err := c.checkExpr(jp); err != nil {
					errs = append(errs, &Error{Rule: rule, Field: field + "." + name + ".jmesPath", Msg: "invalid JMESPath", Err: err})
				}
			}
		}
	}
	return errs
}

func (c *compiler) checkForEach(rule, field string, list []kyvernov1.ForEach, depth int) Errors {
	var errs Errors
	for i, fe := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(fe.List) == "" {
			errs = append(errs, &Error{Rule: rule, Field: f + ".list", Msg: "foreach needs a list expression"})
		} else if !hasVariables(fe.List) {
			if err := c.checkExpr(fe.List); err != nil {
				errs = append(errs, &Error{Rule: rule, Field: f + ".list", Msg: "invalid JMESPath", Err: err})
			}
		} else {
			errs = append(errs, c.checkStrings(rule, f+".list", fe.List)...)
		}
		for j, ce := range fe.Context {
			errs = append(errs, c.checkContextEntry(rule, fmt.Sprintf("%s.context[%d]", f, j), ce)...)
		}
		if fe.Preconditions != nil {
			errs = append(errs, c.checkConditions(rule, f+".preconditions", fe.Preconditions)...)
		}
		n := 0
		if fe.Pattern != nil {
			n++
			_, errs = c.compilePattern(rule, f+".pattern", fe.Pattern, errs)
		}
		if fe.AnyPattern != nil {
			n++
			list, ok := fe.AnyPattern.([]any)
			if !ok || len(list) == 0 {
				errs = append(errs, &Error{Rule: rule, Field: f + ".anyPattern", Msg: "anyPattern must be a non-empty list of patterns"})
			}
			for j, p := range list {
				_, errs = c.compilePattern(rule, fmt.Sprintf("%s.anyPattern[%d]", f, j), p, errs)
			}
		}
		if fe.Deny != nil {
			n++
			if fe.Deny.Conditions != nil {
				errs = append(errs, c.checkConditions(rule, f+".deny.conditions", fe.Deny.Conditions)...)
			}
		}
		if len(fe.ForEach) > 0 {
			n++
			if depth >= 8 {
				errs = append(errs, &Error{Rule: rule, Field: f + ".foreach", Msg: "foreach nested too deeply (limit 8)"})
			} else {
				errs = append(errs, c.checkForEach(rule, f+".foreach", fe.ForEach, depth+1)...)
			}
		}
		if n != 1 {
			errs = append(errs, &Error{Rule: rule, Field: f, Msg: "foreach needs exactly one of pattern, anyPattern, deny and foreach"})
		}
	}
	return errs
}

// checkConditions validates a conditions block: {any, all} or a list.
func (c *compiler) checkConditions(rule, field string, raw any) Errors {
	var errs Errors
	check := func(f string, list any) {
		items, ok := list.([]any)
		if !ok {
			if list != nil {
				errs = append(errs, &Error{Rule: rule, Field: f, Msg: "conditions must be a list"})
			}
			return
		}
		for i, it := range items {
			cf := fmt.Sprintf("%s[%d]", f, i)
			m, ok := it.(map[string]any)
			if !ok {
				errs = append(errs, &Error{Rule: rule, Field: cf, Msg: "condition must be a mapping with key, operator and value"})
				continue
			}
			op, _ := m["operator"].(string)
			if op == "" {
				errs = append(errs, &Error{Rule: rule, Field: cf + ".operator", Msg: "condition has no operator"})
			} else if !conditions.ValidOperator(op) {
				errs = append(errs, &Error{Rule: rule, Field: cf + ".operator", Msg: fmt.Sprintf("unknown operator %q", op)})
			}
			if _, ok := m["key"]; !ok {
				errs = append(errs, &Error{Rule: rule, Field: cf + ".key", Msg: "condition has no key"})
			}
			for k := range m {
				switch k {
				case "key", "operator", "value", "message":
				default:
					errs = append(errs, &Error{Rule: rule, Field: cf + "." + k, Msg: "unknown field"})
				}
			}
			errs = append(errs, c.checkStrings(rule, cf, m)...)
		}
	}
	switch v := raw.(type) {
	case map[string]any:
		for k := range v {
			if k != "any" && k != "all" {
				errs = append(errs, &Error{Rule: rule, Field: field + "." + k, Msg: "unknown field (want any or all)"})
			}
		}
		check(field+".any", v["any"])
		check(field+".all", v["all"])
	case []any:
		check(field, v)
	default:
		errs = append(errs, &Error{Rule: rule, Field: field, Msg: "conditions must be {any: [...], all: [...]} or a list"})
	}
	return errs
}

// varRe finds innermost {{ ... }} expressions.
var varRe = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

func hasVariables(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "{{")
	case map[string]any:
		for k, x := range t {
			if strings.Contains(k, "{{") || hasVariables(x) {
				return true
			}
		}
	case []any:
		for _, x := range t {
			if hasVariables(x) {
				return true
			}
		}
	}
	return false
}

// checkStrings parses every JMESPath expression inside {{ }} in v.
func (c *compiler) checkStrings(rule, field string, v any) Errors {
	var errs Errors
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch t := v.(type) {
		case string:
			if !strings.Contains(t, "{{") {
				return
			}
			for _, m := range varRe.FindAllStringSubmatchIndex(t, -1) {
				if m[0] > 0 && t[m[0]-1] == '\\' {
					continue
				}
				expr := strings.TrimSpace(t[m[2]:m[3]])
				expr = strings.TrimSpace(strings.TrimPrefix(expr, "-"))
				if expr == "" || expr == "@" {
					continue
				}
				// A nested variable is resolved first; the outer expression
				// is only known at evaluation time.
				if m[0] > 0 && strings.Contains(t[:m[0]], "{{") {
					continue
				}
				if err := c.checkExpr(expr); err != nil {
					errs = append(errs, &Error{Rule: rule, Field: path, Msg: fmt.Sprintf("invalid JMESPath in {{%s}}", t[m[2]:m[3]]), Err: err})
				}
			}
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(path, k)
				walk(path+"."+k, t[k])
			}
		case []any:
			for i, x := range t {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk(field, v)
	return errs
}

func (c *compiler) checkExpr(expr string) error {
	_, err := c.jp.Compile(expr)
	return err
}
