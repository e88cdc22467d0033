package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindGeneratingPolicy is the kind of GeneratingPolicy documents.
const KindGeneratingPolicy = "GeneratingPolicy"

// GeneratingPolicy creates resources when a matching resource (the
// trigger) is admitted, with CEL: each generate expression calls
// generator.Apply(namespace, [objects]).
type GeneratingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GeneratingPolicySpec `json:"spec"`
}

// GeneratingPolicySpec is the body of a GeneratingPolicy.
type GeneratingPolicySpec struct {
	MatchConstraints *admissionregistrationv1.MatchResources  `json:"matchConstraints,omitempty"`
	MatchConditions  []admissionregistrationv1.MatchCondition `json:"matchConditions,omitempty"`
	Variables        []admissionregistrationv1.Variable       `json:"variables,omitempty"`
	// Generate lists the expressions that generate resources.
	Generate []Generation `json:"generate,omitempty"`
	// Evaluation configures admission, synchronization, generation for
	// existing triggers and orphaning.
	Evaluation *GeneratingEvaluation `json:"evaluation,omitempty"`
	// WebhookConfiguration tunes the admission webhook.
	WebhookConfiguration *WebhookConfiguration `json:"webhookConfiguration,omitempty"`
}

// Generation is one generate entry: a CEL expression calling
// generator.Apply.
type Generation struct {
	Expression string `json:"expression"`
}

// GeneratingEvaluation says how a GeneratingPolicy is evaluated.
type GeneratingEvaluation struct {
	Mode                           string   `json:"mode,omitempty"`
	Admission                      *Enabled `json:"admission,omitempty"`
	GenerateExisting               *Enabled `json:"generateExisting,omitempty"`
	Synchronize                    *Enabled `json:"synchronize,omitempty"`
	OrphanDownstreamOnPolicyDelete *Enabled `json:"orphanDownstreamOnPolicyDelete,omitempty"`
}
