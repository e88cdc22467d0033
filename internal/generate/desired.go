package generate

import (
	"context"
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/kinds"
	"github.com/portcullis/portcullis/internal/policy"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Labels on generated objects (see the package documentation).
const (
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedBy             = "portcullis"
	LabelPolicyName       = "generate.kyverno.io/policy-name"
	LabelPolicyNamespace  = "generate.kyverno.io/policy-namespace"
	LabelRuleName         = "generate.kyverno.io/rule-name"
	LabelTriggerGroup     = "generate.kyverno.io/trigger-group"
	LabelTriggerVersion   = "generate.kyverno.io/trigger-version"
	LabelTriggerKind      = "generate.kyverno.io/trigger-kind"
	LabelTriggerNamespace = "generate.kyverno.io/trigger-namespace"
	LabelTriggerName      = "generate.kyverno.io/trigger-name"
	LabelTriggerUID       = "generate.kyverno.io/trigger-uid"
	LabelPolicyKind       = "generate.portcullis.dev/policy-kind"
)

// Object is one object a policy wants to exist for a trigger.
type Object struct {
	// Object is the object with its labels.
	Object map[string]any
	// PolicyKind, Policy (key: "name" or "namespace/name") and Rule ("" for
	// a GeneratingPolicy) name what generates it.
	PolicyKind, Policy, Rule string
	// Synchronize keeps it in step with its source, restores it, and
	// deletes it with its trigger.
	Synchronize bool
	// DeleteWithPolicy deletes it when its policy or rule is deleted.
	DeleteWithPolicy bool
}

// APIVersion, Kind, Namespace and Name identify the object.
func (o Object) APIVersion() string { s, _ := o.Object["apiVersion"].(string); return s }

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o.Object["kind"].(string); return s }

// Namespace returns the object's namespace ("" when cluster-scoped).
func (o Object) Namespace() string { return metaString(o.Object, "namespace") }

// Name returns the object's name.
func (o Object) Name() string { return metaString(o.Object, "name") }

func metaString(obj map[string]any, k string) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta[k].(string)
	return s
}

// Desired evaluates the generate rules and GeneratingPolicies of set on
// the trigger in.Resource (in.Phase is set to engine.PhaseGenerate) and
// returns the objects to exist, labelled, with the engine's results. A
// passing result whose objects are not acceptable (a namespaced Policy
// generating outside its namespace, an object without kind or name)
// becomes an error result and contributes no object. The error is the
// engine's (an unusable input, ctx done).
func Desired(ctx context.Context, eng *engine.Engine, set *policy.Set, in engine.Input) ([]Object, []engine.Result, error) {
	in.Phase = engine.PhaseGenerate
	results, err := eng.Evaluate(ctx, set, in)
	if err != nil {
		return nil, results, err
	}
	trigger := in.Resource
	if trigger == nil {
		trigger = in.OldResource
	}
	labels := triggerLabels(trigger)
	var out []Object
	for i := range results {
		r := &results[i]
		if r.Status != engine.StatusPass || r.Generated == "" {
			continue
		}
		objs, err := r.GeneratedObjects()
		if err != nil {
			r.Status, r.Message = engine.StatusError, err.Error()
			continue
		}
		sync, del, ns := ruleOptions(set, *r)
		var batch []Object
		for _, obj := range objs {
			o := Object{Object: obj, PolicyKind: r.PolicyKind, Policy: r.Policy, Rule: r.Rule, Synchronize: sync, DeleteWithPolicy: del}
			if err := check(o, ns); err != nil {
				batch = nil
				r.Status, r.Message = engine.StatusError, err.Error()
				break
			}
			setLabels(obj, labels, o)
			batch = append(batch, o)
		}
		out = append(out, batch...)
	}
	return out, results, nil
}

// ruleOptions returns the synchronize and delete-with-policy options of
// the rule or GeneratingPolicy of r, and the namespace a namespaced Policy
// confines it to.
func ruleOptions(set *policy.Set, r engine.Result) (sync, deleteWithPolicy bool, namespace string) {
	if r.PolicyKind == engine.KindGeneratingPolicy {
		if gp := set.GeneratingPolicy(r.Policy); gp != nil {
			return gp.Synchronize(), gp.DeleteOnPolicyDelete(), ""
		}
		return false, false, ""
	}
	p := set.Policy(r.Policy)
	if p == nil {
		return false, false, ""
	}
	for _, rule := range p.Rules {
		if rule.Name() == r.Rule && rule.Generate != nil {
			return rule.Generate.Synchronize(), rule.Generate.DeleteOnPolicyDelete(), p.Namespace()
		}
	}
	return false, false, p.Namespace()
}

func check(o Object, policyNamespace string) error {
	if o.Kind() == "" || o.Name() == "" || o.APIVersion() == "" {
		return fmt.Errorf("a generated object needs apiVersion, kind and metadata.name (got %s %q)", o.Kind(), o.Name())
	}
	if policyNamespace != "" && o.Namespace() != policyNamespace {
		return fmt.Errorf("a namespaced Policy can only generate in its own namespace %q, not %s %s/%s", policyNamespace, o.Kind(), o.Namespace(), o.Name())
	}
	return nil
}

// triggerLabels are the trigger-* labels of objects generated for obj.
func triggerLabels(obj map[string]any) map[string]string {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	group, version := kinds.GroupVersion(apiVersion)
	out := map[string]string{
		LabelTriggerGroup:     group,
		LabelTriggerVersion:   version,
		LabelTriggerKind:      kind,
		LabelTriggerNamespace: metaString(obj, "namespace"),
	}
	if uid := metaString(obj, "uid"); uid != "" {
		out[LabelTriggerUID] = uid
	}
	if name := metaString(obj, "name"); len(validation.IsValidLabelValue(name)) == 0 {
		out[LabelTriggerName] = name
	}
	return out
}

// setLabels adds the generate labels to obj.
func setLabels(obj map[string]any, trigger map[string]string, o Object) {
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	for k, v := range trigger {
		labels[k] = v
	}
	ns, name, _ := strings.Cut(o.Policy, "/")
	if name == "" {
		ns, name = "", o.Policy
	}
	labels[LabelManagedBy] = ManagedBy
	labels[LabelPolicyName] = name
	labels[LabelPolicyNamespace] = ns
	labels[LabelPolicyKind] = o.PolicyKind
	labels[LabelRuleName] = o.Rule
}

// IsGenerateLabel reports whether a label key is one Desired or the
// engine sets (generate.kyverno.io/*, generate.portcullis.dev/*,
// app.kubernetes.io/managed-by): comparisons with expected objects that
// Kyverno's CLI produces ignore them.
func IsGenerateLabel(k string) bool {
	return k == LabelManagedBy || strings.HasPrefix(k, "generate.kyverno.io/") || strings.HasPrefix(k, "generate.portcullis.dev/")
}
