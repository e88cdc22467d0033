package jmespath

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	gojmespath "github.com/kyverno/go-jmespath"
)

const (
	defaultCacheSize      = 4096
	defaultRegexCacheSize = 1024
	defaultRegistry       = "docker.io"
)

// Interpreter evaluates JMESPath expressions with Kyverno's custom functions.
// Safe for concurrent use.
type Interpreter struct {
	clock    func() time.Time
	registry string
	caller   *gojmespath.FunctionCaller
	opt      gojmespath.InterpreterOption
	infos    []FunctionInfo
	maxCost  int64

	cacheSize int
	mu        sync.RWMutex
	cache     map[string]*Query

	regexMu sync.RWMutex
	regexes map[string]*regexp.Regexp
}

// Query is a compiled JMESPath expression bound to the Interpreter that
// compiled it. Safe for concurrent use.
type Query struct {
	expr string
	ast  gojmespath.ASTNode
	opt  gojmespath.InterpreterOption
	// bounded is true when the expression has cost checkpoints to place
	// (projections, filters, flattens, multi-selects, function calls);
	// a plain path runs as is.
	bounded bool
	maxCost int64
}

// Option configures an Interpreter.
type Option func(*Interpreter)

// WithClock sets the clock used by time_now, time_now_utc and by time_since
// when its end argument is empty. The default is time.Now. A nil clock is
// ignored.
func WithClock(clock func() time.Time) Option {
	return func(i *Interpreter) {
		if clock != nil {
			i.clock = clock
		}
	}
}

// WithDefaultRegistry sets the registry image_normalize prepends to image
// references without one. The default is "docker.io", as in Kyverno. An
// empty value is ignored.
func WithDefaultRegistry(registry string) Option {
	return func(i *Interpreter) {
		if registry != "" {
			i.registry = registry
		}
	}
}

// WithCacheSize bounds the number of compiled expressions kept by
// Interpreter.Search (default 4096). Values below 1 disable caching.
func WithCacheSize(n int) Option {
	return func(i *Interpreter) {
		i.cacheSize = n
	}
}

// New returns an Interpreter with every Kyverno custom function registered
// on top of the standard JMESPath builtins. Options: WithClock (default
// time.Now), WithDefaultRegistry (default "docker.io"), WithCacheSize
// (default 4096), WithMaxCost (default DefaultMaxCost).
func New(opts ...Option) *Interpreter {
	i := &Interpreter{
		maxCost:   DefaultMaxCost,
		clock:     time.Now,
		registry:  defaultRegistry,
		cacheSize: defaultCacheSize,
		cache:     map[string]*Query{},
		regexes:   map[string]*regexp.Regexp{},
	}
	for _, o := range opts {
		if o != nil {
			o(i)
		}
	}
	i.caller = gojmespath.NewFunctionCaller()
	specs := i.functionSpecs()
	i.infos = make([]FunctionInfo, 0, len(specs))
	for _, s := range specs {
		i.caller.Register(s.entry())
		if !s.hidden {
			i.infos = append(i.infos, s.info())
		}
	}
	i.caller.Register(costEntry())
	sort.Slice(i.infos, func(a, b int) bool { return i.infos[a].Name < i.infos[b].Name })
	i.opt = gojmespath.WithFunctionCaller(i.caller)
	return i
}

// Compile parses expr once. Syntax errors are returned wrapped with the
// expression text; the underlying error is the fork's SyntaxError.
func (i *Interpreter) Compile(expr string) (*Query, error) {
	ast, err := compileSafe(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid JMESPath expression %q: %w", expr, err)
	}
	_, bounded := instrument(ast, nil)
	return &Query{expr: expr, ast: ast, opt: i.opt, bounded: bounded, maxCost: i.maxCost}, nil
}

func compileSafe(expr string) (ast gojmespath.ASTNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			ast, err = gojmespath.ASTNode{}, fmt.Errorf("parser panic: %v", r)
		}
	}()
	return gojmespath.NewParser().Parse(expr)
}

// Expression returns the source text of the query.
func (q *Query) Expression() string { return q.expr }

// Search runs a compiled query on data. Errors are returned as produced by
// the evaluation: the fork's NotFoundError for a missing key (see the package
// documentation and IsNotFound), "JMESPath function '<name>': ..." errors
// from custom functions, and the library's own errors for builtins. A panic
// inside the library is recovered and returned as an error. The
// evaluation is bounded by the interpreter's cost budget (WithMaxCost).
func (q *Query) Search(data any) (result any, err error) {
	return q.SearchContext(context.Background(), data)
}

// SearchContext is Search bounded by ctx as well: like CEL's cost limit,
// the evaluation checks its budget and ctx at every projected, filtered
// or flattened element and every function call and multi-select, and
// fails with an error wrapping ErrCostExceeded or ctx's error instead of
// running on past the request's deadline.
func (q *Query) SearchContext(ctx context.Context, data any) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("JMESPath evaluation of %q panicked: %v", q.expr, r)
		}
	}()
	return q.search(ctx, data)
}

// search is SearchContext without its recover.
func (q *Query) search(ctx context.Context, data any) (any, error) {
	if !q.bounded {
		return gojmespath.NewInterpreter().Execute(q.ast, data, q.opt)
	}
	b := &budget{ctx: ctx, max: q.maxCost}
	ast, _ := instrument(q.ast, b)
	result, err := gojmespath.NewInterpreter().Execute(ast, data, q.opt)
	if b.err != nil {
		// Some nodes swallow their operands' errors: the budget's
		// verdict stands whatever the expression made of it.
		return nil, fmt.Errorf("JMESPath expression %q: %w", q.expr, b.err)
	}
	return result, err
}

// Search compiles expr (through a bounded cache keyed by the expression text)
// and runs it on data. Errors are those of Compile and Query.Search.
func (i *Interpreter) Search(expr string, data any) (any, error) {
	return i.SearchContext(context.Background(), expr, data)
}

// SearchContext is Search under ctx (see Query.SearchContext).
func (i *Interpreter) SearchContext(ctx context.Context, expr string, data any) (any, error) {
	q, err := i.cached(expr)
	if err != nil {
		return nil, err
	}
	return q.SearchContext(ctx, data)
}

func (i *Interpreter) cached(expr string) (*Query, error) {
	if i.cacheSize < 1 {
		return i.Compile(expr)
	}
	i.mu.RLock()
	q, ok := i.cache[expr]
	i.mu.RUnlock()
	if ok {
		return q, nil
	}
	q, err := i.Compile(expr)
	if err != nil {
		return nil, err
	}
	i.mu.Lock()
	if len(i.cache) >= i.cacheSize {
		// Evict an arbitrary entry; expressions are cheap to recompile.
		for k := range i.cache {
			delete(i.cache, k)
			break
		}
	}
	i.cache[expr] = q
	i.mu.Unlock()
	return q, nil
}

// regex returns the compiled form of pattern, memoised in a bounded
// per-interpreter cache. Compilation errors are returned as is.
func (i *Interpreter) regex(pattern string) (*regexp.Regexp, error) {
	i.regexMu.RLock()
	re, ok := i.regexes[pattern]
	i.regexMu.RUnlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	i.regexMu.Lock()
	if len(i.regexes) < defaultRegexCacheSize {
		i.regexes[pattern] = re
	}
	i.regexMu.Unlock()
	return re, nil
}

// FunctionInfo describes one registered custom function.
type FunctionInfo struct {
	// Name is the function name as used in expressions.
	Name string
	// Arguments lists the accepted JMESPath type(s) of each argument, e.g.
	// "string" or "string|number".
	Arguments []string
	// ReturnType is the JMESPath type of the result, e.g. "boolean".
	ReturnType string
	// Note is a one-line description of the behaviour.
	Note string
}

// Signature renders the function like `kyverno jp function` does, e.g.
// "add(any, any) any".
func (f FunctionInfo) Signature() string {
	return f.Name + "(" + strings.Join(f.Arguments, ", ") + ") " + f.ReturnType
}

// Functions lists every registered custom function (Kyverno's library plus
// the Portcullis extensions), sorted by name. Standard JMESPath builtins are
// not listed. The returned slice is a copy.
func (i *Interpreter) Functions() []FunctionInfo {
	out := make([]FunctionInfo, len(i.infos))
	copy(out, i.infos)
	return out
}

// IsNotFound reports whether err is (or wraps) the fork's NotFoundError,
// i.e. an object lacked a key the expression asked for.
func IsNotFound(err error) bool {
	var nf gojmespath.NotFoundError
	return errors.As(err, &nf)
}

// MissingKey returns the key named by a NotFoundError in err's chain, and
// whether there was one.
func MissingKey(err error) (string, bool) {
	var nf gojmespath.NotFoundError
	if !errors.As(err, &nf) {
		return "", false
	}
	msg := nf.Error()
	const prefix, suffix = `Unknown key "`, `" in path`
	if strings.HasPrefix(msg, prefix) && strings.HasSuffix(msg, suffix) {
		return msg[len(prefix) : len(msg)-len(suffix)], true
	}
	return msg, true
}
