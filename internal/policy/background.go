package policy

import (
	"encoding/json"
	"strings"
)

// admissionOnlyVariables are the request data that exist only at
// admission: Kyverno does not apply rules that read them in background
// scans.
var admissionOnlyVariables = []string{
	"request.userInfo", "request.roles", "request.clusterRoles",
	"serviceAccountName", "serviceAccountNamespace",
}

// admissionOnly reports whether r depends on admission-only data: its
// match or exclude names subjects, roles or cluster roles, or its body
// reads request.userInfo and its kin.
func admissionOnly(r *Rule) bool {
	for _, m := range []*Match{r.Match, r.Exclude} {
		if m == nil {
			continue
		}
		for _, f := range append(append([]Filter(nil), m.Any...), m.All...) {
			if !f.User.IsEmpty() {
				return true
			}
		}
	}
	b, err := json.Marshal(r.Spec)
	if err != nil {
		return false
	}
	s := string(b)
	for _, v := range admissionOnlyVariables {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// Background reports whether p runs in background scans (spec.background,
// true unless set to false).
func (p *Policy) Background() bool {
	b := p.Spec.Spec.Background
	return b == nil || *b
}

// Background reports whether p runs in background scans
// (spec.evaluation.background.enabled, true unless set to false).
func (p *ValidatingPolicy) Background() bool {
	e := p.Spec.Spec.Evaluation
	return e == nil || e.Background == nil || e.Background.Enabled == nil || *e.Background.Enabled
}
