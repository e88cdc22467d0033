package cel

import (
	"context"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/mutation"
)

// PatchType is the kind of a mutation's result.
type PatchType int

const (
	// JSONPatch expressions evaluate to a list of JSONPatch{op, path,
	// from, value} values (an RFC 6902 patch).
	JSONPatch PatchType = iota
	// ApplyConfiguration expressions evaluate to an Object{...} value, an
	// apply configuration merged into the object with structured merge
	// diff.
	ApplyConfiguration
)

// String implements fmt.Stringer.
func (t PatchType) String() string {
	switch t {
	case JSONPatch:
		return "JSONPatch"
	case ApplyConfiguration:
		return "ApplyConfiguration"
	}
	return fmt.Sprintf("PatchType(%d)", int(t))
}

// Mutation is one spec.mutations entry of a MutatingAdmissionPolicy or a
// Kyverno MutatingPolicy.
type Mutation struct {
	PatchType PatchType
	// Expression is jsonPatch.expression or applyConfiguration.expression.
	Expression string
}

// The result types the API server requires of mutation expressions.
var (
	jsonPatchType          = types.NewObjectType(mutation.JSONPatchTypeName)
	applyConfigurationType = types.NewObjectType(mutation.ObjectTypeName)
)

// patchTypesOptions are the API server's additions to the environment of
// mutation expressions (k8s.io/apiserver/pkg/admission/plugin/cel,
// HasPatchTypes): the Object and JSONPatch types resolved without a schema,
// and the jsonpatch.escapeKey function.
var patchTypesOptions = environment.VersionedOptions{
	IntroducedVersion: version.MajorMinor(1, 0),
	EnvOptions: []cel.EnvOption{
		common.ResolverEnvOption(&mutation.DynamicTypeResolver{}),
		environment.UnversionedLib(library.JSONPatch),
	},
}

type compiledMutation struct {
	patchType PatchType
	expr      *compiledExpr
}

func (cc *compiler) compileMutations(p *Program, ms []Mutation) {
	for i, m := range ms {
		var expr *compiledExpr
		switch m.PatchType {
		case JSONPatch:
			expr, _ = cc.compile(fmt.Sprintf("mutations[%d].jsonPatch.expression", i), m.Expression, kindJSONPatchList)
		case ApplyConfiguration:
			expr, _ = cc.compile(fmt.Sprintf("mutations[%d].applyConfiguration.expression", i), m.Expression, kindApplyConfiguration)
		default:
			cc.problem(fmt.Sprintf("mutations[%d].patchType", i), 0, 0, "unknown patch type %v", m.PatchType)
			continue
		}
		if expr != nil {
			p.mutations = append(p.mutations, compiledMutation{patchType: m.PatchType, expr: expr})
		}
	}
}

// Mutations returns the patch type of each compiled mutation, in order.
func (p *Program) Mutations() []PatchType {
	out := make([]PatchType, len(p.mutations))
	for i, m := range p.mutations {
		out[i] = m.patchType
	}
	return out
}

// EvalMutation evaluates mutation i against in, with a fresh activation
// (variables are evaluated again, against in.Object: the object as the
// earlier mutations left it), and the runtime budget of one call. The
// value is a list of JSONPatch values or an Object value (see
// k8s.io/apiserver/pkg/cel/mutation); converting and applying it is the
// caller's job. Any failure (runtime error, cost limit or budget,
// cancellation) is an error.
func (p *Program) EvalMutation(ctx context.Context, i int, in Input) (ref.Val, error) {
	if i < 0 || i >= len(p.mutations) {
		return nil, fmt.Errorf("mutation %d does not exist (%d compiled)", i, len(p.mutations))
	}
	m := &p.mutations[i]
	e := p.newEvaluation(ctx, &in)
	remaining := p.opts.RuntimeBudget
	val, _, exprErr, fatal := e.run(ctx, m.expr, &remaining)
	if fatal != nil {
		return nil, fatal
	}
	if exprErr != nil {
		return nil, fmt.Errorf("%s: %w", m.expr.field, exprErr)
	}
	return val, nil
}
