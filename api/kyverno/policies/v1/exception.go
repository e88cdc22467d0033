package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindPolicyException is the kind of the policies.kyverno.io
// PolicyException, which exempts resources from CEL policies.
const KindPolicyException = "PolicyException"

// PolicyException exempts the requests its matchConditions select from the
// policies it names (policies.kyverno.io v1alpha1, v1beta1 and v1).
type PolicyException struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PolicyExceptionSpec `json:"spec"`
}

// PolicyExceptionSpec is the body of a policies.kyverno.io PolicyException.
type PolicyExceptionSpec struct {
	// PolicyRefs name the exempted policies by kind and name.
	PolicyRefs []PolicyRef `json:"policyRefs"`
	// MatchConditions are CEL expressions that must all be true for a
	// request to be exempted (none: every request of the policies).
	MatchConditions []admissionregistrationv1.MatchCondition `json:"matchConditions,omitempty"`
	// Images, AllowedValues and EvaluationMode serve ImageValidatingPolicy
	// and fine-grained exceptions, which Portcullis does not evaluate.
	Images         []string `json:"images,omitempty"`
	AllowedValues  []string `json:"allowedValues,omitempty"`
	EvaluationMode string   `json:"evaluationMode,omitempty"`
	// ExpiresAt ends the exception: past it, it no longer applies.
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// Properties are free-form notes (reason, ticket, approver).
	Properties map[string]string `json:"properties,omitempty"`
	// ReportResult is how an exempted result is reported: skip (default)
	// or pass.
	ReportResult string `json:"reportResult,omitempty"`
}

// PolicyRef names a policy by kind and name.
type PolicyRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}
