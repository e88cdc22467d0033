package matchconstraints

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func rule(groups, versions, resources []string, ops ...admissionregistrationv1.OperationType) admissionregistrationv1.NamedRuleWithOperations {
	return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: ops,
		Rule:       admissionregistrationv1.Rule{APIGroups: groups, APIVersions: versions, Resources: resources},
	}}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	pods := rule([]string{""}, []string{"v1"}, []string{"pods"}, admissionregistrationv1.Create, admissionregistrationv1.Update)
	pod := Request{Version: "v1", Resource: "pods", Operation: "CREATE", Name: "p", Namespace: "default", Namespaced: true}
	cases := []struct {
		name string
		m    admissionregistrationv1.MatchResources
		req  Request
		want bool
	}{
		{"pod create", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods}}, pod, true},
		{"pod delete not matched", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods}},
			func() Request { r := pod; r.Operation = "DELETE"; return r }(), false},
		{"deployment not matched", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods}},
			Request{Group: "apps", Version: "v1", Resource: "deployments", Operation: "CREATE", Namespaced: true}, false},
		{"wildcards", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
			rule([]string{"*"}, []string{"*"}, []string{"*"}, admissionregistrationv1.OperationAll)}},
			Request{Group: "apps", Version: "v1", Resource: "deployments", Operation: "UPDATE", Namespaced: true}, true},
		{"subresource needs it named", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods}},
			func() Request { r := pod; r.Subresource = "status"; return r }(), false},
		{"subresource wildcard", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
			rule([]string{""}, []string{"v1"}, []string{"pods/*"}, admissionregistrationv1.Create)}},
			func() Request { r := pod; r.Subresource = "exec"; return r }(), true},
		{"excluded", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods},
			ExcludeResourceRules: []admissionregistrationv1.NamedRuleWithOperations{func() admissionregistrationv1.NamedRuleWithOperations {
				r := pods
				r.ResourceNames = []string{"p"}
				return r
			}()}}, pod, false},
		{"namespace selector", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}},
			func() Request { r := pod; r.NamespaceLabels = map[string]string{"env": "dev"}; return r }(), false},
		{"object selector", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{pods},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
			func() Request { r := pod; r.ObjectLabels = map[string]string{"app": "web"}; return r }(), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Compile(&tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(tc.req); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    *admissionregistrationv1.MatchResources
		want string
	}{
		{"nil", nil, "required"},
		{"no rules", &admissionregistrationv1.MatchResources{}, "must not be empty"},
		{"bad op", &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
			rule([]string{""}, []string{"v1"}, []string{"pods"}, "CREATEE")}}, "unknown operation"},
		{"bad selector", &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{
			rule([]string{""}, []string{"v1"}, []string{"pods"}, admissionregistrationv1.Create)},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Bogus"}}}}, "namespaceSelector"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}
