package webhookconfig

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	policiesv1 "github.com/portcullis/portcullis/api/kyverno/policies/v1"
	kyvernov1 "github.com/portcullis/portcullis/api/kyverno/v1"
	"github.com/portcullis/portcullis/internal/admission"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/policy"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Paths served by the admission handler.
const (
	ValidatePath       = admission.PathValidate
	ValidatePolicyPath = admission.PathValidatePolicy
)

// Options describe where the webhook is served and what it excludes.
type Options struct {
	// Name of the ValidatingWebhookConfiguration (default "portcullis").
	Name string
	// Service and namespace of the webhook; when Service is empty, URL is used.
	Service, Namespace string
	// Port of the Service (default 443).
	Port int32
	// URL reaches the webhook directly (tests, out-of-cluster runs).
	URL string
	// ExcludeNamespaces are never sent to the webhook (default
	// kube-system and Namespace, Portcullis's own).
	ExcludeNamespaces []string
	// PolicyGroup is the API group of the policy CRDs (default portcullis.dev).
	PolicyGroup string
	// DefaultTimeoutSeconds applies to policies that set none (default 10).
	DefaultTimeoutSeconds int32
	// DefaultFailurePolicy applies to policies that set none (default Fail).
	DefaultFailurePolicy admissionregistrationv1.FailurePolicyType
	// ImagePolicies is true when ClusterImagePolicies are in force: Pods
	// and workloads are then sent to the default group's path (under the
	// default failure policy and timeout), the ClusterImagePolicy resources to
	// /validate-policy, and the MutatingWebhookConfiguration pins their
	// images to digests.
	ImagePolicies bool
	// WatchImagePolicies is true when ClusterImagePolicies are watched at
	// all (their resources are then validated before they are stored, even
	// while none exists).
	WatchImagePolicies bool
	// WatchExceptions is true when kyverno.io PolicyExceptions are
	// watched: they are then validated (/validate-policy) before they are
	// stored.
	WatchExceptions bool
	// CELPolicyResources are the policies.kyverno.io resources watched
	// ("validatingpolicies", "mutatingpolicies", ...): they are validated
	// (/validate-policy) before they are stored, in every version
	// policy.Compile reads.
	CELPolicyResources []string
}

// celPolicyVersions are the policies.kyverno.io versions policy.Compile
// reads (policysource.CELVersions).
var celPolicyVersions = []string{"v1", "v1beta1", "v1alpha1"}

// MutatePath is where the mutating webhook is served.
const MutatePath = admission.PathMutate

// podResources are the resources whose images image policies check.
var podResources = []struct{ group, resource string }{
	{"", "pods"},
	{"apps", "daemonsets"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"apps", "statefulsets"},
	{"batch", "jobs"}, {"batch", "cronjobs"},
	{"", "replicationcontrollers"},
}

// addPodControllers adds the pod controllers autogen variants of CEL
// policies match.
func addPodControllers(rs ruleSet) {
	for _, r := range podResources[1:] {
		if r.resource != "replicationcontrollers" {
			rs.add(r.group, "v1", r.resource, defaultOps...)
		}
	}
}

func addPodResources(rs ruleSet) {
	for _, r := range podResources {
		rs.add(r.group, "v1", r.resource, defaultOps...)
	}
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = "portcullis"
	}
	if o.Port == 0 {
		o.Port = 443
	}
	if o.ExcludeNamespaces == nil {
		o.ExcludeNamespaces = []string{"kube-system"}
		if o.Namespace != "" && o.Namespace != "kube-system" {
			o.ExcludeNamespaces = append(o.ExcludeNamespaces, o.Namespace)
		}
	}
	if o.PolicyGroup == "" {
		o.PolicyGroup = kyvernov1.PortcullisGroup
	}
	if o.DefaultTimeoutSeconds == 0 {
		o.DefaultTimeoutSeconds = 10
	}
	if o.DefaultFailurePolicy == "" {
		o.DefaultFailurePolicy = admissionregistrationv1.Fail
	}
	return o
}

// ruleSet accumulates group/version/resource triples with operations.
type ruleSet map[string]map[admissionregistrationv1.OperationType]bool

func (rs ruleSet) add(group, version, resource string, ops ...admissionregistrationv1.OperationType) {
	key := group + "|" + version + "|" + resource
	if rs[key] == nil {
		rs[key] = map[admissionregistrationv1.OperationType]bool{}
	}
	for _, op := range ops {
		rs[key][op] = true
	}
}

// ephemeralContainers is the Pod subresource `kubectl debug` updates.
const ephemeralContainers = "pods/ephemeralcontainers"

// coverEphemeralContainers registers UPDATE of pods/ephemeralcontainers
// wherever Pods are registered (by name or a wildcard resource): its
// object is the Pod, evaluated by every rule on Pods as Kyverno and the
// Pod Security admission do. Without it an ephemeral container (any
// image, privileged) bypasses every policy.
func (rs ruleSet) coverEphemeralContainers() {
	for k := range rs {
		parts := strings.SplitN(k, "|", 3)
		group, resource := parts[0], parts[2]
		if (group == "" || group == "*") && (resource == "pods" || resource == "*") {
			rs.add("", "v1", ephemeralContainers, admissionregistrationv1.Update)
			return
		}
	}
}

func (rs ruleSet) rules() []admissionregistrationv1.RuleWithOperations {
	rs.coverEphemeralContainers()
	keys := make([]string, 0, len(rs))
	for k := range rs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]admissionregistrationv1.RuleWithOperations, 0, len(keys))
	for _, k := range keys {
		parts := strings.SplitN(k, "|", 3)
		var ops []admissionregistrationv1.OperationType
		if rs[k][admissionregistrationv1.OperationAll] {
			ops = []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll}
		} else {
			for op := range rs[k] {
				ops = append(ops, op)
			}
			sort.Slice(ops, func(i, j int) bool { return ops[i] < ops[j] })
		}
		scope := admissionregistrationv1.AllScopes
		out = append(out, admissionregistrationv1.RuleWithOperations{Operations: ops,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{parts[0]}, APIVersions: []string{parts[1]}, Resources: []string{parts[2]}, Scope: &scope}})
	}
	return out
}

var defaultOps = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}

// Defaults are the failure policy and timeout of policies that set none,
// as the admission handler must know them (admission.HandlerOptions.
// WebhookDefaults) to route each group's path to its policies.
func (o Options) Defaults() admission.GroupDefaults {
	o = o.withDefaults()
	return admission.GroupDefaults{FailurePolicy: o.DefaultFailurePolicy, TimeoutSeconds: o.DefaultTimeoutSeconds}
}

// Desired returns the configuration for set: one webhook per group of
// policies sharing a failurePolicy and timeout (admission.WebhookGroup),
// each calling its own path (admission.WebhookGroup.Path) so that it
// evaluates its own policies only, under its own timeout. Policies with
// no admission rules (background only) contribute nothing.
func Desired(set *policy.Set, caBundle []byte, o Options) *admissionregistrationv1.ValidatingWebhookConfiguration {
	o = o.withDefaults()
	defaults := o.Defaults()
	type groupKey = admission.WebhookGroup
	groups := map[groupKey]ruleSet{}
	scopes := map[groupKey]*namespaceScope{}
	get := func(k groupKey) ruleSet {
		if groups[k] == nil {
			groups[k] = ruleSet{}
			scopes[k] = &namespaceScope{}
		}
		return groups[k]
	}
	for _, p := range set.Policies {
		if p.Spec.Spec.Admission != nil && !*p.Spec.Spec.Admission {
			continue
		}
		g := defaults.PolicyGroup(p)
		rs := get(g)
		for _, r := range p.Rules {
			if r.Match != nil {
				// Every rule the group's path evaluates counts (its
				// verifyImages rules too), not only those that add kinds.
				scopes[g].addRule(p, r)
			}
			// verifyImages rules are evaluated on their group's path as
			// validate rules are: their kinds are registered there too
			// (a policy of its own failure policy or timeout whose only
			// rules verify images would otherwise never be called).
			if (r.Spec.Validation == nil && len(r.Spec.VerifyImages) == 0) || r.Match == nil {
				continue
			}
			for _, f := range append(append([]policy.Filter{}, r.Match.Any...), r.Match.All...) {
				ops := defaultOps
				if len(f.Resource.Operations) > 0 {
					ops = nil
					for _, op := range f.Resource.Operations {
						ops = append(ops, admissionregistrationv1.OperationType(op))
					}
				}
				for _, ks := range f.Kinds {
					addKind(rs, ks, ops)
				}
			}
		}
	}
	for _, vp := range set.Validating {
		g := defaults.ValidatingGroup(vp)
		rs := get(g)
		scopes[g].unbounded = true
		addMatchConstraints(rs, vp.Spec.Spec.MatchConstraints)
		if len(vp.Variants) > 1 {
			addPodControllers(rs)
		}
	}
	if o.ImagePolicies {
		// ClusterImagePolicies belong to the default group.
		addPodResources(get(defaults.Default()))
		scopes[defaults.Default()].unbounded = true
	}
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "portcullis"}},
	}
	keys := make([]groupKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].FailurePolicy != keys[j].FailurePolicy {
			return keys[i].FailurePolicy < keys[j].FailurePolicy
		}
		return keys[i].TimeoutSeconds < keys[j].TimeoutSeconds
	})
	for _, k := range keys {
		rules := groups[k].rules()
		if len(rules) == 0 {
			continue
		}
		name := "validate-" + k.ID() + "." + o.PolicyGroup
		cfg.Webhooks = append(cfg.Webhooks, webhook(name, k.Path(), rules, k.FailurePolicy, k.TimeoutSeconds, caBundle, o, scopes[k].only()))
	}
	// The policies themselves are validated before they are stored.
	scope := admissionregistrationv1.AllScopes
	policyRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: defaultOps,
		Rule: admissionregistrationv1.Rule{APIGroups: []string{o.PolicyGroup}, APIVersions: []string{"v1"},
			Resources: []string{"clusterpolicies", "policies"}, Scope: &scope},
	}}
	if o.WatchImagePolicies {
		policyRules = append(policyRules, admissionregistrationv1.RuleWithOperations{
			Operations: defaultOps,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{"policy.sigstore.dev"}, APIVersions: []string{"v1beta1"},
				Resources: []string{"clusterimagepolicies"}, Scope: &scope},
		})
	}
	if o.WatchExceptions {
		policyRules = append(policyRules, admissionregistrationv1.RuleWithOperations{
			Operations: defaultOps,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{"kyverno.io"}, APIVersions: []string{"v2", "v2beta1"},
				Resources: []string{"policyexceptions"}, Scope: &scope},
		})
	}
	if len(o.CELPolicyResources) > 0 {
		res := append([]string(nil), o.CELPolicyResources...)
		sort.Strings(res)
		policyRules = append(policyRules, admissionregistrationv1.RuleWithOperations{
			Operations: defaultOps,
			Rule: admissionregistrationv1.Rule{APIGroups: []string{policiesv1.Group}, APIVersions: celPolicyVersions,
				Resources: res, Scope: &scope},
		})
	}
	cfg.Webhooks = append(cfg.Webhooks, webhook("validate-policies."+o.PolicyGroup, ValidatePolicyPath, policyRules,
		admissionregistrationv1.Fail, o.DefaultTimeoutSeconds, caBundle, o, nil))
	return cfg
}

// DesiredMutating returns the MutatingWebhookConfiguration: one webhook
// sending to /mutate the kinds the set's Kyverno mutate rules match
// (CREATE and UPDATE, or the operations a match filter names) and, while
// image policies are in force, Pods and workloads; none when there is
// nothing to mutate. It has the same name as the validating
// configuration. Mutate rules with targets (mutate existing resources)
// are not applied at admission and add no kinds.
func DesiredMutating(set *policy.Set, caBundle []byte, o Options) *admissionregistrationv1.MutatingWebhookConfiguration {
	o = o.withDefaults()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Labels: map[string]string{"app.kubernetes.io/managed-by": "portcullis"}},
	}
	rs := ruleSet{}
	scope := &namespaceScope{}
	if o.ImagePolicies {
		addPodResources(rs)
		scope.unbounded = true
	}
	addMutateRules(rs, scope, set)
	if len(rs.rules()) == 0 {
		return cfg
	}
	v := webhook("mutate-images."+o.PolicyGroup, MutatePath, rs.rules(), o.DefaultFailurePolicy, o.DefaultTimeoutSeconds, caBundle, o, scope.only())
	// Pinning a tag twice gives the same digest; later mutating webhooks
	// that add containers get their images pinned on reinvocation.
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	cfg.Webhooks = []admissionregistrationv1.MutatingWebhook{{
		Name: v.Name, ClientConfig: v.ClientConfig, Rules: v.Rules, FailurePolicy: v.FailurePolicy,
		MatchPolicy: v.MatchPolicy, SideEffects: v.SideEffects, TimeoutSeconds: v.TimeoutSeconds,
		AdmissionReviewVersions: v.AdmissionReviewVersions, NamespaceSelector: v.NamespaceSelector,
		ReinvocationPolicy: &ifNeeded,
	}}
	return cfg
}

// addMutateRules adds the kinds of the set's mutate rules and the
// matchConstraints of its MutatingPolicies (with the pod controllers of
// their autogen variants), and their namespaces to scope.
func addMutateRules(rs ruleSet, scope *namespaceScope, set *policy.Set) {
	if set == nil {
		return
	}
	for _, mp := range set.Mutating {
		if !mp.Admission() {
			continue
		}
		scope.unbounded = true
		addMatchConstraints(rs, mp.Spec.Spec.MatchConstraints)
		if len(mp.Variants) > 1 {
			addPodControllers(rs)
		}
	}
	mutateOps := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	for _, p := range set.Policies {
		if p.Spec.Spec.Admission != nil && !*p.Spec.Spec.Admission {
			continue
		}
		for _, r := range p.Rules {
			if r.Spec.Mutation == nil || len(r.Spec.Mutation.Targets) > 0 || r.Match == nil {
				continue
			}
			scope.addRule(p, r)
			for _, f := range append(append([]policy.Filter{}, r.Match.Any...), r.Match.All...) {
				ops := mutateOps
				if len(f.Resource.Operations) > 0 {
					ops = nil
					for _, op := range f.Resource.Operations {
						ops = append(ops, admissionregistrationv1.OperationType(op))
					}
				}
				for _, ks := range f.Kinds {
					addKind(rs, ks, ops)
				}
			}
		}
	}
}

func addKind(rs ruleSet, ks policy.KindSelector, ops []admissionregistrationv1.OperationType) {
	if ks.Kind == "*" || strings.ContainsAny(ks.Kind, "*?") {
		rs.add("*", "*", "*", ops...)
		return
	}
	group, version := "*", "*"
	if !ks.AnyGroupVersion {
		if ks.Group != "*" {
			group = ks.Group
		}
		if ks.Version != "" {
			version = ks.Version
		}
	}
	apiVersion := version
	if group != "*" && group != "" {
		apiVersion = group + "/" + version
	}
	resource := kinds.Lookup(apiVersion, ks.Kind).Resource
	if ks.Subresource != "" {
		resource += "/" + ks.Subresource
	}
	if ks.AnyGroupVersion {
		// A bare kind matches it in any group (Kyverno semantics).
		rs.add("*", "*", resource, ops...)
		return
	}
	rs.add(group, version, resource, ops...)
}

func addMatchConstraints(rs ruleSet, m *admissionregistrationv1.MatchResources) {
	if m == nil {
		return
	}
	for _, r := range m.ResourceRules {
		for _, g := range r.APIGroups {
			for _, v := range r.APIVersions {
				for _, res := range r.Resources {
					rs.add(g, v, res, r.Operations...)
				}
			}
		}
	}
}

// webhook returns one webhook calling path for rules. It skips the
// namespaces o excludes and, when only is not nil, every namespace but
// those (see namespaceScope).
func webhook(name, path string, rules []admissionregistrationv1.RuleWithOperations, fp admissionregistrationv1.FailurePolicyType,
	timeout int32, caBundle []byte, o Options, only []string) admissionregistrationv1.ValidatingWebhook {
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	cc := admissionregistrationv1.WebhookClientConfig{CABundle: caBundle}
	if o.Service != "" {
		p := path
		port := o.Port
		cc.Service = &admissionregistrationv1.ServiceReference{Namespace: o.Namespace, Name: o.Service, Path: &p, Port: &port}
	} else {
		u := strings.TrimSuffix(o.URL, "/") + path
		cc.URL = &u
	}
	fpCopy, t := fp, timeout
	selector := []metav1.LabelSelectorRequirement{{
		Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpNotIn, Values: o.ExcludeNamespaces,
	}}
	if only != nil {
		selector = append(selector, metav1.LabelSelectorRequirement{Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: only})
	}
	return admissionregistrationv1.ValidatingWebhook{
		Name:                    name,
		ClientConfig:            cc,
		Rules:                   rules,
		FailurePolicy:           &fpCopy,
		MatchPolicy:             &equivalent,
		SideEffects:             &none,
		TimeoutSeconds:          &t,
		AdmissionReviewVersions: []string{"v1"},
		NamespaceSelector:       &metav1.LabelSelector{MatchExpressions: selector},
	}
}

// namespaceNameLabel is the label the API server sets on every Namespace
// to its name.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// namespaceScope collects the namespaces the rules behind one webhook can
// match, so that the webhook's namespaceSelector lets the API server skip
// the call (no AdmissionReview, no round trip) for a resource in any other
// namespace, where no rule could apply. A rule is bounded when it can only
// match resources of namespaces named exactly: a rule of a namespaced
// Policy (the engine applies those to their own namespace only), or one
// whose match filters all list namespaces without wildcards (match.any,
// or one filter of match.all; match.any decides when both are set, as in
// the engine). One unbounded rule, a CEL policy or an image policy behind
// the webhook keeps every namespace. Cluster-scoped resources are always
// sent (a namespaceSelector never skips them); a Namespace is matched by
// its own name, as the engine's namespaces filter does.
type namespaceScope struct {
	unbounded bool
	names     map[string]bool
}

// addRule adds what rule r of policy p can match.
func (s *namespaceScope) addRule(p *policy.Policy, r *policy.Rule) {
	if s.unbounded {
		return
	}
	if ns := p.Namespace(); ns != "" {
		s.add(ns)
		return
	}
	names, bounded := matchNamespaces(r.Match)
	if !bounded {
		s.unbounded = true
		return
	}
	for _, n := range names {
		s.add(n)
	}
}

func (s *namespaceScope) add(name string) {
	if len(validation.IsDNS1123Label(name)) > 0 {
		s.unbounded = true // not a namespace name (a variable, say): keep every namespace
		return
	}
	if s.names == nil {
		s.names = map[string]bool{}
	}
	s.names[name] = true
}

// only returns the sorted namespaces the webhook is needed in, or nil when
// it is needed in every one.
func (s *namespaceScope) only() []string {
	if s == nil || s.unbounded || len(s.names) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// matchNamespaces returns the namespaces a match block can select
// resources in, and whether that set is bounded (see namespaceScope).
func matchNamespaces(m *policy.Match) (names []string, bounded bool) {
	exact := func(f *policy.Filter) bool {
		if len(f.Resource.Namespaces) == 0 {
			return false
		}
		for _, n := range f.Resource.Namespaces {
			if strings.ContainsAny(n, "*?") || len(validation.IsDNS1123Label(n)) > 0 {
				return false
			}
		}
		return true
	}
	switch {
	case m == nil:
		return nil, true
	case len(m.Any) > 0:
		for i := range m.Any {
			if !exact(&m.Any[i]) {
				return nil, false
			}
			names = append(names, m.Any[i].Resource.Namespaces...)
		}
		return names, true
	}
	for i := range m.All {
		if exact(&m.All[i]) {
			return m.All[i].Resource.Namespaces, true
		}
	}
	return nil, len(m.All) == 0
}

// Apply creates the configuration or updates it to desired. Several
// replicas may apply at once: a lost create or update race is retried
// against what the winner wrote.
func Apply(ctx context.Context, c client.Client, desired *admissionregistrationv1.ValidatingWebhookConfiguration) error {
	return apply(ctx, c, desired, func(cur *admissionregistrationv1.ValidatingWebhookConfiguration) { cur.Webhooks = desired.Webhooks })
}

// ApplyMutating creates or updates the mutating configuration, like Apply.
func ApplyMutating(ctx context.Context, c client.Client, desired *admissionregistrationv1.MutatingWebhookConfiguration) error {
	return apply(ctx, c, desired, func(cur *admissionregistrationv1.MutatingWebhookConfiguration) { cur.Webhooks = desired.Webhooks })
}

// webhookConfiguration is a Validating- or MutatingWebhookConfiguration.
type webhookConfiguration[T any] interface {
	*T
	client.Object
	DeepCopy() *T
}

// apply creates desired or, when it exists, sets its webhooks (setWebhooks),
// owners and labels, retrying lost races.
func apply[T any, P webhookConfiguration[T]](ctx context.Context, c client.Client, desired P, setWebhooks func(cur P)) error {
	kind := fmt.Sprintf("%T", *desired)
	kind = kind[strings.LastIndex(kind, ".")+1:]
	once := func() error {
		cur := P(new(T))
		err := c.Get(ctx, client.ObjectKey{Name: desired.GetName()}, cur)
		switch {
		case apierrors.IsNotFound(err):
			if err := c.Create(ctx, P(desired.DeepCopy())); err != nil {
				return fmt.Errorf("create %s %s: %w", kind, desired.GetName(), err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("get %s %s: %w", kind, desired.GetName(), err)
		}
		setWebhooks(cur)
		if owners := desired.GetOwnerReferences(); len(owners) > 0 {
			cur.SetOwnerReferences(owners)
		}
		labels := cur.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		for k, v := range desired.GetLabels() {
			labels[k] = v
		}
		cur.SetLabels(labels)
		if err := c.Update(ctx, cur); err != nil {
			return fmt.Errorf("update %s %s: %w", kind, desired.GetName(), err)
		}
		return nil
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = once(); err == nil {
			return nil
		}
		if !apierrors.IsAlreadyExists(errors.Unwrap(err)) && !apierrors.IsConflict(errors.Unwrap(err)) {
			return err
		}
	}
	return err
}
