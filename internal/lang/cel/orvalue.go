package cel

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// Kyverno policies call `.orValue(default)` on values that are not
// optionals, e.g. `container.volumeMounts.orValue([])` where container comes
// from the schemaless object. The checker accepts this (a dyn receiver is
// assignable to optional_type(V)), and the cel-go versions Kyverno uses
// return such a receiver unchanged; cel-go v0.31's optional library instead
// fails with "no such overload". Portcullis follows Kyverno:
//
//   - opt.orValue(d) keeps the optional semantics (d is evaluated only when
//     opt is empty);
//   - x.orValue(d) for a non-optional value x returns x;
//   - errors and unknowns of x propagate.
//
// The optional library's interpreter decorator replaces every orValue call
// whose overload id is "" or optionalOrValueOverload, and it runs before any
// decorator a program adds. So after checking (and cost estimation, which
// thus sees the original overload) lenientOrValue re-points those calls at
// lenientOrValueOverload, which the optional decorator leaves alone and
// orValueDecorator plans into evalLenientOrValue.
const (
	optionalOrValueOverload = "optional_orValue_value"
	lenientOrValueOverload  = "portcullis_lenient_orValue_value"
	orValueFunction         = "orValue"
)

// lenientOrValue rewrites the reference map of the checked AST a so that
// its orValue calls use lenientOrValueOverload. It reports whether any call
// was rewritten.
func lenientOrValue(a *cel.Ast) bool {
	native := a.NativeRep()
	refs := native.ReferenceMap()
	rewritten := false
	ast.PostOrderVisit(native.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		if call.FunctionName() != orValueFunction || !call.IsMemberFunction() || len(call.Args()) != 1 {
			return
		}
		r, ok := refs[e.ID()]
		if !ok || len(r.OverloadIDs) != 1 || r.OverloadIDs[0] != optionalOrValueOverload {
			return
		}
		native.SetReference(e.ID(), ast.NewFunctionReference(lenientOrValueOverload))
		rewritten = true
	}))
	return rewritten
}

// orValueDecorator plans the calls rewritten by lenientOrValue.
func orValueDecorator() cel.ProgramOption {
	return cel.CustomDecoratorV2(func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		call, ok := i.(interpreter.InterpretableCall)
		if !ok || call.Function() != orValueFunction || call.OverloadID() != lenientOrValueOverload {
			return i, nil
		}
		args := call.Args()
		if len(args) != 2 {
			return i, nil
		}
		return &evalLenientOrValue{id: call.ID(), lhs: args[0], rhs: args[1]}, nil
	})
}

// evalLenientOrValue is cel-go's optional orValue evaluation, except that a
// non-optional receiver is returned unchanged. Like cel-go's, it is not an
// InterpretableCall, so it has no call cost of its own at runtime.
type evalLenientOrValue struct {
	id       int64
	lhs, rhs interpreter.InterpretableV2
}

func (o *evalLenientOrValue) ID() int64 { return o.id }

func (o *evalLenientOrValue) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	lhs := o.lhs.Exec(frame)
	opt, ok := lhs.(*types.Optional)
	if !ok {
		// Errors, unknowns and present non-optional values.
		return lhs
	}
	if opt.HasValue() {
		return opt.GetValue()
	}
	return o.rhs.Exec(frame)
}

func (o *evalLenientOrValue) Eval(vars interpreter.Activation) ref.Val {
	return o.Exec(interpreter.AsFrame(vars))
}
