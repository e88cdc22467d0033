package engine

import (
	"encoding/json"
	"fmt"

	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/policy"
)

// Status is the outcome of one rule on one resource, as Kyverno reports it.
type Status string

// Statuses.
const (
	StatusPass  Status = "pass"
	StatusFail  Status = "fail"
	StatusWarn  Status = "warn"
	StatusError Status = "error"
	StatusSkip  Status = "skip"
)

// Resource identifies the evaluated resource.
type Resource struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r Resource) String() string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s/%s/%s", r.Kind, r.Namespace, r.Name)
	}
	return fmt.Sprintf("%s/%s", r.Kind, r.Name)
}

// Policy kinds (Result.PolicyKind), as policy.Set.Select names them.
const (
	KindClusterPolicy             = policy.KindClusterPolicy
	KindPolicy                    = policy.KindPolicy
	KindValidatingPolicy          = policy.KindValidatingPolicy
	KindValidatingAdmissionPolicy = policy.KindValidatingAdmissionPolicy
	KindClusterImagePolicy        = policy.KindClusterImagePolicy
	// KindKubescapeControl is a control of a Kubescape control library
	// (internal/kubescape): Policy and Control are the control ID, Rule
	// the library rule.
	KindKubescapeControl = "KubescapeControl"
)

// Result is the outcome of one rule on one resource. Every sink consumes it.
type Result struct {
	// Policy is the policy key ("name" or "namespace/name"); Rule the rule name.
	Policy string `json:"policy"`
	// PolicyKind is the policy's kind (KindClusterPolicy, KindPolicy,
	// KindValidatingPolicy, KindValidatingAdmissionPolicy,
	// KindClusterImagePolicy): names are unique per kind only.
	PolicyKind string   `json:"policyKind,omitempty"`
	Rule       string   `json:"rule"`
	Resource   Resource `json:"resource"`
	Status     Status   `json:"status"`
	// Message explains the outcome (for fail, the policy's message and the
	// failing path, worded as Kyverno words it).
	Message string `json:"message,omitempty"`
	// Path is the failing field ("/spec/containers/0/image/"), when known.
	Path string `json:"path,omitempty"`
	// Severity and Category come from the policy's annotations.
	Severity string `json:"severity,omitempty"`
	Category string `json:"category,omitempty"`
	// Enforce is true when a failure of this rule should deny admission.
	Enforce bool `json:"enforce"`
	// Autogen is true for rules generated for pod controllers.
	Autogen bool `json:"autogen,omitempty"`
	// JSONPatch is an RFC 6902 JSON patch document (a JSON array) the rule
	// asks to apply to the resource, "" when none: verifyImages rules and
	// ClusterImagePolicies rewrite image tags to digests. It is a string
	// so Result stays comparable; Patches decodes it.
	JSONPatch string `json:"jsonPatch,omitempty"`
	// Generated is a JSON array of the objects a generate rule or
	// GeneratingPolicy wants to exist for this trigger (PhaseGenerate),
	// "" when none; a string so Result stays comparable. GeneratedObjects
	// decodes it.
	Generated string `json:"generated,omitempty"`
	// Target is the existing resource a mutate rule with targets patches
	// (PhaseMutateExisting); Resource is then the trigger. Patched is the
	// target as the rule leaves it (JSON, with the resourceVersion it was
	// read at, so that writing it is an optimistic update), and JSONPatch
	// the RFC 6902 operations from the target as read to Patched.
	Target  Resource `json:"target,omitzero"`
	Patched string   `json:"patched,omitempty"`
	// Image is the image reference a verifyImages or ClusterImagePolicy
	// result is about, as written; Digest what it resolved to, when known.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	// AuditAnnotations is a JSON object of the audit annotations the
	// result asks to record on the request's audit event, "" when none:
	// a ValidatingAdmissionPolicy's published auditAnnotations
	// ("<policy>/<key>") and, for a failure under a binding with the Audit
	// action, ValidationFailureAnnotation. A string so Result stays
	// comparable; Annotations decodes it.
	AuditAnnotations string `json:"auditAnnotations,omitempty"`
	// Cached is true when an image verdict came from Input.Verified
	// instead of the registry.
	Cached bool `json:"cached,omitempty"`
	// Control is the ID of the control the result belongs to, when the
	// policy is part of a control library ("C-0017" for a Kubescape
	// control, the built-in library's own IDs), "" otherwise.
	Control string `json:"control,omitempty"`
	// Remediation tells how to fix a failure, when the policy or control
	// says (a control's remediation text), "" otherwise.
	Remediation string `json:"remediation,omitempty"`
	// Exceptions lists the PolicyExceptions that exempted the rule
	// ("namespace/name", comma-separated), "" when none did.
	Exceptions string `json:"exceptions,omitempty"`
}

// ValidationFailureAnnotation is the audit annotation the API server
// records for ValidatingAdmissionPolicy failures under the Audit action:
// a JSON list of ValidationFailure.
const ValidationFailureAnnotation = "validation.policy.admission.k8s.io/validation_failure"

// ValidationFailure is one entry of ValidationFailureAnnotation, worded
// as the API server words it.
type ValidationFailure struct {
	Message           string   `json:"message"`
	Policy            string   `json:"policy"`
	Binding           string   `json:"binding"`
	ExpressionIndex   int      `json:"expressionIndex"`
	ValidationActions []string `json:"validationActions"`
}

// Annotations decodes AuditAnnotations (nil when there are none).
func (r Result) Annotations() (map[string]string, error) {
	if r.AuditAnnotations == "" {
		return nil, nil
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(r.AuditAnnotations), &out); err != nil {
		return nil, fmt.Errorf("decode audit annotations of %s/%s: %w", r.Policy, r.Rule, err)
	}
	return out, nil
}

// UserInfo describes who made an admission request.
type UserInfo struct {
	Username string   `json:"username,omitempty"`
	UID      string   `json:"uid,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Roles ("namespace:name") and ClusterRoles bound to the user.
	Roles        []string `json:"roles,omitempty"`
	ClusterRoles []string `json:"clusterRoles,omitempty"`
}

// Input is one resource to evaluate plus its admission context.
type Input struct {
	// Resource is the object (request.object). For DELETE it may be nil,
	// with OldResource set.
	Resource map[string]any
	// OldResource is request.oldObject (UPDATE and DELETE).
	OldResource map[string]any
	// Operation is CREATE (default), UPDATE, DELETE or CONNECT.
	Operation string
	// Subresource is the requested subresource ("" for the resource itself).
	Subresource string
	// UserInfo is the requesting user.
	UserInfo UserInfo
	// NamespaceLabels are the labels of the resource's namespace, for
	// namespaceSelector.
	NamespaceLabels map[string]string
	// NamespaceObject is the resource's Namespace (CEL namespaceObject).
	// When nil, one is made from the namespace name and NamespaceLabels.
	NamespaceObject map[string]any
	// Values supplies variables from outside (kyverno test values files,
	// stubbed context entries). May be nil.
	Values Values
	// Resources, Images and GlobalContext answer the lookups of CEL
	// policies (resource.Get/List, image.GetMetadata, globalContext.Get).
	// Nil stores answer "not found".
	Resources     cel.ResourceStore
	Images        cel.ImageStore
	GlobalContext cel.GlobalContextStore
	// Cluster answers the Kyverno context entries that read the cluster
	// (configMap, and apiCall GETs of a resource or collection by urlPath)
	// at admission. Nil (offline) leaves those entries to Values, as
	// `kyverno test` does. A failed read (not found, forbidden, not
	// synced by the deadline) is an error result, so the policy's failure
	// mode decides, except for an apiCall with a `default`.
	Cluster cel.ResourceStore
	// Params are the parameters of validate.cel rules that declare a
	// paramKind (nil when none were resolved).
	Params map[string]any
	// Phase selects what is evaluated: PhaseValidate (the default) or
	// PhaseMutate.
	Phase Phase
	// Background marks an evaluation of a resource that already exists
	// (the background controller), outside any admission request: Kyverno
	// policies with background: false, ValidatingPolicies with background
	// evaluation disabled and rules that read admission-only data
	// (request.userInfo, match by subjects or roles) are skipped, as Kyverno's
	// background scans skip them.
	Background bool
	// RequireDigests is set by the validating webhook: what is verified
	// must be what runs, so in PhaseValidate an image by tag fails under
	// an enforce ClusterImagePolicy covering it, and under a verifyImages
	// entry with verifyDigest, as in policy-controller and Kyverno (the
	// mutating phase pins covered tags to their digests first). Offline
	// evaluation (scan, test, verify) leaves it unset and checks tags as
	// given.
	RequireDigests bool
	// Verified answers image verdicts established earlier (the signed
	// verification cache of a parent object, see internal/vcache):
	// ClusterImagePolicy and verifyImages handlers take a verdict from it
	// instead of asking the registry. Whatever it does not answer is
	// verified normally. Nil: everything is verified.
	Verified VerifiedImages
}

// VerifiedImages answers image verdicts established earlier, so that
// image handlers need not ask the registry again. The engine knows
// nothing of where they come from; the caller vouches for them.
type VerifiedImages interface {
	// Digest returns the digest the tag reference ref was verified at.
	Digest(ref string) (string, bool)
	// ImagePolicy returns the verdict of ClusterImagePolicy policy on the
	// image reference ref.
	ImagePolicy(ref, policy string) (Verdict, bool)
	// ImageRule returns the verdicts of the verifyImages rule (by name
	// without autogen prefix) of the Kyverno policy (PolicyKind and key)
	// on the resource's images, when it answers for all of them.
	ImageRule(policyKind, policy, rule string) ([]Verdict, bool)
}

// Verdict is one image verdict given by VerifiedImages.
type Verdict struct {
	// Image is the reference as the resource writes it (ImageRule).
	Image string
	// Digest is the verified digest.
	Digest string
	// Status is pass, warn or (an Audit failure) fail.
	Status  Status
	Message string
	// Enforce is whether a failure of the policy denies.
	Enforce bool
}

// Phase is the admission phase an evaluation serves.
type Phase int

const (
	// PhaseValidate evaluates every policy: validate rules, CEL policies,
	// verifyImages rules and ClusterImagePolicy verification.
	PhaseValidate Phase = iota
	// PhaseMutate evaluates what may change the resource (the mutating
	// webhook's job): Kyverno mutate rules in policy order, each on the
	// object as mutated by the rules before it, then verifyImages rules
	// (verification and mutateDigest patches) and ClusterImagePolicy
	// tag-to-digest pinning on the mutated object. Validate rules and CEL
	// policies are skipped. Mutated applies the results' patches.
	PhaseMutate
	// PhaseVerifyImages evaluates image verification only: verifyImages
	// rules and ClusterImagePolicy verification, as in PhaseValidate
	// (the mutating webhook records their verdicts in the verification
	// cache).
	PhaseVerifyImages
	// PhaseScan is an offline evaluation (scan, test), as kyverno apply
	// and kyverno test do it: Kyverno mutate rules first, then everything
	// PhaseValidate evaluates, on the mutated object. Results of mutate
	// rules carry their patches (see Mutated).
	PhaseScan
	// PhaseGenerate evaluates generate rules and GeneratingPolicies only:
	// each result carries the objects to generate in Result.Generated
	// (internal/generate creates them).
	PhaseGenerate
	// PhaseMutateExisting evaluates Kyverno mutate rules with targets
	// (mutate existing resources) only: for a trigger (Input.Resource;
	// on DELETE the deleted object) the targets each rule selects are read
	// through Input.Resources and patched, one result per target carrying
	// the patched target (Result.Target, Result.Patched). Writing them is
	// the caller's job (internal/generate).
	PhaseMutateExisting
)

// Values supplies variables for a policy's rules, the way `kyverno test`
// values files do. Keys may be dotted paths ("request.operation",
// "podcounts.data.count"); they override what the engine computes.
type Values interface {
	// For returns the variables to set when evaluating rule of policy on
	// the resource named resourceName. The map must not be modified.
	For(policy, rule, resourceName string) map[string]any
}

// ValuesFunc adapts a function to Values.
type ValuesFunc func(policy, rule, resourceName string) map[string]any

// For implements Values.
func (f ValuesFunc) For(policy, rule, resourceName string) map[string]any {
	return f(policy, rule, resourceName)
}

var _ Values = ValuesFunc(nil)

// WithNamespace sets NamespaceObject to ns (a Namespace object) and
// NamespaceLabels to its labels. A nil ns leaves in unchanged.
func (in Input) WithNamespace(ns map[string]any) Input {
	if ns == nil {
		return in
	}
	in.NamespaceObject = ns
	meta, _ := ns["metadata"].(map[string]any)
	if labels := stringMap(meta["labels"]); labels != nil {
		in.NamespaceLabels = labels
	}
	return in
}
