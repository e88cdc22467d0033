package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Generation is the generate body of a rule (Rule.Generation decodes into
// it): the resource to create from inline Data, a Clone of one existing
// resource or a CloneList of several, or a ForEach of such entries.
type Generation struct {
	// GenerateExisting, when set, overrides the policy's
	// spec.generateExisting for this rule.
	GenerateExisting *bool `json:"generateExisting,omitempty"`
	// Synchronize keeps the generated resource in step with its source (the
	// rule's data or the clone source) and deletes it with its trigger.
	Synchronize bool `json:"synchronize,omitempty"`
	// OrphanDownstreamOnPolicyDelete keeps the generated resources of a
	// synchronized data rule when the policy (or the rule) is deleted.
	OrphanDownstreamOnPolicyDelete bool `json:"orphanDownstreamOnPolicyDelete,omitempty"`
	GeneratePattern                `json:",inline"`
	// ForEach generates one resource (or set of clones) per list element.
	ForEach []ForEachGeneration `json:"foreach,omitempty"`
}

// GeneratePattern is what one generate entry creates: the target
// (apiVersion, kind, namespace, name) with Data or Clone, or a CloneList.
type GeneratePattern struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name,omitempty"`
	UID        string `json:"uid,omitempty"`
	// Data is the resource to create (without apiVersion and kind, which
	// come from the fields above), with variables.
	Data any `json:"data,omitempty"`
	// Clone copies one existing resource.
	Clone *CloneFrom `json:"clone,omitempty"`
	// CloneList copies every resource of the kinds in a namespace that
	// match a selector.
	CloneList *CloneList `json:"cloneList,omitempty"`
}

// CloneFrom names the resource a clone copies.
type CloneFrom struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// CloneList selects the resources a cloneList copies.
type CloneList struct {
	Namespace string `json:"namespace,omitempty"`
	// Kinds are "apiVersion/Kind" or "Kind" (core v1).
	Kinds    []string              `json:"kinds,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ForEachGeneration is one foreach entry of a generate body.
type ForEachGeneration struct {
	List            string         `json:"list"`
	Context         []ContextEntry `json:"context,omitempty"`
	Preconditions   any            `json:"preconditions,omitempty"`
	GeneratePattern `json:",inline"`
}
