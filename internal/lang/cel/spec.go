package cel

import (
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	apiservercel "k8s.io/apiserver/pkg/cel"
)

// Variable is a named expression (spec.variables). Later expressions refer
// to it as variables.<name>.
type Variable struct {
	Name       string
	Expression string
}

// MatchCondition is a named boolean precondition (spec.matchConditions).
type MatchCondition struct {
	Name       string
	Expression string
}

// Validation is one validation (spec.validations, or an entry of a
// validate.cel rule's expressions).
type Validation struct {
	// Expression must evaluate to bool; true passes.
	Expression string
	// Message is the failure message.
	Message string
	// MessageExpression must evaluate to string. When set it takes
	// precedence over Message (API server behaviour); an error, empty,
	// over-long or multi-line result falls back to Message.
	MessageExpression string
	// Reason is reported on failure; default "Invalid".
	Reason string
}

// AuditAnnotation is one spec.auditAnnotations entry.
type AuditAnnotation struct {
	Key             string
	ValueExpression string
}

// Spec is everything of a policy that is CEL.
type Spec struct {
	// Dialect selects the environment (Kubernetes or Kyverno).
	Dialect Dialect
	// HasParams declares `params` (Kubernetes dialect only), as a
	// ValidatingAdmissionPolicy with spec.paramKind does.
	HasParams bool
	// FieldPrefix is prepended to the field paths of problems, e.g.
	// "spec." or "spec.rules[0].validate.cel.".
	FieldPrefix string
	// ValidationsField names the validations in problem paths (default
	// "validations"; Kyverno's validate.cel calls them "expressions").
	ValidationsField string
	// MultilineMessages accepts line breaks in validation messages. The
	// API server refuses them in ValidatingAdmissionPolicy; Kyverno
	// accepts them in its own policies.
	MultilineMessages bool
	// Generations are the generate expressions of a GeneratingPolicy
	// (Kyverno dialect only): they see Kyverno's generator library and
	// are evaluated by Program.Generate.
	Generations []Generation

	Variables        []Variable
	MatchConditions  []MatchCondition
	Validations      []Validation
	AuditAnnotations []AuditAnnotation
	// Mutations are the mutations of a MutatingAdmissionPolicy or
	// MutatingPolicy; with any, every expression of the Spec is compiled
	// in the environment with the mutation types (see Mutation).
	Mutations []Mutation
}

// Program is a compiled Spec. It is immutable and safe for concurrent use.
type Program struct {
	opts      Options
	dialect   Dialect
	hasParams bool

	variables        []compiledVariable
	matchConditions  []compiledCondition
	validations      []compiledValidation
	auditAnnotations []compiledAnnotation
	mutations        []compiledMutation
	generations      []*compiledExpr
}

type compiledVariable struct {
	name string
	expr *compiledExpr
}

type compiledCondition struct {
	name string
	expr *compiledExpr
}

type compiledValidation struct {
	expr              *compiledExpr
	message           string
	messageExpression *compiledExpr
	reason            string
}

type compiledAnnotation struct {
	key  string
	expr *compiledExpr
}

// Compile type-checks and plans every expression of s. The error, a
// *CompileError, lists every problem with its field and position.
func (c *Compiler) Compile(s Spec) (*Program, error) {
	if s.Dialect != Kubernetes && s.Dialect != Kyverno {
		return nil, fmt.Errorf("unknown dialect %v", s.Dialect)
	}
	hasParams := s.HasParams && s.Dialect == Kubernetes
	generator := len(s.Generations) > 0
	if generator && s.Dialect != Kyverno {
		return nil, fmt.Errorf("generate expressions need the Kyverno dialect")
	}
	entry, err := c.env(envKey{dialect: s.Dialect, hasParams: hasParams, generator: generator, patchTypes: len(s.Mutations) > 0})
	if err != nil {
		return nil, err
	}
	cc := &compiler{c: c, env: entry.noVars, prefix: s.FieldPrefix}
	p := &Program{opts: c.opts, dialect: s.Dialect, hasParams: hasParams}
	if s.HasParams && !hasParams {
		cc.problem("paramKind", 0, 0, "params are not available to %v policies", s.Dialect)
	}

	if len(s.Variables) > 0 {
		env, mapType, err := withVariables(entry.base)
		if err != nil {
			return nil, err
		}
		cc.env = env
		seen := map[string]bool{}
		for i, v := range s.Variables {
			field := fmt.Sprintf("variables[%d]", i)
			if !identifierRE.MatchString(v.Name) {
				cc.problem(field+".name", 0, 0, "%q is not a valid CEL identifier", v.Name)
				continue
			}
			if seen[v.Name] {
				cc.problem(field+".name", 0, 0, "duplicate variable name %q", v.Name)
				continue
			}
			seen[v.Name] = true
			expr, out := cc.compile(field+".expression", v.Expression, kindAny)
			// A variable that fails to compile is still declared (as dyn),
			// so later expressions report their own problems only.
			mapType.Fields[v.Name] = apiservercel.NewDeclField(v.Name, declTypeOf(out), true, nil, nil)
			if expr != nil {
				p.variables = append(p.variables, compiledVariable{name: v.Name, expr: expr})
			}
		}
	}

	names := map[string]bool{}
	for i, m := range s.MatchConditions {
		field := fmt.Sprintf("matchConditions[%d]", i)
		if m.Name != "" {
			if names[m.Name] {
				cc.problem(field+".name", 0, 0, "duplicate match condition name %q", m.Name)
			}
			names[m.Name] = true
		}
		if expr, _ := cc.compile(field+".expression", m.Expression, kindBool); expr != nil {
			p.matchConditions = append(p.matchConditions, compiledCondition{name: m.Name, expr: expr})
		}
	}

	for i, v := range s.Validations {
		name := s.ValidationsField
		if name == "" {
			name = "validations"
		}
		field := fmt.Sprintf("%s[%d]", name, i)
		cv := compiledValidation{message: strings.TrimSpace(v.Message), reason: v.Reason}
		if strings.ContainsAny(cv.message, "\n\r") && !s.MultilineMessages {
			cc.problem(field+".message", 0, 0, "message must not contain line breaks")
		}
		cv.expr, _ = cc.compile(field+".expression", v.Expression, kindBool)
		if strings.TrimSpace(v.MessageExpression) != "" {
			cv.messageExpression, _ = cc.compile(field+".messageExpression", v.MessageExpression, kindString)
		} else if v.MessageExpression != "" {
			cc.problem(field+".messageExpression", 0, 0, "must be non-empty if specified")
		}
		p.validations = append(p.validations, cv)
	}

	for i, a := range s.AuditAnnotations {
		field := fmt.Sprintf("auditAnnotations[%d]", i)
		if a.Key == "" {
			cc.problem(field+".key", 0, 0, "key is required")
		}
		if expr, _ := cc.compile(field+".valueExpression", a.ValueExpression, kindStringOrNull); expr != nil {
			p.auditAnnotations = append(p.auditAnnotations, compiledAnnotation{key: a.Key, expr: expr})
		}
	}

	for i, g := range s.Generations {
		if expr, _ := cc.compile(fmt.Sprintf("generate[%d].expression", i), g.Expression, kindAny); expr != nil {
			p.generations = append(p.generations, expr)
		}
	}

	cc.compileMutations(p, s.Mutations)

	if len(cc.problems) > 0 {
		return nil, &CompileError{Problems: cc.problems}
	}
	return p, nil
}

// declTypeOf converts a checked output type to the DeclType of a variables
// field (the API server's conversion: scalars, lists and maps keep their
// type, anything else is dyn).
func declTypeOf(t *cel.Type) *apiservercel.DeclType {
	if t == nil {
		return apiservercel.DynType
	}
	switch t.Kind() {
	case types.AnyKind:
		return apiservercel.AnyType
	case types.BoolKind:
		return apiservercel.BoolType
	case types.BytesKind:
		return apiservercel.BytesType
	case types.DoubleKind:
		return apiservercel.DoubleType
	case types.DurationKind:
		return apiservercel.DurationType
	case types.IntKind:
		return apiservercel.IntType
	case types.NullTypeKind:
		return apiservercel.NullType
	case types.StringKind:
		return apiservercel.StringType
	case types.TimestampKind:
		return apiservercel.TimestampType
	case types.UintKind:
		return apiservercel.UintType
	}
	switch t.Kind() {
	case types.ListKind:
		return apiservercel.NewListType(declTypeOf(t.Parameters()[0]), -1)
	case types.MapKind:
		return apiservercel.NewMapType(declTypeOf(t.Parameters()[0]), declTypeOf(t.Parameters()[1]), -1)
	}
	return apiservercel.DynType
}

// Expressions returns the number of compiled expressions per section, for
// diagnostics.
func (p *Program) Expressions() (variables, matchConditions, validations, auditAnnotations int) {
	return len(p.variables), len(p.matchConditions), len(p.validations), len(p.auditAnnotations)
}
