package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/workpool"
	yamlv2 "go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// MaxDocumentBytes bounds the size of one YAML or JSON document.
const MaxDocumentBytes = 16 << 20

// Document is one decoded manifest.
type Document struct {
	// Source names the file ("-" for standard input).
	Source string
	// Index is the 1-based position of the document in its file; items
	// of a List share the index of the List.
	Index int
	// Object is the decoded document.
	Object map[string]any
	// Line is the 1-based line of Source where the document starts (for
	// an item of a List, the line of the item's first field; 0 when
	// unknown).
	Line int
	// Raw is the document's text, kept so that problems found later can
	// be located by line (FieldLine, Lines); items of a List do not keep
	// it, Item locates them instead.
	Raw []byte
	// Item locates an item of a List in the List's text; nil for a
	// document that is no List item.
	Item *ListItem

	// root is the parsed tree of Raw when decoding kept it (see
	// decodeNode), so that Lines need not parse Raw again.
	root *yamlv3.Node
}

// Lines returns the locator of fields in the document's text (Raw),
// reusing the tree decoding parsed when there is one; nil when the
// document keeps no text.
func (d Document) Lines() *Lines {
	switch {
	case d.root != nil:
		return &Lines{root: d.root, start: max(d.Line, 1)}
	case d.Raw != nil:
		return NewLines(d.Raw, d.Line)
	}
	return nil
}

// WithoutText returns d without its text (Raw, Item and the parsed
// tree), as handed on once it has been located: a sink need not hold it.
func (d Document) WithoutText() Document {
	d.Raw, d.Item, d.root = nil, nil, nil
	return d
}

// ListItem is where an item of a List is: the List document's text, the
// line of Source it starts on, and the item's path in it ("/items/2/").
type ListItem struct {
	Raw  []byte
	Line int
	Path string

	root *yamlv3.Node // the parsed tree of Raw, when decoding kept it
}

// Lines returns the locator of fields in the List's text (paths below
// Path name the item's fields), reusing the tree decoding parsed when
// there is one.
func (it *ListItem) Lines() *Lines {
	if it.root != nil {
		return &Lines{root: it.root, start: max(it.Line, 1)}
	}
	return NewLines(it.Raw, it.Line)
}

// Location describes where the document came from, for error messages:
// "SOURCE:LINE" when its line is known, else "SOURCE (document N)".
func (d Document) Location() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d", d.Source, d.Line)
	}
	return fmt.Sprintf("%s (document %d)", d.Source, d.Index)
}

// Kind returns the document's kind or "".
func (d Document) Kind() string { s, _ := d.Object["kind"].(string); return s }

// APIVersion returns the document's apiVersion or "".
func (d Document) APIVersion() string { s, _ := d.Object["apiVersion"].(string); return s }

// Name returns metadata.name or "".
func (d Document) Name() string { return MetaString(d.Object, "name") }

// MetaString returns metadata.<field> of obj when it is a string.
func MetaString(obj map[string]any, field string) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta[field].(string)
	return s
}

// ParseError reports a document that could not be decoded.
type ParseError struct {
	Source string
	Index  int
	// Line is the 1-based line of Source the problem is on (0 when unknown).
	Line int
	// Offset is the 0-based byte offset in Source of a byte the YAML
	// parser refused (invalid UTF-8, a control character), when
	// HasOffset; the parser names no line for those.
	Offset    int
	HasOffset bool
	Err       error
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Source, e.Line, e.Err)
	}
	return fmt.Sprintf("%s (document %d): %v", e.Source, e.Index, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Chunk is one document of a file, not yet decoded. Large manifest sets
// can be decoded chunk by chunk, so they never sit in memory decoded all
// at once.
type Chunk struct {
	// Source names the file ("-" for standard input).
	Source string
	// Index is the 1-based position of the document in its file.
	Index int
	// Data is the raw YAML or JSON text.
	Data []byte
	// Line is the 1-based line of Source where Data starts.
	Line int
	// Offset is the 0-based byte offset in Source where Data starts.
	Offset int
}

// Decode decodes the chunk. A List kind is expanded into its items; a
// document holding only null yields nothing. A document that is not a
// mapping or does not parse is a *ParseError.
//
// A document that is not a List keeps its text (Document.Raw).
func (c Chunk) Decode() ([]Document, error) {
	if len(c.Data) > MaxDocumentBytes {
		return nil, &ParseError{Source: c.Source, Index: c.Index, Err: fmt.Errorf("document larger than %d bytes", MaxDocumentBytes)}
	}
	obj, root, err := decodeOne(c.Data)
	return c.documents(obj, root, err)
}

// documents is the end of Decode: the documents of the chunk's decoded
// object obj (root its tree, when decoding kept it).
func (c Chunk) documents(obj map[string]any, root *yamlv3.Node, err error) ([]Document, error) {
	if err != nil {
		return nil, c.parseError(err)
	}
	if obj == nil {
		return nil, nil
	}
	d := Document{Source: c.Source, Index: c.Index, Object: obj, Line: c.Line}
	if isList(d) {
		items := expand(d, &ListItem{Raw: c.Data, Line: c.Line, Path: "/", root: root})
		locateItems(items, c.Data, c.Line)
		return items, nil
	}
	d.Raw, d.root = c.Data, root
	return []Document{d}, nil
}

// yamlLineRE finds the line a YAML parser error names ("yaml: line 3: ..."),
// counted from the start of the document.
var yamlLineRE = regexp.MustCompile(`\bline (\d+): `)

// parseError locates a decoding error in the file: the YAML parser counts
// lines from the start of the document, so its line is moved to the
// file's (and dropped from the message, which the line then precedes).
// When the parser names no line (invalid UTF-8, control characters), the
// first byte it cannot read is found and named by line and byte offset.
func (c Chunk) parseError(err error) *ParseError {
	pe := &ParseError{Source: c.Source, Index: c.Index, Line: c.Line, Err: err}
	if m := yamlLineRE.FindStringSubmatchIndex(err.Error()); m != nil && c.Line > 0 {
		n, _ := strconv.Atoi(err.Error()[m[2]:m[3]])
		pe.Line = c.Line + n - 1
		pe.Err = errors.New(err.Error()[:m[0]] + err.Error()[m[1]:])
		return pe
	}
	if off := firstBadByte(c.Data); off >= 0 {
		pe.Offset, pe.HasOffset = c.Offset+off, true
		if c.Line > 0 {
			pe.Line = c.Line + bytes.Count(c.Data[:off], []byte("\n"))
		}
		pe.Err = fmt.Errorf("%w (byte offset %d: 0x%02x)", err, pe.Offset, c.Data[off])
	}
	return pe
}

// Split cuts data into its YAML or JSON documents without decoding them,
// recording the line each starts on. Documents are separated by lines
// starting with "---" (followed by nothing but spaces or a comment); blank
// and comment-only documents are dropped.
//
// Chunks share data (they are slices of it, not copies).
func Split(source string, data []byte) ([]Chunk, error) {
	var chunks []Chunk
	start, line := 1, 0
	from, off := 0, 0 // the current document is data[from:off]
	flush := func() {
		if cur := data[from:off:off]; len(cur) > 0 && !isBlank(cur) {
			// The document starts at its first line of content: leading
			// blank and comment lines ("# Source: ..." in helm template
			// output) are dropped, so its line is that of its first field.
			startOffset := from
			for {
				i := bytes.IndexByte(cur, '\n')
				if i < 0 {
					break
				}
				if t := bytes.TrimSpace(cur[:i]); len(t) > 0 && t[0] != '#' {
					break
				}
				cur, start, startOffset = cur[i+1:], start+1, startOffset+i+1
			}
			chunks = append(chunks, Chunk{Source: source, Index: len(chunks) + 1, Data: cur, Line: start, Offset: startOffset})
		}
	}
	for off < len(data) {
		line++
		l := data[off:]
		if i := bytes.IndexByte(l, '\n'); i >= 0 {
			l = l[:i+1]
		}
		if bytes.HasPrefix(l, []byte("---")) {
			rest := bytes.TrimSpace(l[3:])
			if len(rest) > 0 && rest[0] != '#' {
				return chunks, &ParseError{Source: source, Index: len(chunks) + 1, Line: line,
					Err: fmt.Errorf("invalid YAML document separator: %q", strings.TrimSpace(string(l)))}
			}
			flush()
			off += len(l)
			from, start = off, line+1
			continue
		}
		off += len(l)
	}
	flush()
	return chunks, nil
}

// Decode splits data into YAML or JSON documents and decodes each (on
// several goroutines when there are many). Empty documents are skipped; a
// document that is not a mapping is an error. List kinds (kind: List, or
// any kind ending in "List" with an items array) are expanded into their
// items. Documents that decode are returned even when others fail.
//
// Each document keeps its text (Document.Raw) so that problems found later
// can be located by line (FieldLine).
func Decode(source string, data []byte) ([]Document, error) {
	chunks, err := Split(source, data)
	out := make([][]Document, len(chunks))
	errs := make([]error, len(chunks))
	workpool.Run(len(chunks), 0, func(i int) {
		out[i], errs[i] = chunks[i].Decode()
	})
	var docs []Document
	for _, d := range out {
		docs = append(docs, d...)
	}
	return docs, errors.Join(err, errors.Join(errs...))
}

// DecodeChunks decodes chunks in order, in parallel when there are many.
func DecodeChunks(chunks []Chunk) ([]Document, error) {
	out := make([][]Document, len(chunks))
	errs := make([]error, len(chunks))
	workpool.Run(len(chunks), 0, func(i int) { out[i], errs[i] = chunks[i].Decode() })
	var docs []Document
	for _, d := range out {
		docs = append(docs, d...)
	}
	return docs, errors.Join(errs...)
}

func isBlank(raw []byte) bool {
	for line := range bytes.Lines(raw) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		return false
	}
	return true
}

// decodeOne decodes one document into its JSON value; root is its
// yaml.v3 node tree when the one-parse path (decodeNode) took it, else nil.
func decodeOne(raw []byte) (obj map[string]any, root *yamlv3.Node, err error) {
	if obj, ok := decodeJSON(raw); ok {
		return obj, nil, nil
	}
	return decodeYAML(raw, parseNode(raw))
}

// decodeJSON is the JSON fast path of decodeOne: ok is false when raw is
// no JSON object (YAML is a superset of JSON, so the YAML paths decide).
func decodeJSON(raw []byte) (obj map[string]any, ok bool) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		if err := json.Unmarshal(t, &obj); err == nil {
			return obj, true
		}
	}
	return nil, false
}

// decodeYAML is the rest of decodeOne, given raw's tree as parseNode
// parsed it (nil when it declined): the one-parse path (decodeNode) when
// it takes the tree, else yaml.v2.
func decodeYAML(raw []byte, root *yamlv3.Node) (obj map[string]any, _ *yamlv3.Node, err error) {
	if root != nil {
		if v, ok := nodeValue(root, 0); ok {
			return v.(map[string]any), root, nil
		}
	}
	obj, err = decodeV2(raw)
	return obj, nil, err
}

// decodeV2 is the reference decoding: yaml.v2 (YAML 1.1, as
// sigs.k8s.io/yaml reads it) converted to JSON values.
func decodeV2(raw []byte) (map[string]any, error) {
	var y any
	if err := yamlv2.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if v, ok := toJSONValue(y); ok {
		if v == nil {
			return nil, nil
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("document is a %s, want a mapping with apiVersion and kind", typeName(v))
		}
		return obj, nil
	}
	// Something JSON cannot hold directly (NaN, odd key types): take the
	// slow path through sigs.k8s.io/yaml's JSON conversion, which decides.
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("document is a %s, want a mapping with apiVersion and kind", typeName(v))
	}
	return obj, nil
}

// toJSONValue converts a yaml.v2 value into what encoding/json would
// decode from sigs.k8s.io/yaml.YAMLToJSON's output: maps with string keys,
// every number as float64. It reports false for anything it does not
// convert exactly the same way, so the caller can take the slow path.
func toJSONValue(v any) (any, bool) {
	switch t := v.(type) {
	case nil, string, bool:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, false
		}
		return t, true
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			cx, ok := toJSONValue(x)
			if !ok {
				return nil, false
			}
			out[ks] = cx
		}
		return out, true
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			cx, ok := toJSONValue(x)
			if !ok {
				return nil, false
			}
			out[i] = cx
		}
		return out, true
	}
	return nil, false
}

func typeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// locateItems sets the line of each item of a List, items of nested
// Lists included, to the line of the item's first field in raw, the
// List's text, which starts on line start of its file. Items whose
// place cannot be found (text that yaml.v3 does not parse) keep the
// List's line.
func locateItems(items []Document, raw []byte, start int) {
	paths := make([]string, len(items))
	for i, it := range items {
		if it.Item == nil {
			return
		}
		paths[i] = ItemPath(it.Item.Path)
	}
	if len(items) == 0 {
		return
	}
	var lines []int
	if items[0].Item.root != nil {
		lines = items[0].Item.Lines().FieldLines(paths)
	} else {
		lines = FieldLines(raw, start, paths)
	}
	for i, l := range lines {
		if l > 0 {
			items[i].Line = l
		}
	}
}

// ItemPath turns the slash path of a List item ("/items/2/items/0/") into
// the dotted path FieldLines and FieldError use ("items[2].items[0]").
func ItemPath(slash string) string {
	var b strings.Builder
	for _, seg := range strings.Split(strings.Trim(slash, "/"), "/") {
		switch {
		case seg == "":
		case seg[0] >= '0' && seg[0] <= '9':
			b.WriteString("[" + seg + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		}
	}
	return b.String()
}

func isList(d Document) bool {
	_, ok := d.Object["items"].([]any)
	return ok && strings.HasSuffix(d.Kind(), "List")
}

// expand returns the items of a List document (recursively), each
// located in the List's text when at is set (at.Path is the path of d).
func expand(d Document, at *ListItem) []Document {
	items, ok := d.Object["items"].([]any)
	if !ok || !strings.HasSuffix(d.Kind(), "List") {
		return []Document{d}
	}
	out := make([]Document, 0, len(items))
	for i, it := range items {
		if m, ok := it.(map[string]any); ok {
			item := Document{Source: d.Source, Index: d.Index, Object: m, Line: d.Line}
			var in *ListItem
			if at != nil {
				in = &ListItem{Raw: at.Raw, Line: at.Line, Path: at.Path + "items/" + strconv.Itoa(i) + "/", root: at.root}
				item.Item = in
			}
			out = append(out, expand(item, in)...)
		}
	}
	return out
}

// ReadPaths reads and decodes every manifest under paths (see ReadChunks).
// Parse errors are collected; documents that decoded are still returned.
func ReadPaths(paths []string, stdin io.Reader) ([]Document, error) {
	chunks, err := ReadChunks(paths, stdin)
	docs, derr := DecodeChunks(chunks)
	return docs, errors.Join(err, derr)
}

// ReadChunks reads every manifest under paths without decoding it: files,
// directories (walked recursively for .yaml, .yml and .json files,
// skipping hidden directories) and "-" for stdin. Files are read in
// lexical order.
func ReadChunks(paths []string, stdin io.Reader) ([]Chunk, error) {
	var chunks []Chunk
	var errs []error
	add := func(source string, data []byte) {
		c, err := Split(source, data)
		chunks = append(chunks, c...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(io.LimitReader(stdin, 1<<30))
			if err != nil {
				errs = append(errs, fmt.Errorf("read stdin: %w", err))
				continue
			}
			add("-", data)
			continue
		}
		files, err := ListFiles(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", f, pathErr(err)))
				continue
			}
			add(f, data)
		}
	}
	return chunks, errors.Join(errs...)
}

// ListFiles returns path itself when it is a file, or the manifest files
// (.yaml, .yml, .json) below it when it is a directory, sorted.
func ListFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, pathErr(err))
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", path, err)
	}
	sort.Strings(files)
	return files, nil
}

// pathErr drops the operation and path of an *fs.PathError, which the
// caller's message already names ("read x: stat x: ..." stutters).
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
