package cel

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Kyverno's generator library (policies.kyverno.io GeneratingPolicy):
//
//	generator.Apply(namespace string, objects list(dyn)) bool
//
// Kyverno creates the objects in the namespace as a side effect of the
// call. Here the call only records them (with metadata.namespace set to
// namespace when it is not empty): Program.Generate returns what the
// expressions asked for and the caller decides what to do with it, so
// evaluation stays free of I/O.

// Generation is one generate entry of a GeneratingPolicy: an expression
// calling generator.Apply.
type Generation struct {
	Expression string
}

var generatorContextType = cel.OpaqueType("kyverno.generator.Context")

// generatorLibrary declares `generator` and its Apply function.
func generatorLibrary() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable("generator", generatorContextType),
		cel.Function("Apply",
			cel.MemberOverload("generator_apply_string_list",
				[]*cel.Type{generatorContextType, cel.StringType, cel.ListType(cel.DynType)}, cel.BoolType,
				cel.FunctionBinding(generatorApply)),
		),
	}
}

// generatorRecv is the value of `generator` in one evaluation: it
// collects the objects passed to Apply.
type generatorRecv struct {
	objects []map[string]any
}

func (g *generatorRecv) ConvertToNative(t reflect.Type) (any, error) {
	return nil, fmt.Errorf("disallowed conversion from %q to %v", generatorContextType.TypeName(), t)
}
func (g *generatorRecv) ConvertToType(t ref.Type) ref.Val {
	if t.TypeName() == generatorContextType.TypeName() {
		return g
	}
	return types.NewErr("disallowed conversion from %q to %q", generatorContextType.TypeName(), t.TypeName())
}
func (g *generatorRecv) Equal(other ref.Val) ref.Val { return types.Bool(other == ref.Val(g)) }
func (g *generatorRecv) Type() ref.Type              { return generatorContextType }
func (g *generatorRecv) Value() any                  { return g }

func generatorApply(args ...ref.Val) ref.Val {
	g, ok := args[0].(*generatorRecv)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[0])
	}
	ns, ok := args[1].(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[1])
	}
	list, ok := args[2].(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[2])
	}
	var objs []map[string]any
	for it := list.Iterator(); it.HasNext() == types.True; {
		v, err := JSONOf(it.Next())
		if err != nil {
			return types.NewErr("generator.Apply: %v", err)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return types.NewErr("generator.Apply: an object must be a map, not %T", v)
		}
		if ns != "" {
			meta, _ := obj["metadata"].(map[string]any)
			if meta == nil {
				meta = map[string]any{}
				obj["metadata"] = meta
			}
			meta["namespace"] = string(ns)
		}
		objs = append(objs, obj)
	}
	g.objects = append(g.objects, objs...)
	return types.True
}

// JSONOf converts a CEL value to decoded JSON (map[string]any, []any,
// string, float64, bool, nil), as an object written back to the API
// server would be encoded: timestamps and durations as strings, bytes as
// base64.
func JSONOf(v ref.Val) (any, error) {
	switch t := v.(type) {
	case types.Null:
		return nil, nil
	case types.String:
		return string(t), nil
	case types.Bool:
		return bool(t), nil
	case types.Int:
		return float64(t), nil
	case types.Uint:
		return float64(t), nil
	case types.Double:
		return float64(t), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(t), nil
	case types.Timestamp, types.Duration:
		s := t.ConvertToType(types.StringType)
		if types.IsError(s) {
			return nil, fmt.Errorf("%v", s)
		}
		return string(s.(types.String)), nil
	case *types.Err:
		return nil, t
	case traits.Mapper:
		out := map[string]any{}
		for it := t.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			ks, ok := k.(types.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			val, err := JSONOf(t.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = val
		}
		return out, nil
	case traits.Lister:
		out := []any{}
		for it := t.Iterator(); it.HasNext() == types.True; {
			val, err := JSONOf(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of type %s", v.Type().TypeName())
}

// Generate evaluates the generate expressions of a Program compiled with
// Spec.Generations and returns the objects they passed to generator.Apply,
// in order. The first expression that fails stops evaluation with an
// error naming it; exhausting the runtime budget or ctx is an error too.
func (p *Program) Generate(ctx context.Context, in Input) ([]map[string]any, error) {
	e := p.newEvaluation(ctx, &in)
	g := &generatorRecv{}
	e.generator = g
	remaining := p.opts.RuntimeBudget
	for _, x := range p.generations {
		_, _, exprErr, fatal := e.run(ctx, x, &remaining)
		if fatal != nil {
			return nil, fatal
		}
		if exprErr != nil {
			return nil, exprErr
		}
	}
	return g.objects, nil
}
