package files

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/portcullis/portcullis/internal/errlist"
	"github.com/portcullis/portcullis/internal/lang/cel"
	"github.com/portcullis/portcullis/internal/manifest"
)

// Stream is a sequence of items to evaluate, each holding zero or more
// documents (a YAML document may be a List of several).
type Stream interface {
	// Len returns the number of items.
	Len() int
	// Decode returns the documents of item i. Evaluator.Run calls it once
	// per item, from several goroutines at once.
	Decode(i int) ([]manifest.Document, error)
}

// Chunks is a Stream of undecoded documents, as Read returns them. Each
// chunk is decoded by the worker that evaluates it and its raw text is
// dropped once decoded, so a stream of Chunks can be run only once.
type Chunks []manifest.Chunk

// Len implements Stream.
func (c Chunks) Len() int { return len(c) }

// Decode implements Stream: it decodes chunk i (a List kind yields its
// items) and releases the chunk's raw text, which a single document keeps
// (Document.Raw) until it is evaluated, so that schema problems can be
// located by line. Errors are *manifest.ParseError.
func (c Chunks) Decode(i int) ([]manifest.Document, error) {
	docs, err := c[i].Decode()
	c[i].Data = nil // decoded: let the raw text go
	return docs, err
}

// DecodeAll decodes every chunk (in parallel when there are many) without
// releasing the raw text. Documents that decode are returned even when
// others fail; the errors are *manifest.ParseError values, joined.
func (c Chunks) DecodeAll() ([]manifest.Document, error) {
	return manifest.DecodeChunks(c)
}

// Documents is a Stream of decoded documents, one item each.
type Documents []manifest.Document

// Len implements Stream.
func (d Documents) Len() int { return len(d) }

// Decode implements Stream: item i is document i.
func (d Documents) Decode(i int) ([]manifest.Document, error) { return d[i : i+1 : i+1], nil }

var (
	_ Stream = Chunks(nil)
	_ Stream = Documents(nil)
)

// Read reads every manifest under paths without decoding it: files,
// directories (walked recursively for .yaml, .yml and .json files, hidden
// directories skipped, lexical order) and "-" for stdin (nil stdin reads
// as empty). Unreadable files and unsplittable YAML are reported, joined;
// the chunks read are returned with them.
func Read(paths []string, stdin io.Reader) (Chunks, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	chunks, err := manifest.ReadChunks(paths, stdin)
	return Chunks(chunks), err
}

// Options tune ReadTree.
type Options struct {
	// Exclude are gitignore-like patterns matched against paths relative
	// to each directory read (see manifest.Ignore); the directory's
	// .portcullisignore adds its own.
	Exclude []string
	// SkipCharts leaves out the templates of Helm charts.
	SkipCharts bool
}

// ReadTree is Read for a scan of real repositories: directories are read
// without what o.Exclude and their .portcullisignore exclude, and (with
// o.SkipCharts) without the templates of Helm charts, which are returned
// as skipped files.
func ReadTree(paths []string, stdin io.Reader, o Options) (Chunks, []manifest.Skipped, error) {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	chunks, skipped, err := manifest.ReadTree(paths, stdin, manifest.TreeOptions{Exclude: o.Exclude, SkipCharts: o.SkipCharts})
	return Chunks(chunks), skipped, err
}

// NotResource says why doc is not a Kubernetes resource to evaluate, or
// returns "" when it is one: a document without a kind (a Helm values
// file, Chart.yaml, a CI workflow), a kustomize configuration, a Kyverno
// CLI file (test, values, user info).
func NotResource(doc manifest.Document) string {
	group, _, _ := strings.Cut(doc.APIVersion(), "/")
	if !strings.Contains(doc.APIVersion(), "/") {
		group = ""
	}
	switch {
	case doc.Kind() == "" && filepath.Base(doc.Source) == "Chart.yaml":
		return "Helm chart metadata (Chart.yaml), not a resource"
	case group == "kustomize.config.k8s.io" || isKustomization(doc.Source) && doc.Kind() == "":
		return "kustomize configuration, not a resource (render it: kustomize build DIR | portcullis scan -)"
	case group == "cli.kyverno.io":
		return "Kyverno CLI file (" + doc.Kind() + "), not a resource"
	case doc.Kind() == "":
		return "no kind: not a Kubernetes resource"
	}
	return ""
}

func isKustomization(source string) bool {
	switch filepath.Base(source) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// Resources returns a store answering CEL lookups (resource.Get/List,
// params of bindings and paramKind rules) from extra, then the documents.
// Documents without a kind are left out: they are no resource, and
// evaluating them reports that.
func Resources(docs []manifest.Document, extra ...map[string]any) (cel.ResourceStore, error) {
	objs := make([]map[string]any, 0, len(extra)+len(docs))
	objs = append(objs, extra...)
	for _, d := range docs {
		if d.Kind() != "" {
			objs = append(objs, d.Object)
		}
	}
	store, err := cel.NewMemoryResources(objs...)
	if err != nil {
		return nil, fmt.Errorf("resources for CEL lookups: %w", err)
	}
	return store, nil
}

// Namespaces returns the Namespace documents among docs by name; when a
// name repeats, the last document wins (as when the manifests are applied
// in order).
func Namespaces(docs []manifest.Document) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, d := range docs {
		if d.Kind() == "Namespace" && d.Name() != "" {
			out[d.Name()] = d.Object
		}
	}
	return out
}

// Error is the failure of one item of a stream: its documents could not
// be decoded (Err is a *manifest.ParseError, which names the document), or
// one of them could not be evaluated (Location names it).
type Error struct {
	// Item is the item's index in the stream.
	Item int
	// Location is "SOURCE:LINE" of the document that could not be
	// evaluated; empty for decode errors.
	Location string
	// Err is the problem.
	Err error
}

func (e *Error) Error() string {
	if e.Location == "" {
		return e.Err.Error()
	}
	return e.Location + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Errors are the failed items of a stream, in stream order.
type Errors = errlist.List[*Error]
