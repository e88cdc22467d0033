package jmespath

import (
	"context"
	"errors"
	"fmt"

	gojmespath "github.com/kyverno/go-jmespath"
)

// DefaultMaxCost bounds one evaluation: every element a projection,
// filter or flatten visits and every value a function or multi-select
// produces costs one step. Real policies over a 3 MiB admission request
// stay far below it; a hostile expression that multiplies its input
// (`[@,@][]` repeated, nested projections over a large list) reaches it
// within a fraction of a second, before it exhausts memory.
const DefaultMaxCost = 1_000_000

// ErrCostExceeded is returned (wrapped) when an evaluation exceeds its
// cost budget (WithMaxCost).
var ErrCostExceeded = errors.New("JMESPath evaluation exceeded its cost budget")

// costFunction is the hidden function the evaluation's checkpoints call.
// The space makes it impossible to name in an expression.
const costFunction = "portcullis cost"

// WithMaxCost sets the cost budget of one evaluation (default
// DefaultMaxCost, see there). Values below 1 are ignored.
func WithMaxCost(n int64) Option {
	return func(i *Interpreter) {
		if n > 0 {
			i.maxCost = n
		}
	}
}

// budget is the state of one evaluation: steps used out of max, and the
// context whose end stops it. It lives for one Search call only.
type budget struct {
	ctx       context.Context
	used, max int64
	nextCheck int64
	err       error
}

// ctxCheckEvery is how many steps pass between two looks at the context.
const ctxCheckEvery = 512

func (b *budget) charge(n int64) error {
	if b.err != nil {
		return b.err
	}
	b.used += n
	if b.used > b.max {
		b.err = fmt.Errorf("%w of %d steps", ErrCostExceeded, b.max)
		return b.err
	}
	if b.used >= b.nextCheck {
		b.nextCheck = b.used + ctxCheckEvery
		if err := b.ctx.Err(); err != nil {
			b.err = fmt.Errorf("JMESPath evaluation stopped: %w", context.Cause(b.ctx))
			return b.err
		}
	}
	return nil
}

// costEntry is the checkpoint function: cost(budget, value) charges one
// step plus the size of value and returns value unchanged, or fails once
// the budget is spent or the context has ended.
func costEntry() gojmespath.FunctionEntry {
	return gojmespath.FunctionEntry{
		Name:      costFunction,
		Arguments: []gojmespath.ArgSpec{{Types: []gojmespath.JpType{gojmespath.JpAny}}, {Types: []gojmespath.JpType{gojmespath.JpAny}}},
		Handler: func(args []any) (any, error) {
			b, ok := args[0].(*budget)
			if !ok {
				return nil, errors.New("JMESPath cost checkpoint without a budget")
			}
			n := int64(1)
			switch v := args[1].(type) {
			case []any:
				n += int64(len(v))
			case map[string]any:
				n += int64(len(v))
			}
			if err := b.charge(n); err != nil {
				return nil, err
			}
			return args[1], nil
		},
	}
}

// instrument returns a copy of node with cost checkpoints around what can
// be large or repeated: each projection, filter and flatten, the
// per-element expressions of projections and filters, multi-selects and
// function calls. It reports whether it placed any (simple paths need
// none). A checkpoint is cost(b, X); it is placed only where X cannot
// fail with NotFoundError or where the interpreter already swallows that
// error, so results and errors are unchanged.
func instrument(node gojmespath.ASTNode, b *budget) (gojmespath.ASTNode, bool) {
	out := node
	placed := false
	if len(node.Children) > 0 {
		out.Children = make([]gojmespath.ASTNode, len(node.Children))
		for i, c := range node.Children {
			var p bool
			out.Children[i], p = instrument(c, b)
			placed = placed || p
		}
	}
	switch node.NodeType {
	case gojmespath.ASTProjection, gojmespath.ASTValueProjection:
		// Children[1] runs per element; a NotFoundError there is
		// swallowed (the element is dropped), as is a nil result.
		out.Children[1] = checkpoint(out.Children[1], b)
	case gojmespath.ASTFilterProjection:
		out.Children[1] = checkpoint(out.Children[1], b)
		out.Children[2] = checkpoint(out.Children[2], b)
	}
	switch node.NodeType {
	case gojmespath.ASTProjection, gojmespath.ASTValueProjection, gojmespath.ASTFilterProjection,
		gojmespath.ASTFlatten, gojmespath.ASTMultiSelectList, gojmespath.ASTMultiSelectHash, gojmespath.ASTFunctionExpression:
		// None of these fails with NotFoundError: charge their result.
		return checkpoint(out, b), true
	}
	return out, placed
}

func checkpoint(node gojmespath.ASTNode, b *budget) gojmespath.ASTNode {
	return gojmespath.ASTNode{NodeType: gojmespath.ASTFunctionExpression, Value: costFunction,
		Children: []gojmespath.ASTNode{{NodeType: gojmespath.ASTLiteral, Value: b}, node}}
}
