package v2

import (
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and versions of the resources in this package.
const (
	Group             = "kyverno.io"
	APIVersion        = "kyverno.io/v2"
	APIVersionV2Beta1 = "kyverno.io/v2beta1"
)

// KindPolicyException is the kind of PolicyException documents.
const KindPolicyException = "PolicyException"

// PolicyException exempts the resources it matches from the named rules of
// Kyverno ClusterPolicies and Policies.
type PolicyException struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PolicyExceptionSpec `json:"spec"`
}

// PolicyExceptionSpec is the body of a PolicyException.
type PolicyExceptionSpec struct {
	// Background says whether the exception applies in background scans
	// (default true); with true, match must not select by user.
	Background *bool `json:"background,omitempty"`
	// Match selects the resources the exception applies to (any or all
	// resource filters, as in a rule's match).
	Match MatchResources `json:"match"`
	// Conditions must hold too: {any: [...], all: [...]} of Kyverno
	// conditions, evaluated with the rule's context.
	Conditions any `json:"conditions,omitempty"`
	// Exceptions names the policies and rules exempted.
	Exceptions []Exception `json:"exceptions"`
	// PodSecurity lists the Pod Security Standards controls exempted in
	// podSecurity rules (the other controls still apply).
	PodSecurity []kyvernov1.PodSecurityStandard `json:"podSecurity,omitempty"`
}

// BackgroundEnabled reports whether the exception applies in background
// scans.
func (s *PolicyExceptionSpec) BackgroundEnabled() bool {
	return s.Background == nil || *s.Background
}

// MatchResources selects resources by Any or All resource filters.
type MatchResources struct {
	Any []kyvernov1.ResourceFilter `json:"any,omitempty"`
	All []kyvernov1.ResourceFilter `json:"all,omitempty"`
}

// Exception names one policy ("name" for a ClusterPolicy, "namespace/name"
// for a Policy) and its rules; both accept '*' and '?' wildcards.
type Exception struct {
	PolicyName string   `json:"policyName"`
	RuleNames  []string `json:"ruleNames"`
}
