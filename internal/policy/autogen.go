package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
)

// Autogen values of Rule.Autogen.
const (
	AutogenControllers = "controllers"
	AutogenCronJob     = "cronjob"
)

// podControllers are the kinds Pod rules are extended to, CronJob apart.
var podControllers = []string{"DaemonSet", "Deployment", "Job", "ReplicaSet", "ReplicationController", "StatefulSet"}

type generatedRule struct {
	rule    kyvernov1.Rule
	autogen string
	field   string
}

// expandAutogen returns the policy's rules followed by the rules Kyverno
// generates for pod controllers: "autogen-<rule>" for Deployment,
// DaemonSet, Job, StatefulSet, ReplicaSet and ReplicationController, and
// "autogen-cronjob-<rule>" for CronJob. Generation applies when every
// rule of the policy selects Pods only by kind (no names, selectors or
// annotations, and Pod not mixed with other kinds) and at least one rule
// selects Pods or pod controllers; the
// pod-policies.kyverno.io/autogen-controllers annotation narrows the
// controllers ("none" disables generation).
func expandAutogen(p *kyvernov1.Policy) []generatedRule {
	out := make([]generatedRule, 0, len(p.Spec.Rules))
	for i, r := range p.Spec.Rules {
		out = append(out, generatedRule{rule: r, field: fmt.Sprintf("spec.rules[%d]", i)})
	}
	controllers, ok := autogenControllers(p)
	if !ok {
		return out
	}
	var main []string
	hasCron := false
	for _, c := range controllers {
		if c == "CronJob" {
			hasCron = true
			continue
		}
		for _, known := range podControllers {
			if c == known {
				main = append(main, c)
			}
		}
	}
	sort.Strings(main)
	for i, r := range p.Spec.Rules {
		if strings.HasPrefix(r.Name, "autogen-") {
			continue
		}
		field := fmt.Sprintf("spec.rules[%d] (autogen)", i)
		base := podTemplateRule(r, controllersOrAll(main, controllers))
		if base == nil {
			continue
		}
		if len(main) > 0 {
			if gr, err := finishRule(*base, "Pod"); err == nil {
				out = append(out, generatedRule{rule: gr, autogen: AutogenControllers, field: field})
			}
		}
		if hasCron {
			cron := wrapRule(*base, truncateName("autogen-cronjob-"+r.Name), "jobTemplate", []string{"CronJob"}, true)
			if cron != nil {
				if gr, err := finishRule(*cron, "CronJob"); err == nil {
					out = append(out, generatedRule{rule: gr, autogen: AutogenCronJob, field: field})
				}
			}
		}
	}
	return out
}

func controllersOrAll(main, all []string) []string {
	if len(main) > 0 {
		return main
	}
	return all
}

// autogenControllers returns the controllers to generate rules for.
func autogenControllers(p *kyvernov1.Policy) ([]string, bool) {
	needed := false
	for _, r := range p.Spec.Rules {
		if r.Generation != nil {
			return nil, false
		}
		if m := r.Mutation; m != nil {
			// Kyverno does not generate rules for JSON patches: their
			// paths are written for the kind they match.
			if m.PatchesJSON6902 != "" {
				return nil, false
			}
			for _, fe := range m.ForEach {
				if fe.PatchesJSON6902 != "" {
					return nil, false
				}
			}
		}
		descs := []kyvernov1.ResourceDescription{r.MatchResources.ResourceDescription}
		for _, f := range r.MatchResources.Any {
			descs = append(descs, f.ResourceDescription)
		}
		for _, f := range r.MatchResources.All {
			descs = append(descs, f.ResourceDescription)
		}
		if ex := r.ExcludeResources; ex != nil {
			descs = append(descs, ex.ResourceDescription)
			for _, f := range ex.Any {
				descs = append(descs, f.ResourceDescription)
			}
			for _, f := range ex.All {
				descs = append(descs, f.ResourceDescription)
			}
		}
		for _, d := range descs {
			if d.Name != "" || len(d.Names) > 0 || d.Selector != nil || d.Annotations != nil ||
				(len(d.Kinds) > 1 && containsKind(d.Kinds, "Pod")) {
				return nil, false
			}
			for _, k := range d.Kinds {
				if kindName(k) == "Pod" || kindName(k) == "CronJob" || isPodController(kindName(k)) {
					needed = true
				}
			}
		}
	}
	if !needed {
		return nil, false
	}
	ann, ok := p.Annotations[AnnotationAutogenControllers]
	if !ok {
		return append(append([]string{}, podControllers...), "CronJob"), true
	}
	if ann == "none" || strings.TrimSpace(ann) == "" {
		return nil, false
	}
	var out []string
	for _, c := range strings.Split(ann, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out, len(out) > 0
}

func isPodController(k string) bool {
	for _, c := range podControllers {
		if c == k {
			return true
		}
	}
	return false
}

// kindName strips group/version from a kind selector ("apps/v1/Deployment" -> "Deployment").
func kindName(sel string) string {
	k, err := ParseKind(sel)
	if err != nil {
		return sel
	}
	return k.Kind
}

func containsKind(kinds []string, kind string) bool {
	for _, k := range kinds {
		if kindName(k) == kind {
			return true
		}
	}
	return false
}

func allKinds(m *kyvernov1.MatchResources) []string {
	out := append([]string{}, m.Kinds...)
	for _, f := range m.Any {
		out = append(out, f.Kinds...)
	}
	for _, f := range m.All {
		out = append(out, f.Kinds...)
	}
	return out
}

// podTemplateRule is the controllers rule before its variables are
// rewritten: pattern under spec.template, kinds set to the controllers.
func podTemplateRule(r kyvernov1.Rule, controllers []string) *kyvernov1.Rule {
	matchKinds := allKinds(&r.MatchResources)
	var excludeKinds []string
	if r.ExcludeResources != nil {
		excludeKinds = allKinds(r.ExcludeResources)
	}
	if !containsKind(matchKinds, "Pod") || (len(excludeKinds) > 0 && !containsKind(excludeKinds, "Pod")) {
		return nil
	}
	return wrapRule(r, truncateName("autogen-"+r.Name), "template", controllers, false)
}

func truncateName(n string) string {
	if len(n) > 63 {
		return n[:63]
	}
	return n
}

// wrapRule deep-copies r, renames it, points its kinds at kinds and moves
// its pattern(s) under spec.<tplKey>. It returns nil when the rule has no
// body that autogen carries over.
func wrapRule(r kyvernov1.Rule, name, tplKey string, kinds []string, replaceAllFilters bool) *kyvernov1.Rule {
	cp, err := deepCopyRule(r)
	if err != nil {
		return nil
	}
	cp.Name = name
	setKinds := func(m *kyvernov1.MatchResources, onlyIfSet bool) {
		switch {
		case len(m.Any) > 0:
			for i := range m.Any {
				if replaceAllFilters || containsKind(m.Any[i].Kinds, "Pod") {
					m.Any[i].Kinds = append([]string{}, kinds...)
				}
			}
		case len(m.All) > 0:
			for i := range m.All {
				if replaceAllFilters || containsKind(m.All[i].Kinds, "Pod") {
					m.All[i].Kinds = append([]string{}, kinds...)
				}
			}
		default:
			if !onlyIfSet || len(m.Kinds) > 0 {
				m.Kinds = append([]string{}, kinds...)
			}
		}
	}
	setKinds(&cp.MatchResources, false)
	if cp.ExcludeResources != nil {
		setKinds(cp.ExcludeResources, true)
	}
	wrap := func(p any) any {
		return map[string]any{"spec": map[string]any{tplKey: p}}
	}
	switch {
	case cp.Validation != nil:
		v := cp.Validation
		nv := &kyvernov1.Validation{Message: v.Message, FailureAction: v.FailureAction,
			FailureActionOverrides: v.FailureActionOverrides, AllowExistingViolations: v.AllowExistingViolations}
		switch {
		case v.Pattern != nil:
			nv.Pattern = wrap(v.Pattern)
		case v.Deny != nil:
			nv.Deny = v.Deny
		case v.PodSecurity != nil:
			nv.PodSecurity = v.PodSecurity
		case v.AnyPattern != nil:
			list, _ := v.AnyPattern.([]any)
			wrapped := make([]any, len(list))
			for i, p := range list {
				wrapped[i] = wrap(p)
			}
			nv.AnyPattern = wrapped
		case len(v.ForEach) > 0:
			nv.ForEach = v.ForEach
		case v.CEL != nil:
			nv.CEL = v.CEL
		case v.Assert != nil:
			nv.Assert = v.Assert
		default:
			return nil
		}
		cp.Validation = nv
	case cp.Mutation != nil:
		// The patches move under the pod template, as Kyverno's autogen
		// does (foreach patches too; their lists are rewritten with the
		// rest of the rule's variables).
		m := *cp.Mutation
		if m.PatchStrategicMerge != nil {
			m.PatchStrategicMerge = wrap(m.PatchStrategicMerge)
		}
		m.ForEach = append([]kyvernov1.ForEachMutation(nil), m.ForEach...)
		for i := range m.ForEach {
			if m.ForEach[i].PatchStrategicMerge != nil {
				m.ForEach[i].PatchStrategicMerge = wrap(m.ForEach[i].PatchStrategicMerge)
			}
		}
		cp.Mutation = &m
	case len(cp.VerifyImages) > 0:
	default:
		return nil
	}
	return &cp
}

func deepCopyRule(r kyvernov1.Rule) (kyvernov1.Rule, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return kyvernov1.Rule{}, err
	}
	var out kyvernov1.Rule
	err = json.Unmarshal(data, &out)
	return out, err
}

var (
	podRewrites = [][2]string{
		{"request.object.spec", "request.object.spec.template.spec"},
		{"request.oldObject.spec", "request.oldObject.spec.template.spec"},
		{"request.object.metadata", "request.object.spec.template.metadata"},
		{"request.oldObject.metadata", "request.oldObject.spec.template.metadata"},
	}
	cronRewrites = [][2]string{
		{"request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"},
		{"request.oldObject.spec", "request.oldObject.spec.jobTemplate.spec.template.spec"},
		{"request.object.metadata", "request.object.spec.jobTemplate.spec.template.metadata"},
		{"request.oldObject.metadata", "request.oldObject.spec.jobTemplate.spec.template.metadata"},
	}
	podCELRewrites = [][2]string{
		{"object.spec", "object.spec.template.spec"},
		{"oldObject.spec", "oldObject.spec.template.spec"},
		{"object.metadata", "object.spec.template.metadata"},
		{"oldObject.metadata", "oldObject.spec.template.metadata"},
	}
	cronCELRewrites = [][2]string{
		{"object.spec", "object.spec.jobTemplate.spec.template.spec"},
		{"oldObject.spec", "oldObject.spec.jobTemplate.spec.template.spec"},
		{"object.metadata", "object.spec.jobTemplate.spec.template.metadata"},
		{"oldObject.metadata", "oldObject.spec.jobTemplate.spec.template.metadata"},
	}
)

// finishRule rewrites variable references to the pod template, as Kyverno
// does, by textual replacement over the whole rule.
func finishRule(r kyvernov1.Rule, target string) (kyvernov1.Rule, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	cel := r.Validation != nil && r.Validation.CEL != nil
	var rewrites [][2]string
	switch {
	case target == "Pod" && cel:
		rewrites = podCELRewrites
	case target == "Pod":
		rewrites = podRewrites
	case cel:
		rewrites = cronCELRewrites
	default:
		rewrites = cronRewrites
	}
	for _, rw := range rewrites {
		data = bytes.ReplaceAll(data, []byte(rw[0]), []byte(rw[1]))
	}
	var out kyvernov1.Rule
	if err := json.Unmarshal(data, &out); err != nil {
		return r, err
	}
	return out, nil
}
