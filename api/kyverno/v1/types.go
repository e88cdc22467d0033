package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group and versions of the resources in this package.
const (
	Group      = "kyverno.io"
	APIVersion = "kyverno.io/v1"
	// PortcullisGroup serves the same ClusterPolicy and Policy kinds under
	// Portcullis's own API group, so they can coexist with an installed
	// Kyverno; the schema is identical.
	PortcullisGroup      = "portcullis.dev"
	PortcullisAPIVersion = "portcullis.dev/v1"
)

// Kinds of policy documents.
const (
	KindClusterPolicy = "ClusterPolicy"
	KindPolicy        = "Policy"
)

// Policy is a Kyverno ClusterPolicy (cluster-wide) or Policy (namespaced).
type Policy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec `json:"spec"`
}

// IsNamespaced reports whether the policy is a namespaced Policy, which only
// applies to resources in its own namespace.
func (p *Policy) IsNamespaced() bool { return p.Kind == KindPolicy }

// Spec is the body of a policy.
type Spec struct {
	Rules []Rule `json:"rules,omitempty"`
	// ValidationFailureAction is Audit (default) or Enforce, case-insensitive.
	ValidationFailureAction string `json:"validationFailureAction,omitempty"`
	// ValidationFailureActionOverrides set the action per namespace.
	ValidationFailureActionOverrides []FailureActionOverride `json:"validationFailureActionOverrides,omitempty"`
	// Background enables background (continuous) evaluation; default true.
	Background *bool `json:"background,omitempty"`
	// Admission enables admission evaluation; default true.
	Admission *bool `json:"admission,omitempty"`
	// FailurePolicy is Fail (default) or Ignore.
	FailurePolicy *string `json:"failurePolicy,omitempty"`
	// WebhookTimeoutSeconds bounds admission evaluation.
	WebhookTimeoutSeconds *int32 `json:"webhookTimeoutSeconds,omitempty"`
	// ApplyRules is All (default) or One: stop after the first rule that applies.
	ApplyRules string `json:"applyRules,omitempty"`

	// The fields below are part of Kyverno's schema but not used by
	// Portcullis; they are declared so that strict decoding accepts them.

	// EmitWarning emits admission warnings for audit failures.
	EmitWarning *bool `json:"emitWarning,omitempty"`
	// SchemaValidation is deprecated in Kyverno.
	SchemaValidation *bool `json:"schemaValidation,omitempty"`
	// MutateExistingOnPolicyUpdate, GenerateExisting and
	// GenerateExistingOnPolicyUpdate drive background mutate and generate.
	MutateExistingOnPolicyUpdate   bool  `json:"mutateExistingOnPolicyUpdate,omitempty"`
	GenerateExisting               bool  `json:"generateExisting,omitempty"`
	GenerateExistingOnPolicyUpdate *bool `json:"generateExistingOnPolicyUpdate,omitempty"`
	// UseServerSideApply applies generated resources server-side.
	UseServerSideApply bool `json:"useServerSideApply,omitempty"`
	// WebhookConfiguration tunes Kyverno's webhook for the policy.
	WebhookConfiguration *WebhookConfiguration `json:"webhookConfiguration,omitempty"`
}

// WebhookConfiguration tunes the admission webhook of a policy.
type WebhookConfiguration struct {
	FailurePolicy   *string                                  `json:"failurePolicy,omitempty"`
	TimeoutSeconds  *int32                                   `json:"timeoutSeconds,omitempty"`
	MatchConditions []admissionregistrationv1.MatchCondition `json:"matchConditions,omitempty"`
}

// FailureActionOverride overrides the failure action in some namespaces.
type FailureActionOverride struct {
	Action            string                `json:"action,omitempty"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// Rule is one policy rule. Exactly one of Validation, Mutation, Generation
// or VerifyImages is set.
type Rule struct {
	Name             string          `json:"name"`
	Context          []ContextEntry  `json:"context,omitempty"`
	MatchResources   MatchResources  `json:"match"`
	ExcludeResources *MatchResources `json:"exclude,omitempty"`
	// Preconditions is either {any: [...], all: [...]} or a plain list of
	// conditions (meaning all).
	Preconditions    any                 `json:"preconditions,omitempty"`
	CELPreconditions []any               `json:"celPreconditions,omitempty"`
	Validation       *Validation         `json:"validate,omitempty"`
	Mutation         *Mutation           `json:"mutate,omitempty"`
	Generation       map[string]any      `json:"generate,omitempty"`
	VerifyImages     []ImageVerification `json:"verifyImages,omitempty"`
	// SkipBackgroundRequests skips background requests; default true.
	SkipBackgroundRequests *bool `json:"skipBackgroundRequests,omitempty"`
	// ImageExtractors name the image fields of custom kinds (free-form
	// here: Portcullis does not use them yet).
	ImageExtractors map[string]any `json:"imageExtractors,omitempty"`
	// ReportProperties are added to the rule's policy report results.
	ReportProperties map[string]string `json:"reportProperties,omitempty"`
}

// MatchResources selects resources: the inline description and user info
// (legacy form), or Any / All lists of filters.
type MatchResources struct {
	Any                 []ResourceFilter `json:"any,omitempty"`
	All                 []ResourceFilter `json:"all,omitempty"`
	UserInfo            `json:",inline"`
	ResourceDescription `json:"resources,omitempty"`
}

// IsEmpty reports whether nothing is specified.
func (m *MatchResources) IsEmpty() bool {
	return len(m.Any) == 0 && len(m.All) == 0 && m.UserInfo.IsEmpty() && m.ResourceDescription.IsEmpty()
}

// ResourceFilter is one entry of an any/all list.
type ResourceFilter struct {
	UserInfo            `json:",inline"`
	ResourceDescription `json:"resources,omitempty"`
}

// UserInfo selects by the requesting user.
type UserInfo struct {
	Roles        []string  `json:"roles,omitempty"`
	ClusterRoles []string  `json:"clusterRoles,omitempty"`
	Subjects     []Subject `json:"subjects,omitempty"`
}

// IsEmpty reports whether nothing is specified.
func (u *UserInfo) IsEmpty() bool {
	return len(u.Roles) == 0 && len(u.ClusterRoles) == 0 && len(u.Subjects) == 0
}

// Subject is an RBAC subject: a User, Group or ServiceAccount.
type Subject struct {
	Kind      string `json:"kind"`
	APIGroup  string `json:"apiGroup,omitempty"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// ResourceDescription selects by resource attributes. Every field set must
// match.
type ResourceDescription struct {
	Kinds             []string              `json:"kinds,omitempty"`
	Name              string                `json:"name,omitempty"`
	Names             []string              `json:"names,omitempty"`
	Namespaces        []string              `json:"namespaces,omitempty"`
	Annotations       map[string]string     `json:"annotations,omitempty"`
	Selector          *metav1.LabelSelector `json:"selector,omitempty"`
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	Operations        []string              `json:"operations,omitempty"`
}

// IsEmpty reports whether nothing is specified.
func (r *ResourceDescription) IsEmpty() bool {
	return len(r.Kinds) == 0 && r.Name == "" && len(r.Names) == 0 && len(r.Namespaces) == 0 &&
		len(r.Annotations) == 0 && r.Selector == nil && r.NamespaceSelector == nil && len(r.Operations) == 0
}

// ContextEntry adds a named variable to a rule's evaluation context.
type ContextEntry struct {
	Name            string         `json:"name"`
	Variable        *Variable      `json:"variable,omitempty"`
	ConfigMap       map[string]any `json:"configMap,omitempty"`
	APICall         map[string]any `json:"apiCall,omitempty"`
	ImageRegistry   map[string]any `json:"imageRegistry,omitempty"`
	GlobalReference map[string]any `json:"globalReference,omitempty"`
}

// Variable is a context entry computed from a value and/or a JMESPath
// expression, with a default.
type Variable struct {
	Value    any    `json:"value,omitempty"`
	JMESPath string `json:"jmesPath,omitempty"`
	Default  any    `json:"default,omitempty"`
}

// Validation is the validate body of a rule. Exactly one of Pattern,
// AnyPattern, Deny, ForEach, PodSecurity, CEL, Manifests or Assert is set.
type Validation struct {
	// FailureAction overrides the policy's validationFailureAction for this rule.
	FailureAction           *string                 `json:"failureAction,omitempty"`
	FailureActionOverrides  []FailureActionOverride `json:"failureActionOverrides,omitempty"`
	AllowExistingViolations *bool                   `json:"allowExistingViolations,omitempty"`
	Message                 string                  `json:"message,omitempty"`
	Pattern                 any                     `json:"pattern,omitempty"`
	AnyPattern              any                     `json:"anyPattern,omitempty"`
	Deny                    *Deny                   `json:"deny,omitempty"`
	ForEach                 []ForEach               `json:"foreach,omitempty"`
	PodSecurity             *PodSecurity            `json:"podSecurity,omitempty"`
	CEL                     map[string]any          `json:"cel,omitempty"`
	Manifests               map[string]any          `json:"manifests,omitempty"`
	Assert                  any                     `json:"assert,omitempty"`
}

// Deny denies the resource when its conditions hold.
type Deny struct {
	// Conditions is {any: [...], all: [...]} or a plain list (all).
	Conditions any `json:"conditions,omitempty"`
}

// ForEach applies a validation to each element of a list.
type ForEach struct {
	List          string         `json:"list"`
	ElementScope  *bool          `json:"elementScope,omitempty"`
	Context       []ContextEntry `json:"context,omitempty"`
	Preconditions any            `json:"preconditions,omitempty"`
	Pattern       any            `json:"pattern,omitempty"`
	AnyPattern    any            `json:"anyPattern,omitempty"`
	Deny          *Deny          `json:"deny,omitempty"`
	// ForEach is a nested foreach (a list of ForEach).
	ForEach []ForEach `json:"foreach,omitempty"`
}

// PodSecurity evaluates the Pod Security Standards.
type PodSecurity struct {
	Level   string                `json:"level,omitempty"`
	Version string                `json:"version,omitempty"`
	Exclude []PodSecurityStandard `json:"exclude,omitempty"`
}

// PodSecurityStandard exempts some values of one PSS control.
type PodSecurityStandard struct {
	ControlName     string   `json:"controlName"`
	Images          []string `json:"images,omitempty"`
	RestrictedField string   `json:"restrictedField,omitempty"`
	Values          []string `json:"values,omitempty"`
}

// Mutation is a mutate rule body: one of PatchStrategicMerge,
// PatchesJSON6902 and ForEach, applied to the admitted resource or, with
// Targets, to existing resources.
type Mutation struct {
	// Targets are existing resources to mutate (mutateExisting).
	Targets []TargetResource `json:"targets,omitempty"`
	// MutateExistingOnPolicyUpdate overrides the policy's setting.
	MutateExistingOnPolicyUpdate *bool `json:"mutateExistingOnPolicyUpdate,omitempty"`
	// PatchStrategicMerge is a strategic merge patch with anchors and
	// variables.
	PatchStrategicMerge any `json:"patchStrategicMerge,omitempty"`
	// PatchesJSON6902 is an RFC 6902 patch written as a YAML (or JSON)
	// list of operations, with variables.
	PatchesJSON6902 string `json:"patchesJson6902,omitempty"`
	// ForEach applies a patch per element of a list.
	ForEach []ForEachMutation `json:"foreach,omitempty"`
}

// ForEachMutation applies a patch for each element of List.
type ForEachMutation struct {
	List string `json:"list"`
	// Order is Ascending or Descending (the default for
	// patchStrategicMerge is Descending, for patchesJson6902 Ascending).
	Order               *string        `json:"order,omitempty"`
	Context             []ContextEntry `json:"context,omitempty"`
	Preconditions       any            `json:"preconditions,omitempty"`
	PatchStrategicMerge any            `json:"patchStrategicMerge,omitempty"`
	PatchesJSON6902     string         `json:"patchesJson6902,omitempty"`
	// ForEach is a nested foreach.
	ForEach []ForEachMutation `json:"foreach,omitempty"`
}

// TargetResource selects existing resources a mutate rule patches.
type TargetResource struct {
	APIVersion    string                `json:"apiVersion,omitempty"`
	Kind          string                `json:"kind,omitempty"`
	Name          string                `json:"name,omitempty"`
	Namespace     string                `json:"namespace,omitempty"`
	Selector      *metav1.LabelSelector `json:"selector,omitempty"`
	UID           string                `json:"uid,omitempty"`
	Context       []ContextEntry        `json:"context,omitempty"`
	Preconditions any                   `json:"preconditions,omitempty"`
}
