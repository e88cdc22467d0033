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
