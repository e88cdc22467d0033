package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group of the resources in this package.
const Group = "policies.kyverno.io"

// KindValidatingPolicy is the kind of ValidatingPolicy documents.
const KindValidatingPolicy = "ValidatingPolicy"

// ValidatingPolicy validates resources with CEL expressions, like a
// ValidatingAdmissionPolicy with Kyverno's extensions (libraries, autogen,
// background evaluation).
type ValidatingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ValidatingPolicySpec `json:"spec"`
}

// ValidatingPolicySpec is the body of a ValidatingPolicy.
type ValidatingPolicySpec struct {
	MatchConstraints  *admissionregistrationv1.MatchResources    `json:"matchConstraints,omitempty"`
	MatchConditions   []admissionregistrationv1.MatchCondition   `json:"matchConditions,omitempty"`
	Validations       []admissionregistrationv1.Validation       `json:"validations,omitempty"`
	AuditAnnotations  []admissionregistrationv1.AuditAnnotation  `json:"auditAnnotations,omitempty"`
	Variables         []admissionregistrationv1.Variable         `json:"variables,omitempty"`
	ValidationActions []admissionregistrationv1.ValidationAction `json:"validationActions,omitempty"`
	FailurePolicy     *admissionregistrationv1.FailurePolicyType `json:"failurePolicy,omitempty"`
	// Evaluation configures where the policy runs (admission, background).
	Evaluation *Evaluation `json:"evaluation,omitempty"`
	// Autogen configures rules generated for pod controllers.
	Autogen *Autogen `json:"autogen,omitempty"`
	// WebhookConfiguration tunes the admission webhook.
	WebhookConfiguration *WebhookConfiguration `json:"webhookConfiguration,omitempty"`
}

// Evaluation says where a policy is evaluated.
type Evaluation struct {
	Mode       string   `json:"mode,omitempty"`
	Admission  *Enabled `json:"admission,omitempty"`
	Background *Enabled `json:"background,omitempty"`
}

// Enabled is a switch.
type Enabled struct {
	Enabled *bool `json:"enabled,omitempty"`
}

// Autogen configures autogen.
type Autogen struct {
	PodControllers            *PodControllers `json:"podControllers,omitempty"`
	ValidatingAdmissionPolicy *Enabled        `json:"validatingAdmissionPolicy,omitempty"`
}

// PodControllers lists the controllers to generate for; an empty list
// (present but empty) disables autogen.
type PodControllers struct {
	Controllers []string `json:"controllers"`
}

// WebhookConfiguration tunes the admission webhook.
type WebhookConfiguration struct {
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}

// KindMutatingPolicy is the kind of MutatingPolicy documents.
const KindMutatingPolicy = "MutatingPolicy"

// MutatingPolicy mutates resources with CEL expressions, like a
// MutatingAdmissionPolicy with Kyverno's extensions (libraries, autogen,
// background and mutate-existing evaluation).
type MutatingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MutatingPolicySpec `json:"spec"`
}

// MutatingPolicySpec is the body of a MutatingPolicy.
type MutatingPolicySpec struct {
	MatchConstraints *admissionregistrationv1.MatchResources    `json:"matchConstraints,omitempty"`
	FailurePolicy    *admissionregistrationv1.FailurePolicyType `json:"failurePolicy,omitempty"`
	MatchConditions  []admissionregistrationv1.MatchCondition   `json:"matchConditions,omitempty"`
	Variables        []admissionregistrationv1.Variable         `json:"variables,omitempty"`
	// Autogen configures rules generated for pod controllers.
	Autogen *MutatingAutogen `json:"autogen,omitempty"`
	// TargetMatchConstraints and TargetMatchConditions select existing
	// resources to mutate (mutateExisting).
	TargetMatchConstraints *TargetMatchConstraints                   `json:"targetMatchConstraints,omitempty"`
	TargetMatchConditions  []admissionregistrationv1.MatchCondition  `json:"targetMatchConditions,omitempty"`
	Mutations              []admissionregistrationv1.Mutation        `json:"mutations,omitempty"`
	AuditAnnotations       []admissionregistrationv1.AuditAnnotation `json:"auditAnnotations,omitempty"`
	// WebhookConfiguration tunes the admission webhook.
	WebhookConfiguration *WebhookConfiguration `json:"webhookConfiguration,omitempty"`
	// Evaluation says where the policy runs.
	Evaluation *MutatingEvaluation `json:"evaluation,omitempty"`
	// ReinvocationPolicy is Never (default) or IfNeeded.
	ReinvocationPolicy admissionregistrationv1.ReinvocationPolicyType `json:"reinvocationPolicy,omitempty"`
}

// MutatingEvaluation says where a MutatingPolicy is evaluated.
type MutatingEvaluation struct {
	Mode           string   `json:"mode,omitempty"`
	Admission      *Enabled `json:"admission,omitempty"`
	Background     *Enabled `json:"background,omitempty"`
	MutateExisting *Enabled `json:"mutateExisting,omitempty"`
	// SkipBackgroundRequests skips requests made by Kyverno's background
	// controller (default true).
	SkipBackgroundRequests *bool `json:"skipBackgroundRequests,omitempty"`
	// UseServerSideApply lets apply configurations replace atomic fields.
	UseServerSideApply bool `json:"useServerSideApply,omitempty"`
}

// MutatingAutogen configures autogen of a MutatingPolicy.
type MutatingAutogen struct {
	PodControllers          *PodControllers `json:"podControllers,omitempty"`
	MutatingAdmissionPolicy *Enabled        `json:"mutatingAdmissionPolicy,omitempty"`
}

// TargetMatchConstraints selects the existing resources a MutatingPolicy
// mutates.
type TargetMatchConstraints struct {
	Expression                             string `json:"expression,omitempty"`
	admissionregistrationv1.MatchResources `json:",inline"`
}

// AdmissionEnabled reports whether the policy runs at admission (default
// true).
func (s *MutatingPolicySpec) AdmissionEnabled() bool {
	if s.Evaluation == nil || s.Evaluation.Admission == nil || s.Evaluation.Admission.Enabled == nil {
		return true
	}
	return *s.Evaluation.Admission.Enabled
}

// BackgroundEnabled reports whether the policy runs in background scans
// (default true).
func (s *MutatingPolicySpec) BackgroundEnabled() bool {
	if s.Evaluation == nil || s.Evaluation.Background == nil || s.Evaluation.Background.Enabled == nil {
		return true
	}
	return *s.Evaluation.Background.Enabled
}
