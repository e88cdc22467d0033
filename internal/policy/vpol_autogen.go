package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// vpolTarget is a pod controller a ValidatingPolicy can be extended to.
type vpolTarget struct {
	group, version, resource, kind string
	cronjob                        bool
}

var vpolTargets = []vpolTarget{
	{"apps", "v1", "daemonsets", "DaemonSet", false},
	{"apps", "v1", "deployments", "Deployment", false},
	{"apps", "v1", "replicasets", "ReplicaSet", false},
	{"apps", "v1", "statefulsets", "StatefulSet", false},
	{"batch", "v1", "jobs", "Job", false},
	{"batch", "v1", "cronjobs", "CronJob", true},
}

// vpolVariant is a ValidatingPolicy spec as evaluated: the policy itself
// (Autogen "") or a generated variant for pod controllers.
type vpolVariant struct {
	autogen string
	spec    policiesv1.ValidatingPolicySpec
}

// vpolCanAutogen mirrors Kyverno: only a policy matching exactly core/v1
// pods, without selectors, exclusions or resource names, is extended.
func vpolCanAutogen(m *admissionregistrationv1.MatchResources) bool {
	if m == nil {
		return false
	}
	if s := m.NamespaceSelector; s != nil && (len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0) {
		return false
	}
	if s := m.ObjectSelector; s != nil && (len(s.MatchLabels) > 0 || len(s.MatchExpressions) > 0) {
		return false
	}
	if len(m.ExcludeResourceRules) != 0 || len(m.ResourceRules) != 1 {
		return false
	}
	r := m.ResourceRules[0]
	return len(r.ResourceNames) == 0 &&
		len(r.APIGroups) == 1 && r.APIGroups[0] == "" &&
		len(r.APIVersions) == 1 && r.APIVersions[0] == "v1" &&
		len(r.Resources) == 1 && r.Resources[0] == "pods"
}

// autogenTargets returns the pod controllers a CEL policy's autogen
// generates for (those pc names, by kind or resource; every one when pc
// or its list is absent), split into the template controllers and
// CronJob.
func autogenTargets(pc *policiesv1.PodControllers) (main, cron []vpolTarget) {
	wanted := map[string]bool{}
	all := pc == nil || pc.Controllers == nil
	if !all {
		for _, c := range pc.Controllers {
			wanted[strings.ToLower(c)] = true
		}
	}
	for _, t := range vpolTargets {
		if !all && !wanted[t.resource] && !wanted[strings.ToLower(t.kind)] {
			continue
		}
		if t.cronjob {
			cron = append(cron, t)
		} else {
			main = append(main, t)
		}
	}
	return main, cron
}

// vpolAutogen returns the variants Kyverno generates for a Pod policy: one
// for DaemonSets, Deployments, ReplicaSets, StatefulSets and Jobs (object
// fields moved under spec.template) and one for CronJobs (under
// spec.jobTemplate.spec.template). spec.autogen.podControllers.controllers
// narrows the controllers (kinds or resource names); an empty list disables
// autogen.
func vpolAutogen(p *policiesv1.ValidatingPolicy) ([]vpolVariant, error) {
	if !vpolCanAutogen(p.Spec.MatchConstraints) {
		return nil, nil
	}
	var pc *policiesv1.PodControllers
	if p.Spec.Autogen != nil {
		pc = p.Spec.Autogen.PodControllers
	}
	main, cron := autogenTargets(pc)
	var out []vpolVariant
	for _, group := range []struct {
		name    string
		targets []vpolTarget
		to      [2]string
	}{
		{"autogen", main, [2]string{"spec.template.spec", "spec.template.metadata"}},
		{"autogen-cronjobs", cron, [2]string{"spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata"}},
	} {
		if len(group.targets) == 0 {
			continue
		}
		v, err := vpolVariantFor(p, group.name, group.targets, group.to)
		if err != nil {
			return nil, fmt.Errorf("autogen %s: %w", group.name, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func vpolVariantFor(p *policiesv1.ValidatingPolicy, name string, targets []vpolTarget, to [2]string) (vpolVariant, error) {
	spec := p.Spec
	var conds []string
	for _, t := range targets {
		conds = append(conds, fmt.Sprintf("(object.apiVersion == '%s' && object.kind =='%s')", t.group+"/"+t.version, t.kind))
	}
	match := autogenMatch(targets, spec.MatchConstraints.ResourceRules[0].Operations)
	sort.Strings(conds)
	guard := strings.Join(conds, "||")
	var mcs []admissionregistrationv1.MatchCondition
	for _, m := range spec.MatchConditions {
		mcs = append(mcs, admissionregistrationv1.MatchCondition{
			Name:       name + "-" + m.Name,
			Expression: fmt.Sprintf("!(%s) || (%s)", guard, m.Expression),
		})
	}
	spec.MatchConstraints = match
	spec.MatchConditions = mcs
	data, err := json.Marshal(spec)
	if err != nil {
		return vpolVariant{}, err
	}
	data = rewriteObjectPaths(data, "spec", to[0])
	data = rewriteObjectPaths(data, "metadata", to[1])
	var out policiesv1.ValidatingPolicySpec
	if err := json.Unmarshal(data, &out); err != nil {
		return vpolVariant{}, err
	}
	// The guard compares the controller's own apiVersion and kind; keep
	// it out of the rewrite (it mentions object.kind, not spec/metadata).
	return vpolVariant{autogen: name, spec: out}, nil
}

// rewriteObjectPaths replaces object.<from> and oldObject.<from> with
// object.<to>, except before .name and .namespace, which stay on the
// controller's own metadata (as Kyverno does).
func rewriteObjectPaths(data []byte, from, to string) []byte {
	for _, root := range []string{"object.", "oldObject."} {
		data = replaceUnprotected(data, []byte(root+from), []byte(root+to))
	}
	return data
}

func replaceUnprotected(data, from, to []byte) []byte {
	idx := bytes.Index(data, from)
	if idx < 0 {
		return data
	}
	var buf bytes.Buffer
	buf.Grow(len(data) + 64)
	for idx >= 0 {
		// Do not match inside a longer identifier (e.g. "myobject.spec").
		if idx > 0 && isIdentByte(data[idx-1]) {
			buf.Write(data[:idx+len(from)])
			data = data[idx+len(from):]
			idx = bytes.Index(data, from)
			continue
		}
		buf.Write(data[:idx])
		rest := data[idx+len(from):]
		if protectedSuffix(rest) {
			buf.Write(from)
		} else {
			buf.Write(to)
		}
		data = rest
		idx = bytes.Index(data, from)
	}
	buf.Write(data)
	return buf.Bytes()
}

func protectedSuffix(rest []byte) bool {
	for _, s := range []string{".namespace", ".name"} {
		if bytes.HasPrefix(rest, []byte(s)) {
			next := rest[len(s):]
			if len(next) == 0 || !isIdentByte(next[0]) {
				return true
			}
		}
	}
	return false
}

func isIdentByte(b byte) bool {
	return b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

// autogenMatch is the matchConstraints of an autogen variant: one resource
// rule per group/version of the targets, with the policy's operations.
func autogenMatch(targets []vpolTarget, ops []admissionregistrationv1.OperationType) *admissionregistrationv1.MatchResources {
	byGV := map[string][]string{}
	for _, t := range targets {
		gv := t.group + "/" + t.version
		byGV[gv] = append(byGV[gv], t.resource)
	}
	gvs := make([]string, 0, len(byGV))
	for gv := range byGV {
		gvs = append(gvs, gv)
	}
	sort.Strings(gvs)
	match := &admissionregistrationv1.MatchResources{}
	for _, gv := range gvs {
		g, v, _ := strings.Cut(gv, "/")
		res := byGV[gv]
		sort.Strings(res)
		match.ResourceRules = append(match.ResourceRules, admissionregistrationv1.NamedRuleWithOperations{
			RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: ops,
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{g}, APIVersions: []string{v}, Resources: res},
			},
		})
	}
	return match
}
