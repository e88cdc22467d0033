// Package files is the source of documents read from files, directories
// and standard input, and the one loop that evaluates a stream of
// documents: `portcullis scan` and `portcullis test` both run through it.
//
// A source sits above the engine: it turns its documents into
// engine.Input values (Env, or any Inputs), runs engine.Evaluate on each
// (Evaluator.Run: in parallel, decoding on the worker, bounded memory) and
// hands every document's []engine.Result to a Sink in document order. What
// the sink does with them (a table, JSON, a test comparison) is not this
// package's concern.
package files
