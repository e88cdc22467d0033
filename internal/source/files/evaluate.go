package files

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/internal/engine"
	"github.com/portcullis/portcullis/internal/manifest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/schema"
	"github.com/portcullis/portcullis/internal/workpool"
)

// Outcome is the evaluation of one document of a stream.
type Outcome struct {
	// Item is the index of the stream item the document came from.
	Item int
	// Document is the evaluated document.
	Document manifest.Document
	// Results are the engine's results for it (nil when no rule applied),
	// or its schema problems (see Evaluator.Schema). The sink owns them.
	Results []engine.Result
	// Skipped says why the document was not evaluated: it is no resource
	// (see NotResource and Evaluator.SkipNonResources); "" when it was.
	Skipped string
	// Unvalidated is true when Evaluator.Schema has no schema for the
	// document's kind: it was evaluated without schema validation.
	Unvalidated bool
	// Line and Lines are set when Evaluator.Locate is: Line is the line of
	// the document's first field in its file (past leading comments), and
	// Lines[k] the line of the field Results[k] failed at (its Path; the
	// document's line when the path is unknown). They are computed only
	// for documents with a failure, warning or error (schema problems
	// included); otherwise Line is the document's start line and Lines is
	// nil.
	Line  int
	Lines []int
}

// Sink receives the outcome of every document that was evaluated, in
// stream order, from one goroutine at a time.
type Sink interface {
	Put(Outcome)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Outcome)

// Put implements Sink.
func (f SinkFunc) Put(o Outcome) { f(o) }

var _ Sink = SinkFunc(nil)

// ErrNoKind is the evaluation error of a document without a kind.
var ErrNoKind = errors.New("document has no kind")

// Evaluator evaluates streams of documents against one policy set. Its
// fields are read-only during Run; one Evaluator may run several streams
// at once.
type Evaluator struct {
	// Engine evaluates each document (required).
	Engine *engine.Engine
	// Set is the policy set every document is evaluated against (required).
	Set *policy.Set
	// Inputs builds each document's engine input; nil means Env{}.
	Inputs Inputs
	// Workers bounds the goroutines evaluating at once; 0 means GOMAXPROCS.
	Workers int
	// SkipNonResources delivers the documents that are not resources (see
	// NotResource) as skipped outcomes; otherwise a document without a
	// kind is an error (ErrNoKind) and the others are evaluated.
	SkipNonResources bool
	// Schema, when set, validates every document against the schema of
	// its kind first: a document with schema problems is not evaluated;
	// its outcome carries one failing result per problem (SchemaResults).
	Schema *schema.Validator
	// Locate asks for Outcome.Line and Outcome.Lines: the file lines of
	// each document and of the fields its findings name, worked out on
	// the workers (one parse of the document's text when it has one).
	Locate bool
	// Progress, when set, is called after each item is delivered with the
	// number of items delivered so far and the stream's length, from one
	// goroutine at a time.
	Progress func(done, total int)
}

// Run evaluates every document of stream and puts each outcome to sink in
// stream order, as soon as every earlier item is done. Items are decoded
// by the worker that evaluates them and each outcome is released once the
// sink has it, so memory stays bounded by the stream plus what the sink
// keeps, not by all results at once.
//
// An item that cannot be decoded or evaluated (a document without a kind,
// an input the engine refuses) puts none of its documents to the sink; the
// others still run, and Run returns every failure as Errors. When ctx is
// cancelled, the items not yet started are skipped and Run returns ctx's
// error; the sink has then received a prefix of the stream.
func (e *Evaluator) Run(ctx context.Context, stream Stream, sink Sink) error {
	n := stream.Len()
	inputs := e.Inputs
	if inputs == nil {
		inputs = Env{}
	}
	type item struct {
		done     bool
		outcomes []Outcome
		err      *Error
	}
	var (
		mu    sync.Mutex
		items = make([]item, n)
		next  int // the first item not delivered yet
		errs  Errors
	)
	workpool.Run(n, e.Workers, func(i int) {
		var it item
		if ctx.Err() == nil {
			it.outcomes, it.err = e.evaluate(ctx, stream, inputs, i)
		}
		mu.Lock()
		defer mu.Unlock()
		it.done = true
		items[i] = it
		// Deliver every finished item at the head of the stream; after
		// cancellation nothing more is delivered, so the sink holds a
		// prefix of the stream.
		for next < n && items[next].done && ctx.Err() == nil {
			cur := items[next]
			items[next] = item{done: true}
			if cur.err != nil {
				errs = append(errs, cur.err)
			}
			for _, o := range cur.outcomes {
				sink.Put(o)
			}
			next++
			if e.Progress != nil {
				e.Progress(next, n)
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// evaluate decodes item i and evaluates its documents. On failure it
// returns no outcomes.
func (e *Evaluator) evaluate(ctx context.Context, stream Stream, inputs Inputs, i int) ([]Outcome, *Error) {
	docs, err := stream.Decode(i)
	if err != nil {
		return nil, &Error{Item: i, Err: err}
	}
	out := make([]Outcome, len(docs))
	for j, d := range docs {
		// The sink gets no text: it is only needed to locate findings.
		text := d
		d = d.WithoutText()
		out[j] = Outcome{Item: i, Document: d, Line: d.Line}
		if e.SkipNonResources {
			if why := NotResource(d); why != "" {
				out[j].Skipped = why
				continue
			}
		}
		if d.Kind() == "" {
			return nil, &Error{Item: i, Location: d.Location(), Err: ErrNoKind}
		}
		var rs []engine.Result
		if e.Schema != nil {
			problems, known := e.Schema.Validate(d.Object)
			out[j].Unvalidated = !known
			if len(problems) > 0 {
				rs = SchemaResults(text, problems)
			}
		}
		if rs == nil {
			if rs, err = e.Engine.Evaluate(ctx, e.Set, inputs.Input(d)); err != nil {
				return nil, &Error{Item: i, Location: d.Location(), Err: err}
			}
		}
		out[j].Results = rs
		if e.Locate {
			out[j].Line, out[j].Lines = locate(text, rs)
		}
	}
	return out, nil
}

// locate returns the line of d's first field and of the field each
// result names, when d has a finding (see Outcome.Lines).
func locate(d manifest.Document, rs []engine.Result) (int, []int) {
	finding := false
	for _, r := range rs {
		if r.Status == engine.StatusFail || r.Status == engine.StatusWarn || r.Status == engine.StatusError {
			finding = true
			break
		}
	}
	if !finding {
		return d.Line, nil
	}
	var l *manifest.Lines
	prefix := ""
	switch {
	case d.Raw != nil:
		l = d.Lines()
	case d.Item != nil:
		// An item of a List: its fields are found below its path.
		l, prefix = d.Item.Lines(), strings.TrimSuffix(d.Item.Path, "/")
	default:
		return d.Line, nil
	}
	line := l.Line(prefix)
	lines := make([]int, len(rs))
	for k, r := range rs {
		lines[k] = line
		if r.Path != "" {
			lines[k] = l.Line(prefix + r.Path)
		}
	}
	return line, lines
}

// Schema results: a document that does not match the schema of its kind
// gets one failing result per problem, from this pseudo-policy.
const (
	// SchemaPolicy is the Policy of schema results.
	SchemaPolicy = "kubernetes-schema"
	// SchemaPolicyKind is their PolicyKind.
	SchemaPolicyKind = "Schema"
	// SchemaSeverity is their severity: the API server would refuse the
	// document, so any --fail-on but none fails on it.
	SchemaSeverity = "critical"
)

// SchemaResults turns the schema problems of doc into failing results:
// Rule names the schema (apiVersion/kind), Path the field as a JSON
// pointer, and Message the file and line of the field (found in doc.Raw
// when it is kept, in the List's text for an item of a List, else the
// document's line), the field and the problem.
func SchemaResults(doc manifest.Document, problems []manifest.FieldError) []engine.Result {
	paths := make([]string, len(problems))
	for k, p := range problems {
		paths[k] = p.Path
	}
	lines := make([]int, len(problems))
	switch {
	case doc.Raw != nil:
		lines = doc.Lines().FieldLines(paths)
	case doc.Item != nil:
		// An item of a List: its fields are below its path in the List.
		prefix := manifest.ItemPath(doc.Item.Path)
		for k, p := range paths {
			paths[k] = prefix
			if p != "" {
				paths[k] = prefix + "." + p
			}
		}
		lines = doc.Item.Lines().FieldLines(paths)
	}
	res := engine.Resource{APIVersion: doc.APIVersion(), Kind: doc.Kind(),
		Namespace: manifest.MetaString(doc.Object, "namespace"), Name: doc.Name()}
	rule := doc.APIVersion() + "/" + doc.Kind()
	if doc.APIVersion() == "" {
		rule = doc.Kind()
	}
	out := make([]engine.Result, len(problems))
	for k, p := range problems {
		line := lines[k]
		if line == 0 {
			line = doc.Line
		}
		loc := doc.Source
		if line > 0 {
			loc = fmt.Sprintf("%s:%d", doc.Source, line)
		}
		msg := p.Msg
		if p.Path != "" {
			msg = p.Path + ": " + p.Msg
		}
		out[k] = engine.Result{Policy: SchemaPolicy, PolicyKind: SchemaPolicyKind, Rule: rule,
			Resource: res, Status: engine.StatusFail, Severity: SchemaSeverity, Category: "Schema",
			Message: loc + ": " + msg, Path: pointer(p.Path)}
	}
	return out
}

// pointer turns "spec.containers[0].image" into "/spec/containers/0/image".
func pointer(path string) string {
	if path == "" {
		return ""
	}
	var b strings.Builder
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.IndexByte(part, '[')
			if i < 0 {
				b.WriteString("/" + escape(part))
				break
			}
			if i > 0 {
				b.WriteString("/" + escape(part[:i]))
			}
			j := strings.IndexByte(part[i:], ']')
			if j < 0 {
				b.WriteString("/" + escape(part[i:]))
				break
			}
			b.WriteString("/" + part[i+1:i+j])
			part = part[i+j+1:]
		}
	}
	return b.String()
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
