package cel

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/ext"

	"k8s.io/apimachinery/pkg/util/version"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
)

// Dialect selects the variables and libraries an expression sees.
type Dialect int

const (
	// Kubernetes is the environment of ValidatingAdmissionPolicy (and of
	// Kyverno ClusterPolicy `validate.cel` rules, which Kyverno evaluates
	// with the API server's admission machinery): object, oldObject,
	// request, namespaceObject, variables, authorizer,
	// authorizer.requestResource and, when Spec.HasParams, params.
	Kubernetes Dialect = iota
	// Kyverno is the environment of policies.kyverno.io ValidatingPolicy:
	// object, oldObject, request, namespaceObject, variables, plus
	// Kyverno's libraries (resource, image, globalContext,
	// parseServiceAccount, time.*, image references) and the cel-go
	// extensions Kyverno adds (cel.bind, base64, math). Like Kyverno it
	// declares neither params nor authorizer.
	Kyverno
)

// String implements fmt.Stringer.
func (d Dialect) String() string {
	switch d {
	case Kubernetes:
		return "Kubernetes"
	case Kyverno:
		return "Kyverno"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// DefaultCompatibilityVersion is the Kubernetes version whose CEL
// environment is used by default; it matches k8s.io/apiserver v0.37.
var DefaultCompatibilityVersion = version.MajorMinor(1, 37)

// Options configures a Compiler. The zero value gives the API server's
// settings.
type Options struct {
	// CompatibilityVersion selects the Kubernetes CEL environment
	// (libraries introduced up to that version). Default
	// DefaultCompatibilityVersion.
	CompatibilityVersion *version.Version
	// NewExpressions compiles against the API server's NewExpressions
	// environment (what it accepts when a policy is created) instead of
	// StoredExpressions (what it uses to evaluate stored policies, which
	// also admits every library of later versions). Default false.
	NewExpressions bool
	// PerCallLimit is the runtime cost limit of one expression evaluation.
	// Default celconfig.PerCallLimit (1,000,000). Expressions whose
	// estimated minimum cost already exceeds it are rejected at compile
	// time.
	PerCallLimit uint64
	// RuntimeBudget is the total cost budget of one Validate call
	// (validations, message expressions, audit annotations and the
	// variables they evaluate). Default celconfig.RuntimeCELCostBudget.
	RuntimeBudget int64
	// MatchConditionsBudget is the total cost budget of one Match call.
	// Default celconfig.RuntimeCELCostBudgetMatchConditions.
	MatchConditionsBudget int64
	// Now is the clock of Kyverno's time.now(). Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.CompatibilityVersion == nil {
		o.CompatibilityVersion = DefaultCompatibilityVersion
	}
	if o.PerCallLimit == 0 {
		o.PerCallLimit = celconfig.PerCallLimit
	}
	if o.RuntimeBudget == 0 {
		o.RuntimeBudget = celconfig.RuntimeCELCostBudget
	}
	if o.MatchConditionsBudget == 0 {
		o.MatchConditionsBudget = celconfig.RuntimeCELCostBudgetMatchConditions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Compiler compiles policy expressions. It is safe for concurrent use; the
// CEL environments are built on first use and then shared.
type Compiler struct {
	opts Options

	mu   sync.Mutex
	envs map[envKey]*envEntry
}

type envKey struct {
	dialect   Dialect
	hasParams bool
	// patchTypes adds the mutation types (Object, JSONPatch) and the
	// jsonpatch library, as the API server does for mutation expressions.
	patchTypes bool
	// generator declares Kyverno's generator library (GeneratingPolicy).
	generator bool
}

type envEntry struct {
	once sync.Once
	// base has every variable but `variables`.
	base *cel.Env
	// noVars is base with an empty `variables` object.
	noVars *cel.Env
	err    error
}

// NewCompiler returns a Compiler. It fails only for an unusable
// compatibility version.
func NewCompiler(opts Options) (*Compiler, error) {
	opts = opts.withDefaults()
	if len(opts.CompatibilityVersion.Components()) < 2 {
		return nil, fmt.Errorf("compatibility version %s must have a major and a minor component", opts.CompatibilityVersion)
	}
	return &Compiler{opts: opts, envs: map[envKey]*envEntry{}}, nil
}

const variablesTypeName = "kubernetes.variables"

func (c *Compiler) env(key envKey) (*envEntry, error) {
	c.mu.Lock()
	e, ok := c.envs[key]
	if !ok {
		e = &envEntry{}
		c.envs[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		e.base, e.err = c.buildEnv(key)
		if e.err == nil {
			e.noVars, _, e.err = withVariables(e.base)
		}
	})
	return e, e.err
}

func (c *Compiler) buildEnv(key envKey) (*cel.Env, error) {
	requestType := requestDeclType()
	namespaceType := namespaceDeclType()
	opts := []cel.EnvOption{
		cel.Variable(varObject, cel.DynType),
		cel.Variable(varOldObject, cel.DynType),
		cel.Variable(varNamespaceObject, namespaceType.CelType()),
		cel.Variable(varRequest, requestType.CelType()),
	}
	declTypes := []*apiservercel.DeclType{namespaceType, requestType}
	switch key.dialect {
	case Kubernetes:
		opts = append(opts,
			cel.Variable(varAuthorizer, library.AuthorizerType),
			cel.Variable(varRequestAuthz, library.ResourceCheckType))
		if key.hasParams {
			opts = append(opts, cel.Variable(varParams, cel.DynType))
		}
	case Kyverno:
		opts = append(opts, ext.Bindings(), ext.Encoders(), ext.Math())
		opts = append(opts, kyvernoLibrary(c.opts.Now)...)
		if key.generator {
			opts = append(opts, generatorLibrary()...)
		}
		declTypes = append(declTypes, serviceAccountDeclType)
	default:
		return nil, fmt.Errorf("unknown dialect %v", key.dialect)
	}
	envSet, err := environment.MustBaseEnvSet(c.opts.CompatibilityVersion).Extend(
		environment.VersionedOptions{
			IntroducedVersion: version.MajorMinor(1, 0),
			EnvOptions:        opts,
			DeclTypes:         declTypes,
		},
		environment.StrictCostOpt,
	)
	if err != nil {
		return nil, fmt.Errorf("building the %v CEL environment: %w", key.dialect, err)
	}
	if key.patchTypes {
		envSet, err = envSet.Extend(patchTypesOptions)
		if err != nil {
			return nil, fmt.Errorf("building the %v CEL environment with mutation types: %w", key.dialect, err)
		}
	}
	if c.opts.NewExpressions {
		return envSet.NewExpressionsEnv(), nil
	}
	return envSet.StoredExpressionsEnv(), nil
}

// withVariables extends env with a fresh, empty `variables` object type.
// Fields are added to the returned DeclType as variables compile, so each
// variable sees only those declared before it.
func withVariables(env *cel.Env) (*cel.Env, *apiservercel.DeclType, error) {
	mapType := apiservercel.NewObjectType(variablesTypeName, map[string]*apiservercel.DeclField{})
	provider := apiservercel.NewDeclTypeProvider(mapType)
	provider.SetRecognizeKeywordAsFieldName(true)
	popts, err := provider.EnvOptions(env.CELTypeProvider())
	if err != nil {
		return nil, nil, err
	}
	out, err := env.Extend(append(popts, cel.Variable(varVariables, mapType.CelType()))...)
	if err != nil {
		return nil, nil, err
	}
	return out, mapType, nil
}

// Problem is one compile-time problem of a Spec.
type Problem struct {
	// Field locates the expression: "validations[2].expression",
	// prefixed with Spec.FieldPrefix.
	Field string
	// Line and Column locate the problem in the expression (1-based);
	// zero when the problem concerns the whole expression.
	Line, Column int
	// Message describes the problem.
	Message string
}

// String renders "field: line:column: message".
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s: %d:%d: %s", p.Field, p.Line, p.Column, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Field, p.Message)
}

// CompileError lists every problem found in a Spec.
type CompileError struct {
	Problems []Problem
}

// Error implements error.
func (e *CompileError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

var identifierRE = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

type exprKind int

const (
	kindBool exprKind = iota
	kindString
	kindStringOrNull
	kindAny
	kindJSONPatchList
	kindApplyConfiguration
)

type compiledExpr struct {
	field      string
	expression string
	program    cel.Program
	// estimate is the compile-time cost estimate.
	estimate checker.CostEstimate
	// usesParams and usesAuthorizer record references, to explain errors
	// caused by a missing param or authorizer.
	usesParams, usesAuthorizer bool
}

type compiler struct {
	c        *Compiler
	env      *cel.Env
	prefix   string
	problems []Problem
}

func (cc *compiler) problem(field string, line, col int, format string, args ...any) {
	cc.problems = append(cc.problems, Problem{Field: cc.prefix + field, Line: line, Column: col, Message: fmt.Sprintf(format, args...)})
}

// compile compiles one expression; it returns nil after recording problems.
func (cc *compiler) compile(field, expression string, kind exprKind) (*compiledExpr, *cel.Type) {
	if strings.TrimSpace(expression) == "" {
		cc.problem(field, 0, 0, "expression is empty")
		return nil, nil
	}
	ast, iss := cc.env.Compile(expression)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			cc.problem(field, e.Location.Line(), e.Location.Column()+1, "%s", e.Message)
		}
		return nil, nil
	}
	out := ast.OutputType()
	var want []*cel.Type
	switch kind {
	case kindBool:
		want = []*cel.Type{cel.BoolType}
	case kindString:
		want = []*cel.Type{cel.StringType}
	case kindStringOrNull:
		want = []*cel.Type{cel.StringType, cel.NullType}
	case kindJSONPatchList:
		want = []*cel.Type{cel.ListType(jsonPatchType)}
	case kindApplyConfiguration:
		want = []*cel.Type{applyConfigurationType}
	}
	if len(want) > 0 {
		ok := false
		for _, t := range want {
			if out.IsExactType(t) {
				ok = true
			}
		}
		if !ok {
			names := make([]string, len(want))
			for i, t := range want {
				names[i] = t.String()
			}
			cc.problem(field, 0, 0, "must evaluate to %s but got %v", strings.Join(names, " or "), out)
			return nil, nil
		}
	}
	estimate, err := cc.env.EstimateCost(ast, &library.CostEstimator{SizeEstimator: &sizeEstimator{}})
	if err != nil {
		cc.problem(field, 0, 0, "estimating cost: %v", err)
		return nil, nil
	}
	if limit := cc.c.opts.PerCallLimit; estimate.Min > limit {
		cc.problem(field, 0, 0, "estimated cost exceeds the per-expression cost limit by factor of %s: every evaluation would stop with \"cost limit exceeded\"", exceedFactor(estimate.Min, limit))
		return nil, nil
	}
	progOpts := []cel.ProgramOption{
		cel.InterruptCheckFrequency(celconfig.CheckFrequency),
		cel.CostLimit(cc.c.opts.PerCallLimit),
	}
	// After cost estimation: see orvalue.go.
	if lenientOrValue(ast) {
		progOpts = append(progOpts, orValueDecorator())
	}
	prog, err := cc.env.Program(ast, progOpts...)
	if err != nil {
		cc.problem(field, 0, 0, "program instantiation failed: %v", err)
		return nil, nil
	}
	x := &compiledExpr{field: cc.prefix + field, expression: expression, program: prog, estimate: estimate}
	for _, r := range ast.NativeRep().ReferenceMap() {
		switch r.Name {
		case varParams:
			x.usesParams = true
		case varAuthorizer, varRequestAuthz:
			x.usesAuthorizer = true
		}
	}
	return x, out
}

func exceedFactor(cost, limit uint64) string {
	f := float64(cost) / float64(limit)
	switch {
	case f > 100:
		return "more than 100x"
	case f < 1.5:
		return fmt.Sprintf("%fx", f)
	default:
		return fmt.Sprintf("%.1fx", f)
	}
}

// sizeEstimator leaves every size unknown except literals; the estimate's
// minimum is then a guaranteed lower bound of the runtime cost.
type sizeEstimator struct{}

func (sizeEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }
func (sizeEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
