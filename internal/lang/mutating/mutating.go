package mutating

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/portcullis/portcullis/internal/lang/cel"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/cel/mutation"
	"k8s.io/apiserver/pkg/cel/mutation/dynamic"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// Spec is everything of a mutating policy that is CEL.
type Spec struct {
	// Dialect is cel.Kubernetes for a MutatingAdmissionPolicy, cel.Kyverno
	// for a MutatingPolicy.
	Dialect cel.Dialect
	// HasParams declares `params` (MutatingAdmissionPolicy with paramKind).
	HasParams bool
	// FieldPrefix is prepended to the field paths of compile problems.
	FieldPrefix     string
	Variables       []cel.Variable
	MatchConditions []cel.MatchCondition
	Mutations       []cel.Mutation
	// AuditAnnotations (MutatingPolicy) are evaluated on the patched
	// object by Annotations.
	AuditAnnotations []cel.AuditAnnotation
	// ServerSideApply merges apply configurations with server-side apply
	// semantics: atomic lists, maps and structs are replaced as a whole
	// instead of refused (Kyverno's evaluation.useServerSideApply).
	ServerSideApply bool
}

// Program is a compiled Spec. It is immutable and safe for concurrent use.
type Program struct {
	prog            *cel.Program
	serverSideApply bool
	annotations     bool
}

// Compile type-checks every expression of s (mutations must evaluate to
// Object or list(JSONPatch) exactly). The error is a *cel.CompileError
// listing every problem with its field.
func Compile(c *cel.Compiler, s Spec) (*Program, error) {
	if len(s.Mutations) == 0 {
		return nil, &cel.CompileError{Problems: []cel.Problem{{Field: s.FieldPrefix + "mutations", Message: "at least one mutation is required"}}}
	}
	prog, err := c.Compile(cel.Spec{Dialect: s.Dialect, HasParams: s.HasParams, FieldPrefix: s.FieldPrefix,
		Variables: s.Variables, MatchConditions: s.MatchConditions, Mutations: s.Mutations, AuditAnnotations: s.AuditAnnotations})
	if err != nil {
		return nil, err
	}
	for _, m := range s.Mutations {
		if m.PatchType == cel.ApplyConfiguration {
			// Parse the built-in schemas now (about a second, once per
			// process) rather than in the first request that needs them.
			builtinTypes()
			break
		}
	}
	return &Program{prog: prog, serverSideApply: s.ServerSideApply, annotations: len(s.AuditAnnotations) > 0}, nil
}

// Annotations evaluates the audit annotations on in (whose Object is the
// patched object, as Kyverno evaluates them after the mutations): the
// published ones by key (a null or empty value is not published). nil
// when the Spec has none; an expression error is an error.
func (p *Program) Annotations(ctx context.Context, in cel.Input) (map[string]string, error) {
	if !p.annotations {
		return nil, nil
	}
	res, err := p.prog.Validate(ctx, in)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, a := range res.AuditAnnotations {
		if a.Error != "" {
			return nil, fmt.Errorf("auditAnnotation %q: %s", a.Key, a.Error)
		}
		if a.Publish {
			out[a.Key] = a.Value
		}
	}
	return out, nil
}

// Match evaluates the match conditions (see cel.Program.Match).
func (p *Program) Match(ctx context.Context, in cel.Input) (cel.MatchResult, error) {
	return p.prog.Match(ctx, in)
}

// Apply runs the mutations on in.Object and returns the patched object
// (a new map; in.Object is not modified). in carries the rest of what the
// expressions see: oldObject, request, params, namespaceObject and the
// lookup stores. The error names the mutation that failed.
func (p *Program) Apply(ctx context.Context, in cel.Input) (map[string]any, error) {
	if in.Object == nil {
		return nil, errors.New("there is no object to mutate")
	}
	obj, err := copyJSON(in.Object)
	if err != nil {
		return nil, fmt.Errorf("cannot copy the object: %w", err)
	}
	for i, pt := range p.prog.Mutations() {
		in.Object = obj
		val, err := p.prog.EvalMutation(ctx, i, in)
		if err != nil {
			return nil, err
		}
		switch pt {
		case cel.JSONPatch:
			obj, err = applyJSONPatch(obj, val)
		case cel.ApplyConfiguration:
			obj, err = applyConfiguration(obj, val, p.serverSideApply)
		default:
			err = fmt.Errorf("unknown patch type %v", pt)
		}
		if err != nil {
			return nil, fmt.Errorf("mutations[%d]: %w", i, err)
		}
	}
	return obj, nil
}

// applyJSONPatch turns a list of JSONPatch values into an RFC 6902 patch
// and applies it, as the API server's JSON patcher does.
func applyJSONPatch(obj map[string]any, val ref.Val) (map[string]any, error) {
	ops, err := PatchOps(val)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the object: %w", err)
	}
	patched, err := ops.Apply(doc)
	if err != nil {
		if errors.Is(err, jsonpatch.ErrTestFailed) {
			// A failed test operation means the patch is not applied.
			return obj, nil
		}
		return nil, fmt.Errorf("JSON Patch: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(patched, &out); err != nil {
		return nil, fmt.Errorf("JSON Patch: the patched object is not an object: %w", err)
	}
	return out, nil
}

// PatchOps converts the value of a JSONPatch mutation expression (a list
// of JSONPatch values) into a JSON patch.
func PatchOps(val ref.Val) (jsonpatch.Patch, error) {
	list, ok := val.(traits.Lister)
	if !ok {
		return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array, got %v", val.Type())
	}
	ops := jsonpatch.Patch{}
	for it := list.Iterator(); it.HasNext() == types.True; {
		native, err := it.Next().ConvertToNative(reflect.TypeOf(&mutation.JSONPatchVal{}))
		if err != nil {
			return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch: %w", err)
		}
		op, ok := native.(*mutation.JSONPatchVal)
		if !ok {
			return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch, got element of %T", native)
		}
		raw := func(s string) *json.RawMessage { m := json.RawMessage(strconv.Quote(s)); return &m }
		o := jsonpatch.Operation{"op": raw(op.Op), "path": raw(op.Path)}
		if op.From != "" {
			o["from"] = raw(op.From)
		}
		if op.Val != nil {
			if objVal, ok := op.Val.(*dynamic.ObjectVal); ok {
				if err := objVal.CheckTypeNamesMatchFieldPathNames(); err != nil {
					return nil, fmt.Errorf("type mismatch: %w", err)
				}
			}
			v, err := op.Val.ConvertToNative(reflect.TypeOf(&structpb.Value{}))
			if err != nil {
				return nil, fmt.Errorf("JSONPatch value evaluated to a type that could not marshal to JSON: %w", err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("JSONPatch value evaluated to a type that could not marshal to JSON: %w", err)
			}
			m := json.RawMessage(b)
			o["value"] = &m
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// applyConfiguration merges an Object value into obj with structured
// merge diff, as the API server's apply-configuration patcher does.
func applyConfiguration(obj map[string]any, val ref.Val, serverSideApply bool) (map[string]any, error) {
	objVal, ok := val.(*dynamic.ObjectVal)
	if !ok {
		return nil, fmt.Errorf("unsupported return type from ApplyConfiguration expression: %v", val.Type())
	}
	if err := objVal.CheckTypeNamesMatchFieldPathNames(); err != nil {
		return nil, fmt.Errorf("type mismatch: %w", err)
	}
	value, ok := objVal.Value().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("invalid return type: %T", objVal.Value())
	}
	value, err := copyJSON(value)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the apply configuration: %w", err)
	}
	original := &unstructured.Unstructured{Object: obj}
	gvk := original.GroupVersionKind()
	if gvk.Kind == "" {
		return nil, errors.New("the object has no kind")
	}
	applied := &unstructured.Unstructured{Object: value}
	applied.SetGroupVersionKind(gvk)
	merge := patch.ApplyStructuredMergeDiff
	if serverSideApply {
		merge = mergeReplacingAtomics
	}
	patched, err := merge(typeConverterFor(original), original, applied)
	if err != nil {
		return nil, fmt.Errorf("error applying patch: %w", err)
	}
	u, ok := patched.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("the patched object is a %T", patched)
	}
	out, err := copyJSON(u.Object)
	if err != nil {
		return nil, err
	}
	dropNewNulls(out, obj)
	return out, nil
}

// dropNewNulls removes the null fields of patched that original does not
// have. Structured merge diff turns an empty list or map of the apply
// configuration into null; the API server drops those when it decodes the
// result into its typed object (omitempty), so a field the object did not
// have does not appear as null. Lists are walked by index where both
// sides have the entry.
func dropNewNulls(patched, original map[string]any) {
	for k, v := range patched {
		ov, had := original[k]
		switch v := v.(type) {
		case nil:
			if !had {
				delete(patched, k)
			}
		case map[string]any:
			om, _ := ov.(map[string]any)
			dropNewNulls(v, om)
		case []any:
			ol, _ := ov.([]any)
			for i, x := range v {
				if m, ok := x.(map[string]any); ok {
					var om map[string]any
					if i < len(ol) {
						om, _ = ol[i].(map[string]any)
					}
					dropNewNulls(m, om)
				}
			}
		}
	}
}

// mergeReplacingAtomics is ApplyStructuredMergeDiff without its refusal
// of atomic values: the apply configuration replaces an atomic list, map
// or struct as a whole, as server-side apply does.
func mergeReplacingAtomics(tc managedfields.TypeConverter, original runtime.Object, applied *unstructured.Unstructured) (runtime.Object, error) {
	if applied.GroupVersionKind() != original.GetObjectKind().GroupVersionKind() {
		return nil, fmt.Errorf("patch (%v) and original object (%v) are not of the same gvk", applied.GroupVersionKind(), original.GetObjectKind().GroupVersionKind())
	}
	appliedTyped, err := tc.ObjectToTyped(applied)
	if err != nil {
		return nil, fmt.Errorf("failed to convert patch object to typed object: %w", err)
	}
	liveTyped, err := tc.ObjectToTyped(original, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("failed to convert original object to typed object: %w", err)
	}
	merged, err := liveTyped.Merge(appliedTyped)
	if err != nil {
		return nil, fmt.Errorf("failed to merge patch: %w", err)
	}
	return tc.TypedToObject(merged)
}

// builtinTypes is the type converter of the kinds client-go knows, with
// their published schemas; built on first use (it parses every schema)
// and immutable after.
var builtinTypes = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.Scheme)
})

// deducedTypes types any object from its content: maps merge
// field by field, lists are atomic.
var deducedTypes = managedfields.NewDeducedTypeConverter()

// typeConverterFor returns the built-in converter when it knows the
// object's kind, else the deduced one (as the API server falls back to
// the schema it can get).
func typeConverterFor(obj *unstructured.Unstructured) managedfields.TypeConverter {
	stub := &unstructured.Unstructured{}
	stub.SetGroupVersionKind(obj.GroupVersionKind())
	tc := builtinTypes()
	if _, err := tc.ObjectToTyped(stub); err == nil {
		return tc
	}
	return deducedTypes
}

// copyJSON deep-copies decoded JSON through encoding/json, so that every
// number is a float64 as in the rest of the engine.
func copyJSON(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}
